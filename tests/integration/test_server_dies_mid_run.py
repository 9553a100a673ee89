"""A real server dying mid-run: the phase ends cleanly as aborted, failures are counted with their reason,
the result file is written, and the next store still runs.  PostgreSQL restarts fastest, so it plays the
victim; the mechanism (timing proxy + runner) is the same for every adapter."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from storagebench.cli import main
from storagebench.results import load_results
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
    assert code == 0
    results = {(r["store"], r["phase"]): r for r in load_results(tmp_path / "kill")}
    run = results[("postgres", "run")]
    assert run["status"] == "aborted", run["status"]
    assert "consecutive failures" in run["reason"]
    statuses = run["operations"]["read"]["status_counts"]
    assert statuses.get("OK", 0) > 0 and statuses.get("UNAVAILABLE", 0) + statuses.get("ERROR", 0) >= 200
    assert run["errors"], "the reason of the failures is recorded"
    assert run["duration_s"] < 12
    assert results[("null", "run")]["status"] == "ok"  # the next store still ran
