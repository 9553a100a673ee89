"""The report and the published site in a real browser (Debian's chromium driven by Playwright).

No console errors from file://, every chart drawn, weights re-rank (and live in the URL), the
requirements panel answers, filters hide.  Screenshots go to results/screenshots/ (CI artefacts).
Needs /usr/bin/chromium (scripts/test.sh installs the Debian package); with CI=true its absence fails.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("STORAGEBENCH_CHROMIUM", "/usr/bin/chromium"))
SHOTS = Path(os.environ.get("STORAGEBENCH_SCREENSHOTS", ROOT / "results" / "screenshots"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} missing: run `apt-get install -y chromium` (scripts/test.sh does it as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two repeats of three embedded stores on YCSB A and C, and their report (the site: test_history_browser.py)."""
    from storagebench.cli import main

    base = tmp_path_factory.mktemp("browser")
    env = {"STORAGEBENCH_SQLITE_PATH": str(base / "s.db"), "STORAGEBENCH_DUCKDB_PATH": str(base / "d.duckdb"),
           "STORAGEBENCH_LOCALDIR_ROOT": str(base / "ld")}
    os.environ.update(env)
    try:
        assert main(["run", "--stores", "sqlite,duckdb,localdir", "--workloads", "a,c", "--repeat", "2",
                     "--results-dir", str(base / "nights" / "n1"), "--run-id", "run",
                     "-p", "recordcount=100", "-p", "operationcount=400"]) == 0
    finally:
        for key in env:
            del os.environ[key]
    return {"report": base / "nights" / "n1" / "run" / "report.html"}


#: generous: CI machines are shared
TIMEOUT_MS = 120_000


@pytest.fixture
def opened(browser: Any) -> Iterator[list[Any]]:
    """Pages a test opened; closed after it (one renderer at a time on a 2-core machine)."""
    pages: list[Any] = []
    yield pages
    for page in pages:
        page.close()


def _open(browser: Any, path: Path, hash_: str = "", pages: list[Any] | None = None) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    if pages is not None:
        pages.append(page)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.resolve().as_uri() + hash_, timeout=TIMEOUT_MS)
    page.wait_for_load_state("load")
    return page, errors


def _set(page: Any, selector: str, value: str) -> None:
    page.fill(selector, value)
    page.dispatch_event(selector, "input")


def test_report_loads_offline_and_draws_every_chart(browser: Any, built: dict[str, Path], opened: list[Any]) -> None:
    page, errors = _open(browser, built["report"], pages=opened)
    page.wait_for_selector(".chart svg", state="attached")
    charts = page.locator(".chart")
    assert charts.count() == 3  # latency by percentile: a read, a update, c read
    for i in range(charts.count()):
        assert charts.nth(i).locator("svg path.line").count() == 3, f"chart {i} not drawn"
    # 400 operations take well under a second: every run is greyed, none ranked, each says why
    assert page.locator("#results-table td.too-short").count() == 6
    unranked = page.locator("#combined-ranking tr.unranked").evaluate_all("rs => rs.map(r => r.dataset.unrankedStore)")
    assert set(unranked) == {"sqlite", "duckdb", "localdir"}
    assert "no store can be ranked: every run too short to rank (measured " in page.inner_text("#verdict-sentences")
    assert "Throughput over time not drawn" in page.inner_text(".workload[data-workload=a]")
    assert page.inner_text(".workload[data-workload=c] .phase-ops") == "load: insert · run: read"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#verdict").screenshot(path=str(SHOTS / "report-verdict.png"))
    page.screenshot(path=str(SHOTS / "report-full.png"), full_page=True)
    # provenance says what the client cost per operation, next to the driver (CPU of the client threads)
    cell = page.locator("#provenance details[data-store='sqlite'][data-workload='c']").first
    cell.locator("summary").click()
    cpu = cell.locator(".client-cpu")
    assert cpu.is_visible() and cpu.inner_text().startswith("client CPU ") and cpu.inner_text().endswith(" µs/op")
    assert float(cpu.inner_text().split()[2]) > 0
    assert cell.locator(".layout").inner_text().endswith("process(es)")  # where the clients ran
    # the fsync caveat is this run's own probe, not a constant
    fsync = json.loads(page.inner_text("#report-data"))["noise"]["fsync_p50_us"]["median"]
    assert f"fsync probe (on the disk the results went to): p50 {fsync:,.0f} µs" in page.inner_text("#fsync-note")
    assert "0.15 ms" not in page.inner_text("#fsync-note")  # the old constant (a cell's p99 may read 0.15 ms)
    assert errors == []


def test_requirements_panel_needs_native_operations(browser: Any, built: dict[str, Path], opened: list[Any]) -> None:
    page, errors = _open(browser, built["report"], pages=opened)
    page.select_option("#req-workload", "a")
    _set(page, "#req-p99", "100000")  # any store meets a p99 of 100 s ...
    page.check("input[name=req-cap][value=scan]")  # ... but only native scanners count
    assert "localdir: unsupported operation: scan is emulated, native required" in page.inner_text("#req-fail")
    # the runs were too short to say anything: the others are uncertain, not "meeting" it
    assert page.locator("#req-meet li").count() == 0
    unsure = page.inner_text("#req-uncertain")
    assert "sqlite: measured " in unsure and "duckdb: measured " in unsure and "cannot tell" in unsure
    assert "rq.cap=scan" in page.evaluate("location.hash")
    assert errors == []


def test_family_filter_hides_the_object_store(browser: Any, built: dict[str, Path], opened: list[Any]) -> None:
    page, errors = _open(browser, built["report"], pages=opened)
    assert page.locator("#results-table tr[data-store=localdir]").is_visible()
    page.uncheck("input[name=family][value=object]")
    assert page.locator("#results-table tr[data-store=localdir]").is_hidden()
    assert page.locator("#results-table tr[data-store=sqlite]").is_visible()
    assert page.locator("#combined-ranking tr[data-unranked-store=localdir]").count() == 0
    page.uncheck("input[name=workload][value=c]")
    assert page.locator(".workload[data-workload=c]").is_hidden()
    assert errors == []
