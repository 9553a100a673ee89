"""``services up --memory``: an engine whose caches are sized to the cap and whose processes sit in a memory
cgroup with that limit (a data set larger than it is read from disk), read back from the engine itself and
recorded in every result.  A second PostgreSQL on shifted ports and a home of its own: the shared one stays."""

from __future__ import annotations

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


@pytest.mark.skipif(os.geteuid() != 0 and os.environ.get("CI") != "true", reason="a memory cgroup needs root")
def test_memory_cap_is_read_back_from_the_engine_and_recorded(tmp_path: Path) -> None:
    env = {**os.environ, "STORAGEBENCH_HOME": str(tmp_path / "home"), "STORAGEBENCH_PORT_OFFSET": "20000"}
    up = _sb(env, "services", "up", "postgres", "--memory", "256m")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        code = ("import json, sys; from storagebench.services.manager import load_endpoints; "
                "print(json.dumps(load_endpoints()['postgres']))")
        import json

        endpoint = json.loads(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                             text=True, check=True).stdout)
        with psycopg.connect(host=endpoint["host"], port=endpoint["port"], user=endpoint["user"],
                             dbname=endpoint["database"], password=endpoint.get("password")) as conn:
            row = conn.execute("SHOW shared_buffers").fetchone()
            assert row is not None and row[0] == "64MB"  # a quarter of the cap
            backend = conn.execute("SELECT pg_backend_pid()").fetchone()
            assert backend is not None
            group = Path(f"/proc/{backend[0]}/cgroup").read_text()
        memory_line = next(line for line in group.splitlines() if ":memory:" in line)
        limit = Path("/sys/fs/cgroup/memory") / memory_line.split(":", 2)[2].lstrip("/") / "memory.limit_in_bytes"
        assert int(limit.read_text()) == 256 * 2**20, "the backend serving us is inside the capped group"
        ran = _sb(env, "run", "--stores", "postgres", "--workloads", "c", "--results-dir", str(tmp_path / "r"),
                  "--run-id", "m", "--no-report", "-p", "recordcount=200", "-p", "operationcount=200")
        assert ran.returncode == 0, ran.stderr[-2000:]
        assert all(r["engine_memory"]["limit_bytes"] == 256 * 2**20 for r in load_results(tmp_path / "r" / "m"))
    finally:
        _sb(env, "services", "down", "postgres", "--clean")


@pytest.mark.parametrize("size", ["lots", "1m", "12q"])
def test_a_bad_size_is_one_line_and_exit_2(tmp_path: Path, size: str) -> None:
    env = {**os.environ, "STORAGEBENCH_HOME": str(tmp_path / "home")}
    done = _sb(env, "services", "up", "postgres", "--memory", size)
    assert done.returncode == 2 and "--memory" in done.stderr and done.stderr.count("\n") == 1, done.stderr
