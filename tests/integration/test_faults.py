"""Faults as a scenario on a real engine: a kill (SIGKILL, restarted through services) and a pause (SIGSTOP,
then SIGCONT) in the middle of a run phase.  The phase goes on through the fault (no abort), the clients
reconnect, the outage is measured, and the engine is left running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from storagebench.results.files import load_results
from storagebench.services import load_service
from storagebench.services.base import ServiceContext
from storagebench.testing.engines import require_engine

TIMED = ["-p", "recordcount=1000", "-p", "operationcount=0", "-p", "maxexecutiontime=12"]


def _run(tmp_path: Path, run_id: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "storagebench.cli", "run", "--results-dir", str(tmp_path),
                           "--run-id", run_id, "--no-report", *args], capture_output=True, text=True,
                          timeout=600, check=False)


def _run_phase(tmp_path: Path, run_id: str) -> dict[str, Any]:
    return next(r for r in load_results(tmp_path / run_id) if r["phase"] == "run")


def test_kill_postgres_mid_run_recovers_and_the_engine_is_left_up(tmp_path: Path) -> None:
    require_engine("postgres")
    done = _run(tmp_path, "kill", "--stores", "postgres", "--workloads", "a", "--fault", "kill@4", *TIMED)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    result = _run_phase(tmp_path, "kill")
    fault = result["fault"]
    assert fault["killed_processes"] >= 1 and fault["ready_s"] > fault["struck_s"] >= 4.0
    assert "error" not in fault, fault
    # the outage ends once the engine is back: the clients reconnected and operations succeed again
    assert 0 < fault["outage_s"] < fault["ready_s"] - fault["struck_s"] + 3, fault
    series = result["timeseries"]
    assert any(ok - failed > 0 for ok, failed in list(zip(series["ops"], series["failed"], strict=True))[-4:-1])
    assert result["status"] != "aborted", result["reason"]
    assert result["verification"]["failures"] == 0, result["verification"]
    # durable (the default): the read-back through a new connection finds every acknowledged write
    assert fault["acknowledged_writes_lost"] == 0 == result["readback"]["failures"], result["readback"]
    # the engine's CPU is counted across the restart: the killed processes' share, then the new ones' from zero
    cost = result["server_cost"]
    assert cost["observed"] and cost["cpu_us_per_op"] > 0 and "ended during the phase" in cost["cpu_note"], cost
    # the engine answers again
    load_service("postgres")(ServiceContext(echo=lambda _m: None)).probe()


def test_kill_under_fast_durability_counts_the_acknowledged_writes_lost(tmp_path: Path) -> None:
    """synchronous_commit=off: a kill loses the last commits.  When the run's own reads catch a lost update
    (invalid), the read-back still runs, so the fault's record says how many keys lost an acknowledged write
    (not 'not checked')."""
    require_engine("postgres")
    done = _run(tmp_path, "fast", "--stores", "postgres", "--workloads", "a", "--durability", "fast",
                "--fault", "kill@4", *TIMED)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    result = _run_phase(tmp_path, "fast")
    assert result["status"] in ("ok", "invalid"), result["reason"]
    assert result["durability"]["settings"]["synchronous_commit"] == "off"
    lost = result["fault"]["acknowledged_writes_lost"]
    assert isinstance(lost, int) and lost == result["readback"]["failures"], (lost, result["readback"])
    if lost:
        assert result["status"] == "invalid" and "lost" in str(result["readback"]["first_failures"][0])
    # the report's faults table says it, with the durability asked for
    from storagebench.report.html import page_data

    rows = page_data(load_results(tmp_path / "fast"))["faults"]
    assert [(f["store"], f["fault"], f["durability"], f["lost"], f["checked"]) for f in rows] == [
        ("postgres", "kill@4", "fast", lost, result["readback"]["checked"])]


def test_pause_postgres_shows_the_stall_and_no_abort(tmp_path: Path) -> None:
    require_engine("postgres")
    done = _run(tmp_path, "pause", "--stores", "postgres", "--workloads", "c", "--fault", "pause@3:3", *TIMED)
    assert done.returncode == 0, done.stderr[-2000:]
    result = _run_phase(tmp_path, "pause")
    fault = result["fault"]
    assert fault["resumed_s"] - fault["struck_s"] >= 3.0
    assert 2.5 <= fault["outage_s"] <= 5.0, fault
    assert result["status"] == "ok" and result["totals"]["failed"] == 0
    # the stall is in the throughput over time: the seconds of the pause have (almost) no operations
    ops = result["timeseries"]["ops"]
    assert min(ops[3:6]) < 0.2 * max(ops[7:10]), ops


@pytest.mark.parametrize(("fault", "args", "message"), [
    ("kill@3", ["--stores", "sqlite", "-p", "operationcount=0", "-p", "maxexecutiontime=10"], "no engine process"),
    ("kill@30", ["--stores", "postgres", "-p", "operationcount=0", "-p", "maxexecutiontime=10"], "ends after"),
    ("kill@3", ["--stores", "postgres"], "known length"),
    ("melt@3", ["--stores", "postgres"], "KIND@SECONDS"),
    ("kill@3:2", ["--stores", "postgres"], "only pause and full take a duration"),
])
def test_a_fault_that_cannot_be_injected_is_refused_before_anything_runs(
        tmp_path: Path, fault: str, args: list[str], message: str) -> None:
    done = _run(tmp_path, "bad", "--workloads", "a", "--fault", fault, *args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert not (tmp_path / "bad").exists()
