"""The published site in a real browser: the history page of three nights made for the purpose (n2 with a
planted regression), its dates and commits on the x axis, a click from a point to that night's report,
filters in the URL, no sideways scroll on a phone; one plotly.js on the whole site.
Screenshots go to results/screenshots/ (CI artefacts)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_browser import ROOT, SHOTS, TIMEOUT_MS, browser  # noqa: F401  (the module's browser fixture)

sys.path.insert(0, str(ROOT / "tests"))
import synthetic_nights as sn

COMMIT_URL = "https://example.org/storagebench/commit/{commit}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from storagebench.cli import main

    base = tmp_path_factory.mktemp("site")
    template = sn.template(base)
    nights = [sn.night(template, base / "nights", "n1", 1), sn.night(template, base / "nights", "n2", 2,
                                                                       slower={"sqlite": 1.8}),
              sn.night(template, base / "nights", "n3", 3)]
    assert main(["publish", *map(str, nights), "-o", str(base / "site"), "--commit-url", COMMIT_URL]) == 0
    return base / "site"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811
    opened = browser.new_page(viewport={"width": 1300, "height": 1000})
    opened.set_default_timeout(TIMEOUT_MS)
    opened.errors = []
    opened.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda e: opened.errors.append(str(e)))
    yield opened
    opened.close()


def _history(site: Path) -> Path:
    return next(site.glob("history-*.html"))


def test_site_carries_plotly_once(site: Path) -> None:
    from plotly.offline import get_plotlyjs

    signature = get_plotlyjs()[:300]
    carriers = [p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()
                and p.suffix in (".html", ".js") and signature in p.read_text(errors="replace")]
    assert carriers == ["plotly.min.js"]
    assert _history(site).stat().st_size < 200_000  # summaries and SVG, no chart library


def test_history_axis_has_dates_and_commits_and_a_point_opens_its_night(page: Any, site: Path) -> None:
    page.goto(_history(site).resolve().as_uri())
    assert page.locator("meta[name=viewport]").count() == 1
    chart = page.locator("figure[data-workload=a][data-metric=throughput]")
    assert "ops/s" in chart.locator("figcaption").inner_text()
    assert all(t.endswith(" ops/s") for t in chart.locator(".axis.y text").all_text_contents())
    # a night starts when its first result did (results may straddle a minute)
    nights = site.parent / "nights"
    started = {n: min(json.loads(p.read_text())["started_at"] for p in (nights / n / "run").glob("*.json"))
               for n in ("n1", "n2", "n3")}
    dates = chart.locator(".axis.x text.date").all_text_contents()
    assert dates == [started[n][5:16].replace("T", " ") for n in ("n1", "n2", "n3")]
    commits = chart.locator(".axis.x a text.commit").all_text_contents()
    assert commits == [f"{day:02d}c0ffe" for day in (1, 2, 3)]
    first_commit = "01" + "c0ffee" * 6 + "00"
    assert chart.locator(".axis.x a").first.get_attribute("href") == COMMIT_URL.format(commit=first_commit)
    # the planted regression is ringed on n2, and the tooltip says why
    ring = chart.locator("g.store[data-store=sqlite] .point.regression")
    assert ring.count() == 1 and "vs night n1: regression" in ring.locator("title").text_content()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "site-history.png"), full_page=True)
    with page.expect_navigation(url="**/nights/n2/report.html", timeout=30_000):
        chart.locator("g.store[data-store=sqlite] a.point-link").nth(1).click()
    assert "n2" in page.title()
    page.wait_for_load_state("load")
    assert page.locator("#combined-ranking tbody tr").count() == 2  # the night's own report, drawn
    assert page.errors == []


def test_filters_live_in_the_url(page: Any, site: Path) -> None:
    page.goto(_history(site).resolve().as_uri())
    page.select_option("#history-workload", "c")
    page.select_option("#history-store", "localdir")
    assert page.evaluate("location.hash") == "#workload=c&store=localdir"
    assert page.locator(".history-chart[data-workload=a]").first.is_hidden()
    page.goto(_history(site).resolve().as_uri() + "#workload=c&store=localdir")
    page.reload()
    assert page.input_value("#history-workload") == "c"
    assert page.locator(".history-chart[data-workload=a]").first.is_hidden()
    assert page.locator(".history-chart[data-workload=c] g.store[data-store=sqlite]").first.is_hidden()
    assert page.locator(".history-chart[data-workload=c] g.store[data-store=localdir]").first.is_visible()
    assert page.errors == []


@pytest.mark.parametrize("name", ["index.html", "history"])
def test_phone_has_no_sideways_scroll(browser: Any, site: Path, name: str) -> None:  # noqa: F811
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        path = _history(site) if name == "history" else site / name
        phone.goto(path.resolve().as_uri())
        phone.wait_for_load_state("load")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        SHOTS.mkdir(parents=True, exist_ok=True)
        phone.screenshot(path=str(SHOTS / f"site-{name.split('.')[0]}-390.png"), full_page=True)
    finally:
        phone.close()


def test_index_lists_the_regressions_with_their_nights(page: Any, site: Path) -> None:
    page.goto((site / "index.html").resolve().as_uri())
    rows = page.locator("#regressions tbody tr")
    regressions = json.loads((site / "regressions.json").read_text())["regressions"]
    assert rows.count() == len(regressions) >= 2
    assert {r["next_verdict"] for r in regressions} == {"improvement"}
    with page.expect_navigation(url="**/nights/n2/report.html", timeout=30_000):
        rows.first.locator("a").first.click()
    assert page.errors == []
