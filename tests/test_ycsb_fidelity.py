"""YCSB semantics, exactly: the same workload file gives the figures YCSB's CoreWorkload would.

The reference generators below are small ports of YCSB's Java classes (site.ycsb.generator.*), written
from their published algorithms; our key choice is compared with them within sampling noise (fixed
seeds, tolerant thresholds: a test that fails means a real difference, never bad luck).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from storagebench.cli import main
from storagebench.results import load_results


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGEBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STORAGEBENCH_SQLITE_PATH", str(tmp_path / "home" / "s.db"))


def _run(tmp_path: Path, run_id: str, *args: str) -> dict[str, dict]:
    assert main(["run", "--results-dir", str(tmp_path / "results"), "--run-id", run_id, "--no-report",
                 "--stores", "sqlite", *args]) == 0
    return {r["phase"]: r for r in load_results(tmp_path / "results" / run_id)}


def test_f_counts_a_read_modify_write_once(tmp_path: Path) -> None:
    """YCSB's OVERALL: 1,000 operations of F are 1,000, whatever each RMW does inside."""
    run = _run(tmp_path, "f", "--workloads", "f", "-p", "recordcount=200", "-p", "operationcount=1000")["run"]
    assert run["status"] == "ok"
    assert run["totals"]["operations"] == 1000
    assert sum(run["timeseries"]["ops"]) == 1000
    ops = run["operations"]
    rmw = ops["read_modify_write"]["latency"]["count"]
    assert 400 < rmw < 600
    # shown as YCSB shows them: [READ] includes the RMWs' reads, [UPDATE] their updates
    assert ops["read"]["latency"]["count"] == 1000
    assert ops["read"]["in_read_modify_write"] == rmw
    assert ops["update"]["latency"]["count"] == ops["update"]["in_read_modify_write"] == rmw
