"""The cost model against real engines: a small run of PostgreSQL and S3 (versitygw) beside embedded SQLite,
and a short rate sweep of PostgreSQL, priced with the shipped example sheet; every figure on the page checked
against a hand computation from the result files."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from storagebench.report.html import money

from storagebench.cli import main
from storagebench.pricing import load_sheet
from storagebench.results.files import load_results
from storagebench.testing.engines import require_engine

ROOT = Path(__file__).resolve().parents[2]
SHEET = ROOT / "pricing" / "aws-us-east-1.example.yaml"
CHROMIUM = Path(os.environ.get("STORAGEBENCH_CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture(scope="module")
def priced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One run (load + run of workload a) and one rate sweep, each with its report priced."""
    for store in ("postgres", "s3"):
        require_engine(store)
    base = tmp_path_factory.mktemp("costs")
    saved = {k: os.environ.get(k) for k in ("STORAGEBENCH_SQLITE_PATH",)}
    os.environ["STORAGEBENCH_SQLITE_PATH"] = str(base / "s.db")  # the engines' own home, sqlite's file here
    try:
        assert main(["run", "--stores", "postgres,s3,sqlite", "--workloads", "a", "--results-dir", str(base),
                     "--run-id", "run", "-p", "recordcount=500", "-p", "operationcount=2000",
                     "--prices", str(SHEET)]) == 0
        assert main(["sweep", "--stores", "postgres", "--workload", "a", "--ladder", "rate", "--rates", "300",
                     "--step-seconds", "1", "-p", "recordcount=500", "--results-dir", str(base), "--run-id",
                     "sweep", "--prices", str(SHEET)]) == 0
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    yield {"results": {(r["store"], r["phase"]): r for r in load_results(base / "run")},
           "page": (base / "run" / "report.html").read_text(), "sweep_dir": base / "sweep"}


def _row(page: str, store: str) -> str:
    """The cost table's row of ``store``, as HTML."""
    table = page[page.index('<table id="cost-table">'):]
    row = re.search(rf'<tr data-store="{store}"[^>]*>(.*?)</tr>', table[:table.index("</table>")], re.S)
    assert row, store
    return row.group(1)


def _cell(page: str, store: str, cls: str) -> str:
    cell = re.search(rf'<td class="n {cls}">(.*?)</td>', _row(page, store), re.S)
    assert cell, (store, cls)
    return re.sub(r"<[^>]+>", "", cell.group(1)).strip()


def test_costs_match_a_hand_computation_from_the_result_files(priced: dict[str, Any]) -> None:
    results, page = priced["results"], priced["page"]
    vcpu_hour, block, s3_storage, put, get = 0.0504, 0.08, 0.023, 5.00, 0.40  # the example sheet's figures
    for store in ("postgres", "s3"):
        run = results[(store, "run")]
        # the engine's CPU seconds spread over the phase's operations, an hour of vCPU at the sheet's price
        hand = run["server_cost"]["cpu_s"] / run["totals"]["operations"] * 1e6 / 3600 * vcpu_hour
        assert hand > 0
        assert _cell(page, store, "cpu-cost") == f"{money(hand)} USD"
    # S3: every read is one GET, every update a GET and a PUT (workload a: reads and updates only)
    run = results[("s3", "run")]
    counts = {op: stats["status_counts"].get("OK", 0) for op, stats in run["operations"].items()}
    assert set(counts) == {"read", "update"}
    hand = (counts["read"] * get + counts["update"] * (get + put)) / run["totals"]["operations"]
    assert f"{money(hand)} USD <small>at the sheet's s3 prices</small>" in _row(page, "s3")
    # storage: the load's footprint in GB of 2^30 bytes at the block price, S3 at its own
    for store, price in (("postgres", block), ("s3", s3_storage)):
        footprint = results[(store, "load")]["footprint"]["bytes"]
        assert _cell(page, store, "storage-cost").startswith(f"{money(footprint / 2**30 * price)} USD at {price} ")
    # the sheet's provenance is on the page; the embedded store has no engine to price
    sheet = load_sheet(SHEET)
    assert f"price sheet: <b>{sheet.source}</b>, as of <b>2026-12-06</b>" in page
    sqlite_row = _row(page, "sqlite")
    assert "not observed" in sqlite_row and "µs/op" not in sqlite_row


def test_the_sweep_prices_the_step_at_its_maximum_sustainable_throughput(priced: dict[str, Any]) -> None:
    import json

    sweep = json.loads((priced["sweep_dir"] / "sweep-postgres-a-rate.json").read_text())
    best = sweep["max_sustainable_ops_per_sec"]
    assert best, "300 ops/s should be sustainable for PostgreSQL at p99 <= 10 ms"
    (step,) = [s for s in sweep["steps"] if s["target"] == 300]
    cost = step["server_cost"]
    assert cost["observed"] is True and cost["cpu_s"] > 0
    hand = cost["cpu_s"] / step["operations"] * 1e6 / 3600 * 0.0504
    page = (priced["sweep_dir"] / "report.html").read_text()
    row = _row(page, "postgres")
    assert f"{money(hand)} USD" in row and f"{best:,.0f}" in row
    assert 'data-chart="pareto-cpu"' in page  # the Pareto view against the server's CPU has its point


def test_the_page_shows_the_sheet_and_draws_the_cpu_pareto(priced: dict[str, Any]) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"])
        try:
            errors: list[str] = []
            page = browser.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((priced["sweep_dir"].parent / "run" / "report.html").as_uri())
            assert "as of 2026-12-06" in page.inner_text("#price-sheet")
            assert page.locator("#cost-table tr[data-store=sqlite] .not-observed").is_visible()
            page.goto((priced["sweep_dir"] / "report.html").as_uri())
            page.wait_for_selector(".chart[data-chart=pareto-cpu] svg")
            marker = page.locator(".chart[data-chart=pareto-cpu] g.pareto-front")
            assert marker.count() == 1 and marker.get_attribute("data-store") == "postgres"
            assert errors == []
        finally:
            browser.close()
