"""The report page in a real browser (Debian's chromium via Playwright) on result files made for the purpose
(tests/report/made_results.py): what it claims must be what the files hold.

Screenshots (desk 1440x900 and phone 390x844) go to results/screenshots/ (CI artefacts).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import made_results as made
import pytest
from storagebench.report.cells import find_results
from storagebench.report.curves import find_sweeps
from storagebench.report.html import page_data, write_report
from test_browser import ARGS, CHROMIUM, SHOTS, TIMEOUT_MS

DESK = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
TEN_STORES = ("sqlite", "duckdb", "localdir", "postgres", "mongodb", "neo4j", "hbase", "kudu", "s3", "hdfs")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("made")
    made.write(base / "three", [r for store, speed in (("sqlite", 3000), ("duckdb", 1000), ("localdir", 950))
                                        for w in ("a", "c", "e") for r in made.repeats(store, w, 3, speed)])
    made.write(base / "six", [r for store, speed in (("sqlite", 3000), ("duckdb", 1000))
                                    for r in made.repeats(store, "c", 6, speed)])
    mixed: list[dict[str, Any]] = []
    mixed += [r for w in ("a", "c") for r in made.repeats("sqlite", w, 3, 3000, spread=0.1)]
    mixed += made.repeats("duckdb", "a", 3, 1000)
    mixed += [made.result("duckdb", "c", "load", seconds=1.0, index=i, of=3) for i in (1, 2, 3)]
    mixed += [made.result("duckdb", "c", "run", seconds=0.03, ops_per_sec=33_000, index=i, of=3) for i in (1, 2, 3)]
    mixed += [made.result("localdir", "a", "load", index=1, of=3, status="aborted",
                          reason="no operation succeeded for 5 s", family="object")]
    mixed += made.repeats("localdir", "c", 3, 900, family="object")
    mixed += [r for r in made.repeats("postgres", "c", 3, 2000)]
    mixed += [made.result("postgres", "a", "load", index=i, of=3) for i in (1, 2, 3)]
    mixed += [made.result("postgres", "a", "run", index=i, of=3, status="invalid" if i == 2 else "ok",
                          reason="read returned another record" if i == 2 else "") for i in (1, 2, 3)]
    made.write(base / "mixed", mixed)
    made.rate_sweep(base / "mixed", "sqlite", capacity=3000, best=2400.0)
    made.rate_sweep(base / "mixed", "duckdb", capacity=1000, best=650.0)
    ten = [r for i, store in enumerate(TEN_STORES) for r in made.repeats(store, "c", 1, 500.0 + 100 * i)]
    for r in ten:  # as long as the graph and document workloads' own descriptions
        r["workload_description"] = "made c: " + "a description of the data model, its indexes and its mix " * 4
    made.write(base / "ten", ten)
    curves = base / "curves"  # a folder of sweeps only
    for store, per in (("sqlite", 3000.0), ("postgres", 1200.0)):
        made.rate_sweep(curves, store, capacity=per * 2, best=per * 1.5)
        made.ladder_sweep(curves, store, "clients", made.clients_steps(per))
        made.ladder_sweep(curves, store, "records",
                          made.records_steps(per / 10, memory=2**20, cold=store == "postgres"))
    return {name: write_report(base / name) for name in ("three", "six", "mixed", "ten", "curves")}


@pytest.fixture
def opened(browser: Any) -> Iterator[list[Any]]:
    pages: list[Any] = []
    yield pages
    for page in pages:
        page.close()


def _open(browser: Any, path: Path, pages: list[Any], viewport: dict[str, int] = DESK, hash_: str = "") -> Any:
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(TIMEOUT_MS)
    pages.append(page)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.resolve().as_uri() + hash_)
    page.wait_for_load_state("load")
    page.wait_for_selector(".chart svg", state="attached")
    page.errors = errors
    return page


def test_coverage_is_the_computed_one(browser: Any, runs: dict[str, Path], opened: list[Any]) -> None:
    three = _open(browser, runs["three"], opened).inner_text("#verdict")
    assert "probability 75 % (3 samples per cell)" in three and "95 %" not in three
    six = _open(browser, runs["six"], opened).inner_text("#verdict")
    assert "probability 96.9 % (6 samples per cell)" in six
    cell = _open(browser, runs["three"], opened).locator("#results-table tr[data-store=sqlite] td[data-workload=c]")
    assert "6 s · 18,000 ops · 1 client · 3 repeats (75 %)" in cell.inner_text()  # the evidence beside the figure


def test_first_screen_holds_the_verdict_and_the_combined_chart(browser: Any, runs: dict[str, Path],
                                                               opened: list[Any]) -> None:
    page = _open(browser, runs["three"], opened)
    sentences = page.locator("#verdict-sentences li")
    assert sentences.count() == 3  # update-heavy (a), read-heavy (c), scan (e)
    first = sentences.nth(0).inner_text()
    assert first.startswith("update-heavy (a): sqlite is best (score 1.0")
    assert "; next duckdb and localdir at 1.5" in first and "(tied)" in first  # 1,000 and 950 ops/s overlap
    for loc in (sentences.last, page.locator("#combined-ranking"), page.locator("#presets")):
        box = loc.bounding_box()
        assert box and box["y"] + box["height"] <= DESK["height"], loc
    rows = page.locator("#combined-ranking tbody tr")
    assert rows.count() == 3 and rows.locator("svg.score-bar").count() == 3
    assert "ops/s, p99" in rows.first.locator(".figures").inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "report-first-screen-desk.png"))
    assert page.errors == []


def test_too_short_run_is_greyed_and_not_ranked(browser: Any, runs: dict[str, Path], opened: list[Any]) -> None:
    page = _open(browser, runs["mixed"], opened)
    cell = page.locator("#results-table tr[data-store=duckdb] td[data-workload=c]")
    assert cell.get_attribute("class") == "too-short"
    assert "measured 30 ms: too short to rank" in cell.inner_text()
    ranked = page.locator("#ranking-c tbody tr").evaluate_all("rs => rs.map(r => r.dataset.rankStore)")
    assert "duckdb" not in ranked and "sqlite" in ranked
    assert "duckdb: measured 30 ms: too short to rank" in page.inner_text("#unranked-c")


def test_failures_are_in_the_banner_and_wrong_data_marks_the_store(browser: Any, runs: dict[str, Path],
                                                                 opened: list[Any]) -> None:
    page = _open(browser, runs["mixed"], opened)
    banner = page.locator("#failures")
    assert banner.bounding_box()["y"] < 200  # type: ignore[index]  # at the top
    assert "a load aborted: no operation succeeded for 5 s" in banner.locator("li[data-store=localdir]").inner_text()
    assert "a run invalid: read returned another record" in banner.locator("li[data-store=postgres]").inner_text()
    # "not measured" is kept for what was not attempted: the aborted load says what happened
    aborted = page.locator("#results-table tr[data-store=localdir] td[data-workload=a]")
    assert aborted.inner_text().startswith("load aborted")
    # the store that returned wrong data is marked on every row, its good workload c included
    assert page.locator("#results-table tr[data-store=postgres] .wrong-data").count() == 1
    assert page.locator("#ranking-c tr[data-rank-store=postgres] .wrong-data").count() == 1
    assert page.locator("#combined-ranking tr[data-unranked-store=postgres] .wrong-data").count() == 1
    assert "✗ returned wrong data" in page.inner_text("#verdict-sentences")


def test_requirement_is_uncertain_when_the_interval_spans_the_limit(browser: Any, runs: dict[str, Path],
                                                                   opened: list[Any]) -> None:
    data = page_data(find_results([runs["mixed"].parent]))
    run = next(c for c in data["cells"] if c["store"] == "sqlite" and c["workload"] == "c" and c["phase"] == "run")
    assert run["p99_low"] < run["p99_high"]
    page = _open(browser, runs["mixed"], opened)
    page.select_option("#req-workload", "c")
    limit = (run["p99_low"] + run["p99_high"]) / 2 / 1000
    page.fill("#req-p99", f"{limit:.6f}")
    page.dispatch_event("#req-p99", "input")
    text = page.inner_text("#req-uncertain")
    assert "sqlite: p99" in text and "with 1 closed-loop client" in text and "the interval spans" in text
    page.fill("#req-p99", "100000")
    page.dispatch_event("#req-p99", "input")
    assert "sqlite" in page.locator("#req-meet li").evaluate_all("ls => ls.map(l => l.dataset.meets)")
    assert "duckdb: measured 30 ms: too short to rank: cannot tell" in page.inner_text("#req-uncertain")
    page.fill("#req-ops", "1000000")  # more than any closed-loop client reached, and no rate sweep on c?
    page.dispatch_event("#req-ops", "input")
    text = page.inner_text("#req-fail") + page.inner_text("#req-uncertain")
    assert "maximum throughput" not in text
    assert "sqlite: max sustainable 2,400 ops/s at p99 <= 10 ms (rate sweep) < 1,000,000 ops/s" in text
    assert "localdir:" in text and "with 1 closed-loop client, below 1,000,000 ops/s" in text


def test_sweep_draws_latency_against_throughput_with_the_files_marker(browser: Any, runs: dict[str, Path],
                                                                     opened: list[Any]) -> None:
    page = _open(browser, runs["mixed"], opened)
    chart = page.locator(".chart[data-chart=rate]")
    assert chart.count() == 1 and chart.locator("path.line").count() == 4  # intended + service per store
    sweeps = {s["store"]: s for s in find_sweeps([runs["mixed"].parent])}
    for store in ("sqlite", "duckdb"):
        marker = chart.locator(f"g.max-sustainable[data-store={store}]")
        assert float(marker.get_attribute("data-x")) == sweeps[store]["max_sustainable_ops_per_sec"]
    assert chart.locator("line.objective").count() == 1
    assert page.locator(".chart[data-chart=pareto] circle").count() >= 2
    page.locator("#curves").screenshot(path=str(SHOTS / "report-curves-desk.png"))


def test_hdr_curves_and_one_colour_per_store(browser: Any, runs: dict[str, Path], opened: list[Any]) -> None:
    page = _open(browser, runs["mixed"], opened)
    hdr = page.locator(".chart[data-chart=hdr][data-hdr='c|read']")
    assert hdr.locator("path.line").count() == 4 and hdr.locator("path.band").count() == 4  # median + repeats' range
    colours = json.loads(page.inner_text("#report-data"))["colours"]
    assert len(set(colours.values())) == len(colours)
    seen = page.locator("svg :is(path, line, rect, circle)[data-store]").evaluate_all(
        "es => es.map(e => [e.dataset.store, (e.getAttribute('fill') || 'none') !== 'none' "
        "? e.getAttribute('fill') : e.getAttribute('stroke')])")
    assert len(seen) > 20
    for store, colour in seen:
        assert colour == colours[store], (store, colour)
    assert not {c.lower() for c in colours.values()} & {"#ff0000", "#d55e00", "#b00", "#bb0000"}  # never the alarm red


def _set(page: Any, selector: str, value: str) -> None:
    page.fill(selector, value)
    page.dispatch_event(selector, "input")


def test_changing_weights_reranks_and_lives_in_the_url(browser: Any, runs: dict[str, Path], opened: list[Any]) -> None:
    data = page_data(find_results([runs["three"].parent]))
    page = _open(browser, runs["three"], opened)
    page.click("#weights summary")
    for only in ("throughput", "p99"):
        for metric in ("throughput", "p99", "load_time", "footprint"):
            _set(page, f"#weight-metric-{metric}", "1" if metric == only else "0")
        rows = [r for r in data["ratios"] if r["workload"] == "a" and r["metric"] == only]
        ranked = page.locator("#ranking-a tbody tr").evaluate_all("rs => rs.map(r => r.dataset.rankStore)")
        assert ranked == [r["store"] for r in sorted(rows, key=lambda r: r["ratio"])]  # ties keep the score order
    assert "m.throughput=0" in page.evaluate("location.hash")
    again = _open(browser, runs["three"], opened, hash_=page.evaluate("location.hash"))
    assert again.input_value("#weight-metric-throughput") == "0" and again.input_value("#weight-metric-p99") == "1"


def test_ties_are_pairwise_not_chained(browser: Any, runs: dict[str, Path], opened: list[Any]) -> None:
    page = _open(browser, runs["three"], opened)
    rows = page.evaluate("""() => {
        const r = [{store: 'x', score: 1, low: 0.9, high: 1.1}, {store: 'y', score: 1.2, low: 1.05, high: 1.35},
                   {store: 'z', score: 1.4, low: 1.3, high: 1.5}];
        return window.storagebenchReport.rankRows(r).map(o => [o.store, o.rank, o.tiedWith]);
      }""")
    # y overlaps x and z, x and z do not overlap: z is behind x, not tied with it through y
    assert rows == [["x", 1, ["y"]], ["y", 1, ["x", "z"]], ["z", 2, ["y"]]]


def test_a_weight_below_zero_is_refused(browser: Any, runs: dict[str, Path], opened: list[Any]) -> None:
    page = _open(browser, runs["three"], opened)
    before = page.inner_text("#combined-ranking")
    page.click("#weights summary")
    page.fill("#weight-workload-a", "-1")
    page.dispatch_event("#weight-workload-a", "input")
    assert page.locator("#weight-error").is_visible() and "Refused" in page.inner_text("#weight-error")
    assert page.inner_text("#combined-ranking") == before and "-1" not in page.evaluate("location.hash")
    page.check("input[name=preset][value=scan]")
    assert page.inner_text("#combined-over").startswith("Combined score over e (weights e 0.95)")


def test_phone_scrolls_only_inside_tables(browser: Any, runs: dict[str, Path], opened: list[Any]) -> None:
    page = _open(browser, runs["mixed"], opened, PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    too_wide = page.evaluate("""() => Array.from(document.querySelectorAll('body *')).filter(e => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && r.right > innerWidth + 1 && !e.closest('.scroll');
      }).map(e => e.tagName + '#' + e.id + '.' + e.className)""")
    assert too_wide == []
    smallest = page.evaluate("Math.min(...Array.from(document.querySelectorAll('body *')).filter(e => "
                             "e.childNodes.length && e.getBoundingClientRect().width).map(e => "
                             "parseFloat(getComputedStyle(e).fontSize)))")
    assert smallest >= 10
    page.screenshot(path=str(SHOTS / "report-first-screen-phone.png"))
    page.screenshot(path=str(SHOTS / "report-full-phone.png"), full_page=True)
    assert page.errors == []


def test_ten_stores_have_ten_colours_and_the_desk_page_never_scrolls_sideways(
        browser: Any, runs: dict[str, Path], opened: list[Any]) -> None:
    page = _open(browser, runs["ten"], opened, DESK)
    colours = json.loads(page.inner_text("#report-data"))["colours"]
    assert set(colours) == set(TEN_STORES) and len({c.lower() for c in colours.values()}) == 10, colours
    assert page.evaluate("document.documentElement.scrollWidth") <= DESK["width"]
    page.screenshot(path=str(SHOTS / "report-ten-stores-desk.png"))
    assert page.errors == []


def test_a_folder_of_sweeps_draws_every_curve(browser: Any, runs: dict[str, Path], opened: list[Any]) -> None:
    page = _open(browser, runs["curves"], opened)
    for kind in ("rate", "clients", "records-ops", "records-load", "records-bytes", "records-memory", "pareto"):
        chart = page.locator(f".chart[data-chart={kind}]")
        assert chart.count() == 1 and chart.locator("svg [data-store=postgres]").count() >= 1, kind
    memory = page.locator(".chart[data-chart=records-memory]")
    assert "data = memory" in memory.inner_text() and "postgres cold" in memory.inner_text()
    # postgres: as found and cold, 3 sizes each; sqlite: as found only
    assert memory.locator("circle[data-store=postgres]").count() == 6
    assert memory.locator("circle[data-store=sqlite]").count() == 3
    clients = page.locator(".chart[data-chart=clients] circle[data-store=sqlite]")
    assert clients.count() == 3  # one point per client count
    # postgres: 1,800 ops/s at 120 bytes per record; sqlite: 4,500 at 300: both on the front
    assert page.locator(".chart[data-chart=pareto] g.pareto-front").count() == 2
    page.locator("#curves").screenshot(path=str(SHOTS / "report-sweeps-desk.png"))
    assert page.errors == []


def test_sweep_writes_its_report(tmp_path: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from storagebench.cli import main

    main(["sweep", "--stores", "sqlite", "--ladder", "clients", "--clients", "1,2", "--step-seconds", "0.5",
          "-p", "recordcount=100", "--results-dir", str(tmp_path), "--run-id", "sw"])
    report = tmp_path / "sw" / "report.html"
    assert str(report) in capsys.readouterr().out
    assert 'data-chart="clients"' in report.read_text()


def test_records_sweeps_get_a_chart_against_data_over_memory(runs: dict[str, Path]) -> None:
    """Without a browser: the page holds the chart and the figures it draws (as found and cold per size)."""
    page = runs["curves"].read_text()
    assert 'data-chart="records-memory"' in page and "throughput vs data size ÷ memory" in page
    (chart,) = page_data([], made_sweeps(runs["curves"].parent))["sweeps"]["records"]
    postgres = chart["stores"]["postgres"]["points"]
    assert [p["data_to_memory"] for p in postgres] == pytest.approx([n * 120 / 2**20 for n in (1000, 10_000, 100_000)])
    assert all(p["cold_ops"] < p["ops"] and p["memory_what"] == "engine memory cap" for p in postgres)
    assert all(p["cold_ops"] is None for p in chart["stores"]["sqlite"]["points"])


def made_sweeps(folder: Path) -> list[dict[str, Any]]:
    from storagebench.report.curves import find_sweeps

    return find_sweeps([folder])
