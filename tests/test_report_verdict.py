"""Report v2: relative scores (ClickBench-style), medians with intervals over repeats, greyed failures."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
from storagebench.report.cells import cells_frame, find_results, samples_frame
from storagebench.report.html import build_html, page_data
from storagebench.report.scoring import shifted_ratio


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two repeats of sqlite + localdir on YCSB A (small)."""
    from storagebench.cli import main

    base = tmp_path_factory.mktemp("verdict")
    os.environ["STORAGEBENCH_SQLITE_PATH"] = str(base / "s.db")
    os.environ["STORAGEBENCH_LOCALDIR_ROOT"] = str(base / "ld")
    try:
        for i in (1, 2):
            assert main(["run", "--stores", "sqlite,localdir", "--workloads", "a", "--results-dir", str(base),
                         "--run-id", f"r{i}", "--no-report", "-p", "recordcount=50",
                         "-p", "operationcount=300"]) == 0
    finally:
        del os.environ["STORAGEBENCH_SQLITE_PATH"], os.environ["STORAGEBENCH_LOCALDIR_ROOT"]
    return base


def test_shifted_ratio_is_one_for_the_best_and_reads_as_cost() -> None:
    assert shifted_ratio("p99", 100.0, 100.0) == 1.0
    assert shifted_ratio("p99", 190.0, 90.0) == pytest.approx(200 / 100)  # (10 + 190) / (10 + 90)
    # throughput becomes µs per operation: 1,000 ops/s against a best of 2,000 ops/s (500 µs/op)
    assert shifted_ratio("throughput", 1000.0, 500.0) == pytest.approx(1001 / 501)


def test_repeats_are_one_cell_with_an_interval(runs: Path) -> None:
    cells = cells_frame(samples_frame(find_results([runs])))
    run = cells[(cells.store == "sqlite") & (cells.phase == "run")].iloc[0]
    assert run.samples == 2 and run.throughput_low <= run.throughput <= run.throughput_high
    assert run.family == "relational"
    assert run.coverage == 0.5  # [min, max] of 2 samples covers the median with 1 - 2 / 2**2
    data = page_data(find_results([runs]))
    assert data["families"] == {"sqlite": "relational", "localdir": "object"}
    # 300 operations in well under a second: no steady state, so nothing is ranked (tests/report ranks made files)
    assert run.too_short.startswith("measured ") and run.too_short.endswith(" ms: too short to rank")
    assert data["ratios"] == []


def test_failed_cell_is_greyed_with_reason_and_not_ranked(runs: Path) -> None:
    results = find_results([runs / "r1"])
    broken = copy.deepcopy(next(r for r in results if r["store"] == "localdir" and r["phase"] == "run"))
    results.remove(next(r for r in results if r["store"] == "localdir" and r["phase"] == "run"))
    broken.update(status="invalid", reason="<b>read returned another record</b>")
    results.append(broken)
    data = page_data(results)
    assert data["wrong_data"] == {"localdir": "a run: <b>read returned another record</b>"}
    assert [f["store"] for f in data["failures"]] == ["localdir"]
    page = build_html(results, "t")
    assert "&lt;b&gt;read returned another record&lt;/b&gt;" in page and "<b>read returned" not in page
    assert 'class="not-ok"' in page and "Plotly" not in page  # no chart library inlined



def test_unverified_results_are_not_ranked_and_degraded_phases_are_failures() -> None:
    from storagebench.report.cells import FAILED_STATUSES, too_short

    unverified = {"phase": "run", "status": "ok", "duration_s": 60.0,
                  "verification": {"verified": False, "unverified_because": "stores_data=False: nothing to check"},
                  "steady_state": {"reached": True, "method": "MSER-5"}}
    assert too_short(unverified) == "unverified (stores_data=False: nothing to check): not ranked"
    assert "degraded" in FAILED_STATUSES
