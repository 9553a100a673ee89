"""A real server dying mid-run: the phase ends cleanly as aborted, failures are counted with their reason,
the result file is written, and the next store still runs.  PostgreSQL restarts fastest, so it plays the
victim; the mechanism (timing proxy + runner) is the same for every adapter."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from storagebench.cli import main
from storagebench.durability import DEFAULT_PROFILE, PROFILES
from storagebench.results.files import load_results
from storagebench.services import load_service
from storagebench.services.base import ServiceContext
from storagebench.services.manager import Manager
from storagebench.testing.engines import require_engine

pytestmark = pytest.mark.engine("postgres")


def test_postgres_killed_mid_run(tmp_path: Path) -> None:
    require_engine("postgres")
    manager = Manager(ServiceContext(echo=lambda _m: None), ["postgres", "mongodb"], load_service)
    dependents = [name for name in ("mongodb",) if manager.is_up(name)]

    def kill_soon() -> None:
        time.sleep(4.0)  # into the run phase of workload c
        manager.down(["postgres"])

    killer = threading.Thread(target=kill_soon)
    killer.start()
    try:
        code = main(["run", "--stores", "postgres,null", "--workloads", "c", "--results-dir", str(tmp_path),
                     "--run-id", "kill", "--no-report", "-p", "recordcount=500", "-p", "operationcount=100000000",
                     "-p", "maxexecutiontime=12"])
    finally:
        killer.join()
        manager.up(["postgres", *dependents])  # later tests find it again
    assert code in (0, 1)  # 1 once a non-ok phase makes the exit status 1
    results = {(r["store"], r["phase"]): r for r in load_results(tmp_path / "kill")}
    run = results[("postgres", "run")]
    assert run["status"] == "aborted", run["status"]
    assert "consecutive failures" in run["reason"]
    statuses = run["operations"]["read"]["status_counts"]
    assert statuses.get("OK", 0) > 0 and statuses.get("UNAVAILABLE", 0) + statuses.get("ERROR", 0) >= 200
    assert run["errors"], "the reason of the failures is recorded"
    assert run["duration_s"] < 12
    assert results[("null", "run")]["status"] == "ok"  # the next store still ran


def _when_file_appears(path: Path, then: Callable[[], None], timeout: float = 180.0) -> threading.Thread:
    def watch() -> None:
        deadline = time.monotonic() + timeout
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        then()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def _signal_all(manager: Manager, name: str, sig: int, roles: tuple[str, ...] = ()) -> None:
    for proc in manager.processes(name):
        if not roles or proc.name in roles:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, sig)


@pytest.mark.engine("kudu")
def test_kudu_killed_mid_run_is_aborted_within_the_stall_timeout(tmp_path: Path) -> None:
    """Kudu's silent hang: after kill -9 of master and tserver every operation waits for its timeout;
    before the watchdog a worker stopped only after 200 of them (~100 minutes).  Now the phase is aborted
    once nothing has succeeded for the stall timeout."""
    require_engine("kudu")
    manager = Manager(ServiceContext(echo=lambda _m: None), ["kudu"], load_service)
    stall = 4.0

    def kill() -> None:
        time.sleep(1.5)  # into the run phase
        _signal_all(manager, "kudu", signal.SIGKILL)

    killer = _when_file_appears(tmp_path / "kudu" / "kudu__c__load.json", kill)
    t0 = time.monotonic()
    try:
        code = main(["run", "--stores", "kudu", "--workloads", "c", "--results-dir", str(tmp_path), "--run-id",
                     "kudu", "--no-report", "--stall-timeout", str(stall), "-p", "recordcount=200",
                     "-p", "operationcount=100000000", "-p", "maxexecutiontime=120"])
        took = time.monotonic() - t0
    finally:
        killer.join()
        manager.up(["kudu"])  # the shared engine comes back at once
    assert code in (0, 1)
    run = next(r for r in load_results(tmp_path / "kudu") if r["phase"] == "run")
    assert run["status"] == "aborted", run["reason"]
    assert "no operation succeeded" in run["reason"] or "consecutive failures" in run["reason"]
    assert run["wall_s"] < stall + 10 + 5 + 3, run["wall_s"]  # stall + one operation timeout + grace
    assert run["liveness"]["dead_intervals_s"], "the dead interval is recorded"
    assert took < 120, took  # the whole run, including dropping the table on a dead cluster


THRIFT = ("thrift",)


@pytest.mark.engine("hbase")
def test_hbase_that_stops_answering_is_aborted_within_the_stall_timeout(tmp_path: Path) -> None:
    """A server that hangs without closing connections (SIGSTOP of the Thrift gateway the client talks to:
    a frozen JVM, a partition): every call waits for its socket timeout.  The phase ends as aborted after
    the stall timeout; the gateway is resumed as soon as the phase is written.  (Only the gateway: freezing
    the master's JVM, which embeds ZooKeeper in standalone mode, makes the master abort on resume.)"""
    require_engine("hbase")
    manager = Manager(ServiceContext(echo=lambda _m: None), ["hbase"], load_service)
    stall = 3.0
    frozen = threading.Event()

    def freeze() -> None:
        time.sleep(1.5)
        _signal_all(manager, "hbase", signal.SIGSTOP, THRIFT)
        frozen.set()

    freezer = _when_file_appears(tmp_path / "hb" / "hbase__c__load.json", freeze)
    thawer = _when_file_appears(tmp_path / "hb" / "hbase__c__run.json",
                                lambda: _signal_all(manager, "hbase", signal.SIGCONT, THRIFT))
    try:
        code = main(["run", "--stores", "hbase", "--workloads", "c", "--results-dir", str(tmp_path), "--run-id",
                     "hb", "--no-report", "--stall-timeout", str(stall), "-p", "recordcount=200",
                     "-p", "operationcount=100000000", "-p", "maxexecutiontime=120"])
    finally:
        _signal_all(manager, "hbase", signal.SIGCONT, THRIFT)
        freezer.join()
        thawer.join()
    assert frozen.is_set()
    assert code in (0, 1)
    run = next(r for r in load_results(tmp_path / "hb") if r["phase"] == "run")
    assert run["status"] == "aborted", run["reason"]
    assert run["wall_s"] < stall + 10 + 5 + 3, run["wall_s"]
    assert run["liveness"]["dead_intervals_s"]


#: every server store, each killed (kill -9 of the process groups the services layer started for it) 3 s into
#: a 12 s run phase with the default 30 s stall timeout: only the time without a success can fail the phase
#: of a store whose driver waits out retries or a timeout before each failure (S3, FerretDB: 68 and 3
#: failures before, far from the 200 in a row, and `ok`)
SERVER_STORES = ("postgres", "mongodb", "s3", "hdfs", "hbase", "kudu", "neo4j")


@pytest.mark.parametrize("store", [pytest.param(s, marks=pytest.mark.engine(s)) for s in SERVER_STORES])
def test_engine_killed_mid_phase_fails_the_phase(store: str, tmp_path: Path) -> None:
    from storagebench.services import service_names

    require_engine(store)
    probe = Manager(ServiceContext(echo=lambda _m: None), list(service_names()), load_service)
    # restarted as it ran (durability profile), with the engines that run on it (FerretDB on PostgreSQL)
    profile = next((p for p in PROFILES if p == probe.running_profile(store)), DEFAULT_PROFILE)
    manager = Manager(ServiceContext(echo=lambda _m: None, durability=profile), list(service_names()), load_service)
    dependents = [n for n in service_names() if store in load_service(n).requires and manager.is_up(n)]
    killed: list[int] = []

    def kill() -> None:
        time.sleep(3.0)  # into the run phase
        for proc in manager.processes(store):
            if proc.alive:  # each was started in a session of its own: its group is the engine's processes
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                    killed.append(proc.pid)

    killer = _when_file_appears(tmp_path / "dies" / f"{store}__c__load.json", kill)
    try:
        code = main(["run", "--stores", store, "--workloads", "c", "--results-dir", str(tmp_path), "--run-id",
                     "dies", "--no-report", "-p", "recordcount=300", "-p", "operationcount=0",
                     "-p", "maxexecutiontime=12"])
    finally:
        killer.join()
        # a killed server holds its lock files until its parent reaps it; then the shared engine comes back
        deadline = time.monotonic() + 30
        while any(Path(f"/proc/{pid}").exists() for pid in killed) and time.monotonic() < deadline:
            time.sleep(0.1)
        manager.up([store, *dependents])
    assert killed, "the engine's processes were killed"
    assert code == 1
    run = next(r for r in load_results(tmp_path / "dies") if r["phase"] == "run")
    assert run["status"] in ("aborted", "failed"), (run["status"], run["reason"], run["liveness"])
    assert run["wall_s"] < 12 + 1 + 5 + 3, run["wall_s"]  # the deadline, the grace, the processes' report
