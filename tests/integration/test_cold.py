"""`run --cold` on a real PostgreSQL: the engine is restarted with the memory cap it was started with, the OS page
cache dropped, and the run phase starts after one read came back; the default records "as found".  A second
PostgreSQL on shifted ports with a home of its own: the shared one is never restarted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from storagebench.results.files import load_results


def _sb(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "storagebench.cli", *args], env=env, capture_output=True,
                          text=True, timeout=600, check=False)


def _postmaster(env: dict[str, str]) -> tuple[str, str]:
    """When the engine's postmaster started, and its shared_buffers, asked of the engine itself."""
    code = ("import json; from storagebench.services.manager import load_endpoints; "
            "print(json.dumps(load_endpoints()['postgres']))")
    endpoint = json.loads(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                         check=True).stdout)
    with psycopg.connect(host=endpoint["host"], port=endpoint["port"], user=endpoint["user"],
                         dbname=endpoint["database"], password=endpoint.get("password")) as conn:
        row = conn.execute("SELECT pg_postmaster_start_time()::text, current_setting('shared_buffers')").fetchone()
    assert row is not None
    return str(row[0]), str(row[1])


@pytest.mark.skipif(os.geteuid() != 0 and os.environ.get("CI") != "true",
                    reason="a memory cgroup and dropping the page cache need root")
def test_cold_restarts_the_engine_with_its_cap_and_drops_the_page_cache(tmp_path: Path) -> None:
    env = {**os.environ, "STORAGEBENCH_HOME": str(tmp_path / "home"), "STORAGEBENCH_PORT_OFFSET": "23000"}
    up = _sb(env, "services", "up", "postgres", "--memory", "256m")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        before, buffers = _postmaster(env)
        assert buffers == "64MB"
        ran = _sb(env, "run", "--stores", "postgres", "--workloads", "c", "--results-dir", str(tmp_path / "r"),
                  "--run-id", "cold", "--no-report", "--cold", "-p", "recordcount=2000", "-p", "operationcount=2000")
        assert ran.returncode == 0, ran.stderr[-3000:]
        run = next(r for r in load_results(tmp_path / "r" / "cold") if r["phase"] == "run")
        assert run["status"] == "ok" and run["totals"]["failed"] == 0 and run["verification"]["verified"]
        cache = run["cache"]
        assert cache["state"] == "cold" and cache["os_cache_dropped"] is True, cache
        assert 0 < cache["engine_restart_s"] < 120 and cache["engine_answered_s"] is not None
        assert "engine restarted in" in ran.stderr
        after, buffers = _postmaster(env)
        assert after != before, "a new postmaster: the engine was restarted"
        assert buffers == "64MB" and run["engine_memory"]["limit_bytes"] == 256 * 2**20, "the same cap"
        found = _sb(env, "run", "--stores", "postgres", "--workloads", "c", "--results-dir", str(tmp_path / "r"),
                    "--run-id", "found", "--no-report", "-p", "recordcount=2000", "-p", "operationcount=2000")
        assert found.returncode == 0, found.stderr[-3000:]
        run = next(r for r in load_results(tmp_path / "r" / "found") if r["phase"] == "run")
        assert run["cache"]["state"] == "as found" and run["cache"]["engine_restart_s"] is None
        assert _postmaster(env)[0] == after, "as found: the engine was left alone"

        # the records ladder: each size cold then as found, its data over the engine's cap
        swept = _sb(env, "sweep", "--stores", "postgres", "--ladder", "records", "--records", "1000,4000", "--cold",
                    "--step-seconds", "1", "--results-dir", str(tmp_path / "r"), "--run-id", "sweep")
        assert swept.returncode == 0, swept.stderr[-3000:]
        steps = json.loads((tmp_path / "r" / "sweep" / "sweep-postgres-c-records.json").read_text())["steps"]
        for step in steps:
            assert step["memory_denominator"] == {"what": "engine memory cap", "bytes": 256 * 2**20}
            assert step["data_to_memory"] == step["load"]["footprint"]["bytes"] / (256 * 2**20)
            assert step["cold"]["cache"]["state"] == "cold" and step["cold"]["cache"]["engine_restart_s"] > 0
            assert step["cache"]["state"] == "as found"
            assert step["failed"] == 0 and step["cold"]["failed"] == 0 and step["cold"]["operations"] > 0
        assert steps[0]["data_to_memory"] < steps[1]["data_to_memory"]
        assert _postmaster(env)[1] == "64MB", "the cap survives the sweep's restarts"
    finally:
        _sb(env, "services", "down", "postgres", "--clean")


@pytest.mark.skipif(os.geteuid() != 0 and os.environ.get("CI") != "true", reason="a memory cgroup needs root")
def test_an_engine_a_fault_restarts_keeps_its_memory_cap(tmp_path: Path) -> None:
    """`run --fault restart@...` starts the engine again with the cap it had (it came back uncapped before)."""
    env = {**os.environ, "STORAGEBENCH_HOME": str(tmp_path / "home"), "STORAGEBENCH_PORT_OFFSET": "23000"}
    up = _sb(env, "services", "up", "postgres", "--memory", "256m")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        before = _postmaster(env)
        ran = _sb(env, "run", "--stores", "postgres", "--workloads", "c", "--results-dir", str(tmp_path / "r"),
                  "--run-id", "f", "--no-report", "--fault", "restart@1", "-p", "recordcount=500",
                  "-p", "operationcount=0", "-p", "maxexecutiontime=6")
        run = next(r for r in load_results(tmp_path / "r" / "f") if r["phase"] == "run")
        assert run["fault"].get("ready_s") is not None, (run["fault"], ran.stderr[-2000:])
        after = _postmaster(env)
        assert after[0] != before[0], "the fault restarted the engine"
        assert after[1] == "64MB" and run["engine_memory"]["limit_bytes"] == 256 * 2**20
    finally:
        _sb(env, "services", "down", "postgres", "--clean")
