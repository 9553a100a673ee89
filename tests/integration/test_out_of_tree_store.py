"""A store from outside this distribution joins everything with one entry point and its own folder.

``tests/fixtures/out_of_tree/kvtcp`` is laid out as a built-in store's folder (adapter, service recipe, compose
fragment) around a small TCP server of its own.  Installed here with nothing but a ``.dist-info`` that holds
its entry point, it must be listed, started and stopped by ``services``, pass the conformance suite, run
YCSB workloads verified through ``run`` (and through ``--engine spark``), appear in the report, and have its
container in the assembled compose file, with no edit anywhere in storagebench."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from storagebench.results.files import load_results

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "out_of_tree" / "kvtcp"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The package and a dist-info with one entry point on PYTHONPATH; a home of its own; the engine up."""
    root = tmp_path_factory.mktemp("out-of-tree")
    shutil.copytree(FIXTURE, root / "site" / "kvtcp")
    info = root / "site" / "kvtcp-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kvtcp\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[storagebench.adapters]\nkvtcp = kvtcp.adapter:KVAdapter\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root / "site"),
                                                                     os.environ.get("PYTHONPATH")])),
           "STORAGEBENCH_HOME": str(root / "home"), "KVTCP_PORT": str(_free_port()), "ROOT": str(root)}
    up = _sb(env, "services", "up", "kvtcp")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield env
    finally:
        _sb(env, "services", "down", "kvtcp")


def _sb(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "storagebench.cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, check=False, cwd=env.get("ROOT"))


def test_listed_and_served_by_services(site: dict[str, str]) -> None:
    listed = _sb(site, "list")
    assert listed.returncode == 0 and "kvtcp" in listed.stdout, listed.stderr
    status = _sb(site, "services", "status", "kvtcp")
    assert status.returncode == 0, status.stderr
    assert "kvtcp" in status.stdout and " up " in status.stdout and "kvtcp 1.0" in status.stdout, status.stdout


def test_run_verifies_every_read_and_the_report_names_it(site: dict[str, str]) -> None:
    results = Path(site["ROOT"]) / "results"
    ran = _sb(site, "run", "--stores", "kvtcp", "--workloads", "a,c,e,query,delete", "--results-dir", str(results),
              "--run-id", "oot", "-p", "recordcount=200", "-p", "operationcount=500", "--clients", "2")
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    found = load_results(results / "oot")
    assert {r["store"] for r in found} == {"kvtcp"}
    assert all(r["status"] == "ok" for r in found), [(r["workload"], r["phase"], r["reason"]) for r in found]
    assert all(r["server"]["version"] == "1.0" for r in found)
    assert "kvtcp" in (results / "oot" / "report.html").read_text()


def test_passes_the_conformance_suite(site: dict[str, str]) -> None:
    test = Path(site["ROOT"]) / "test_kvtcp_conformance.py"
    test.write_text(
        "import pytest\n"
        "from kvtcp.adapter import KVAdapter\n"
        "from storagebench.testing.conformance import AdapterConformance\n\n\n"
        "class TestKV(AdapterConformance):\n"
        "    @pytest.fixture\n"
        "    def adapter_factory(self):\n"
        f"        return lambda: KVAdapter({{'port': {site['KVTCP_PORT']}}})\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
                          env=site, capture_output=True, text=True, timeout=300, check=False, cwd=site["ROOT"])
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert " passed" in proc.stdout and " failed" not in proc.stdout


@pytest.mark.usefixtures("spark_ready")
def test_runs_through_spark(site: dict[str, str]) -> None:
    results = Path(site["ROOT"]) / "results"
    ran = _sb(site, "run", "--engine", "spark", "--spark-master", "local[1]", "--stores", "kvtcp",
              "--workloads", "c", "--results-dir", str(results), "--run-id", "spark", "--no-report",
              "-p", "recordcount=100", "-p", "operationcount=300", timeout=600)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    found = load_results(results / "spark")
    assert all(r["status"] == "ok" and r["config"]["engine"] == "spark" for r in found), found


def test_its_container_joins_the_compose_file(site: dict[str, str]) -> None:
    composed = _sb(site, "services", "compose")
    assert composed.returncode == 0, composed.stderr
    assert "\n  kvtcp:\n" in composed.stdout and "127.0.0.1:17999:17999" in composed.stdout
