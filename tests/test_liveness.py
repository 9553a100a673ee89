"""Liveness and interrupts: a store that stops answering ends the phase as aborted within its stall timeout
(whatever the failure count), a run never outlives its deadline by more than the grace, and SIGINT/SIGTERM
stop every worker (threads and processes), keep what was measured, drop the namespaces, exit 130/143."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from storagebench.workloads.spec import resolve

from storagebench.cli import main
from storagebench.results.files import load_results
from storagebench.running.phase import run_phase
from storagebench.running.runner import PhasePlan

STALLING = "storagebench.testing.faulty:StallingAdapter"
GRACE = 1.0  # seconds a worker blocked in an operation gets after the stop (5 s by default)


def _count(outcome: object) -> int:
    return sum(h.get_total_count() for h in outcome.merged["histograms"].values())  # type: ignore[attr-defined]


@pytest.mark.parametrize("cooperative", [False, True], ids=["threads", "greenlets"])
@pytest.mark.parametrize("processes", [1, 2])
def test_store_that_hangs_is_aborted_within_the_stall_timeout(processes: int, cooperative: bool) -> None:
    spec = resolve("c", {"recordcount": 10, "operationcount": 10**9})
    t0 = time.monotonic()
    outcome = run_phase(PhasePlan(STALLING, {"succeed_ops": 300}, spec, "run", "sbench_t", 1, threads=2,
                                  processes=processes, stall_timeout=1.5, stop_grace=GRACE,
                                  cooperative=cooperative))
    took = time.monotonic() - t0
    assert took < 1.5 + GRACE + 2 + (6 if processes > 1 else 1), took  # + spawn time
    assert "no operation succeeded for" in outcome.stalled
    assert _count(outcome) == 300 * 2 * processes  # what was measured before the hang is kept
    ((start, end),) = outcome.dead_intervals
    assert end - start >= 1.5


@pytest.mark.parametrize("cooperative", [False, True], ids=["threads", "greenlets"])
@pytest.mark.parametrize("processes", [1, 2])
def test_clients_start_together_after_the_slowest_connect(processes: int, cooperative: bool) -> None:
    spec = resolve("c", {"recordcount": 10, "operationcount": 4000})
    outcome = run_phase(PhasePlan(STALLING, {"succeed_ops": 10**9, "slow_worker": 1, "setup_s": 1.5}, spec,
                                  "run", "sbench_t", 1, threads=2, processes=processes, stall_timeout=30,
                                  cooperative=cooperative))
    assert not outcome.fatal and not outcome.stalled
    starts = [w["start_epoch"] for w in outcome.workers]
    assert len(starts) == 2 * processes and max(starts) - min(starts) < 0.1, starts  # one common start
    assert _count(outcome) == 4000
    assert outcome.dead_intervals == []  # connecting is the harness's time, not a dead store


def test_a_client_that_never_connects_stops_the_phase_before_it_starts() -> None:
    spec = resolve("c", {"recordcount": 10, "operationcount": 10**9})
    t0 = time.monotonic()
    outcome = run_phase(PhasePlan(STALLING, {"succeed_ops": 10**9, "slow_worker": 1, "setup_s": 3600}, spec,
                                  "run", "sbench_t", 1, threads=2, stall_timeout=1.5, stop_grace=GRACE))
    assert time.monotonic() - t0 < 1.5 + GRACE + 2
    assert "clients [1] were still connecting" in outcome.stalled, outcome.stalled
    assert _count(outcome) == 0  # nobody ran ahead of the gate


def test_the_harness_setting_up_its_checks_longer_than_the_stall_timeout_is_no_stall(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A connected client whose checks take long to set up (10 M loaded keys sorted: some 30 s) holds the
    start, but it is the harness's time: the phase starts and runs, where it used to end "still connecting"."""
    from storagebench.measuring.checks import Checker

    set_up = Checker.__init__

    def slow(self: Checker, *args: object, **kwargs: object) -> None:
        time.sleep(2.5)
        set_up(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Checker, "__init__", slow)
    spec = resolve("c", {"recordcount": 10, "operationcount": 2000})
    outcome = run_phase(PhasePlan(STALLING, {"succeed_ops": 10**9}, spec, "run", "sbench_t", 1, threads=2,
                                  stall_timeout=1.0, stop_grace=GRACE))
    assert not outcome.stalled and not outcome.fatal, outcome.stalled
    assert _count(outcome) == 2000


def test_per_operation_timeouts_that_keep_expiring_abort_the_phase_before_200_failures() -> None:
    """Kudu's case: every operation waits its timeout; 200 failures in a row would take minutes."""
    spec = resolve("c", {"recordcount": 10, "operationcount": 10**9})
    t0 = time.monotonic()
    outcome = run_phase(PhasePlan(STALLING, {"succeed_ops": 50, "then": "fail", "fail_after_s": 0.3}, spec,
                                  "run", "sbench_t", 1, threads=1, stall_timeout=1.5))
    assert time.monotonic() - t0 < 1.5 + 0.3 + 1.5
    assert outcome.stalled and not outcome.fatal
    statuses = {k: h.get_total_count() for k, h in outcome.merged["histograms"].items()}
    assert statuses["read|OK"] == 50 and 0 < statuses["read|UNAVAILABLE"] < 20


@pytest.mark.parametrize("cooperative", [False, True], ids=["threads", "greenlets"])
def test_a_phase_never_outlives_its_deadline_by_more_than_the_grace(cooperative: bool) -> None:
    spec = resolve("c", {"recordcount": 10, "operationcount": 10**9, "maxexecutiontime": 1})
    t0 = time.monotonic()
    outcome = run_phase(PhasePlan(STALLING, {"succeed_ops": 100, "hang_s": 3600}, spec, "run", "sbench_t", 1,
                                  threads=2, stall_timeout=3600, stop_grace=GRACE, cooperative=cooperative))
    assert time.monotonic() - t0 < 1 + 1 + GRACE + 1
    assert outcome.aborted and "given up on" in outcome.aborted[0]


@pytest.mark.parametrize("processes", [1, 2])
def test_a_client_hung_in_a_shared_thread_does_not_stop_the_clients_sharing_it(processes: int) -> None:
    """Clients sharing a thread (greenlets): while worker 0 waits on its dead server, its thread serves the
    others to the deadline; worker 0 is given up on with what it measured, the others finish."""
    spec = resolve("c", {"recordcount": 10, "operationcount": 10**9, "maxexecutiontime": 1})
    t0 = time.monotonic()
    outcome = run_phase(PhasePlan(STALLING, {"succeed_ops": 100, "dying_worker": 0}, spec, "run", "sbench_t", 1,
                                  threads=3, processes=processes, stall_timeout=3600, stop_grace=GRACE,
                                  cooperative=True))
    assert time.monotonic() - t0 < 1 + 1 + GRACE + (6 if processes > 1 else 1)
    ops = {w["worker"]: w["operations"] for w in outcome.workers}
    assert ops[0] == 100, ops  # it measured what it did before the hang
    assert all(n > 10_000 for w, n in ops.items() if w != 0), ops  # worker 1 shares worker 0's thread
    assert len(outcome.aborted) == 1 and "worker 0 was still blocked" in outcome.aborted[0], outcome.aborted


def test_stalled_phase_is_recorded_as_aborted_with_its_dead_interval(tmp_path: Path) -> None:
    config = tmp_path / "bench.yaml"
    config.write_text(json.dumps({"options": {STALLING: {"succeed_ops": 200, "then": "fail",
                                                         "fail_after_s": 0.2}}}))
    code = main(["run", "--config", str(config), "--stores", f"{STALLING},null", "--workloads", "c",
                 "--results-dir", str(tmp_path), "--run-id", "st", "--no-report", "--stall-timeout", "1",
                 "-p", "recordcount=100", "-p", "operationcount=50000", "-p", "maxexecutiontime=20"])
    assert code in (0, 1)  # 1 once a non-ok phase makes the exit status 1
    results = {(r["store"], r["phase"]): r for r in load_results(tmp_path / "st")}
    run = results[(STALLING, "run")]
    assert run["status"] == "aborted" and "no operation succeeded" in run["reason"], run["reason"]
    assert "timed out" in run["reason"]  # the last error says why
    ((start, end),) = run["liveness"]["dead_intervals_s"]
    assert end - start >= 1
    assert results[("null", "run")]["status"] == "ok"  # the next store still ran


def _workers(pid: int) -> list[int]:
    """Worker processes of a run (not multiprocessing's resource tracker, which ends on its own)."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split() if "resource_tracker" not in Path(f"/proc/{p}/cmdline").read_text()]


@pytest.mark.parametrize(("sig", "code", "processes"), [(signal.SIGINT, 130, 2), (signal.SIGTERM, 143, 1)])
def test_signal_stops_every_worker_keeps_results_and_drops_namespaces(
        tmp_path: Path, sig: signal.Signals, code: int, processes: int) -> None:
    env = {**os.environ, "STORAGEBENCH_HOME": str(tmp_path / "home"),
           "STORAGEBENCH_SQLITE_PATH": str(tmp_path / "s.db")}
    stores = "null" if processes > 1 else "sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-m", "storagebench.cli", "run", "--stores", stores, "--workloads", "a,c",
         "--processes", str(processes), "--results-dir", str(tmp_path / "r"), "--run-id", "sig", "--no-report",
         "-p", "recordcount=100", "-p", "operationcount=1000000000"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_file = tmp_path / "r" / "sig" / f"{stores}__a__load.json"
    deadline = time.monotonic() + 60
    while not run_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3.0)  # into the run phase
    workers = _workers(proc.pid)
    assert len(workers) == (processes if processes > 1 else 0)
    proc.send_signal(sig)
    t0 = time.monotonic()
    _out, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 10, "stopped promptly"
    assert proc.returncode == code, err
    assert f"interrupted by {sig.name}" in err
    for pid in workers:  # no worker process outlives the run
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    results = {(r["workload"], r["phase"]): r for r in load_results(tmp_path / "r" / "sig")}
    assert results[("a", "load")]["status"] == "ok"  # finished phases kept
    interrupted = results[("a", "run")]
    assert interrupted["status"] == "interrupted" and interrupted["totals"]["operations"] > 0
    assert ("c", "load") not in results
    manifest = json.loads((tmp_path / "r" / "sig" / "run.json").read_text())
    assert manifest["state"] == "interrupted" and manifest["namespaces"] == []
    if stores == "sqlite":
        tables = sqlite3.connect(tmp_path / "s.db").execute("SELECT name FROM sqlite_master").fetchall()
        assert tables == [], "the run's table was dropped"
