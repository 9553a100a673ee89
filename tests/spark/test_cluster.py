"""YCSB A through the standalone cluster of `storagebench services up spark`, on executors whose Python
has no storagebench (a separate venv with only pyspark and the store drivers): the driver ships the code
and the dependencies they lack, tasks report progress while they run, and the counts come out exact.

The executor venv is built once under $STORAGEBENCH_HOME/cache (pip's cache makes later builds fast);
every test shares one Spark session (same master and settings), so the JVM starts once."""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from storagebench.cli import main
from storagebench.results.files import load_results
from storagebench.services.base import storagebench_home
from storagebench.testing.engines import require_engine

pytestmark = [pytest.mark.usefixtures("spark_ready"), pytest.mark.engine("spark")]

#: what the executors' own environment holds: pyspark (their workers' Python side) and the store drivers
EXECUTOR_PACKAGES = ("pyspark", "psycopg", "psycopg-binary", "psycopg2-binary", "happybase")

RECORDS, OPERATIONS = 400, 1600


@pytest.fixture(scope="session")
def executor_python() -> str:
    pins = [f"{name}=={md.version(name)}" for name in EXECUTOR_PACKAGES]
    key = hashlib.sha256(" ".join([sys.version, *pins]).encode()).hexdigest()[:12]
    venv = storagebench_home() / "cache" / f"spark-executor-venv-{key}"
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=300)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *pins], check=True, timeout=900)
        (venv / ".complete").touch()
    lacks = subprocess.run([str(python), "-c", "import storagebench"], capture_output=True, timeout=60,
                           cwd=venv, env={"PATH": "/usr/bin:/bin"})
    assert lacks.returncode != 0, "the executor venv must not contain storagebench"
    return str(python)


@pytest.fixture(scope="session")
def master() -> str:
    return str(require_engine("spark")["master"])


def _run(store: str, executor_python: str, results: Path, run_id: str) -> list[dict[str, Any]]:
    require_engine(store)
    # no --spark-master: the cluster in the endpoints file is the default
    code = main(["run", "--engine", "spark", "--spark-conf", f"spark.pyspark.python={executor_python}",
                 "--stores", store, "--workloads", "a", "--threads", "1", "--results-dir", str(results),
                 "--run-id", run_id, "--no-report", "-p", f"recordcount={RECORDS}",
                 "-p", f"operationcount={OPERATIONS}"])
    assert code == 0
    return load_results(results / run_id)


@pytest.mark.parametrize("store", ["postgres", "hbase"])
def test_ycsb_a_on_the_cluster_with_executors_lacking_storagebench(
        store: str, master: str, executor_python: str, tmp_path: Path) -> None:
    results = {r["phase"]: r for r in _run(store, executor_python, tmp_path, f"cluster-{store}")}
    assert set(results) == {"load", "run"}
    for phase, r in results.items():
        assert r["status"] == "ok", r["reason"]
        assert r["config"]["spark_master"] == master
        spark = r["spark"]
        assert spark["master"] == master and spark["coordinated_start"] is True
        executors = spark["shipped"]["executors"]
        assert executors and all(e["executable"] == executor_python for e in executors)
        assert all(e["storagebench"] == "shipped" for e in executors), executors
        # what the executors lacked came from the driver, and the workload still ran
        assert {"numpy", "pydantic", "hdrhistogram"} <= set(spark["shipped"]["dependencies"])
        assert r["totals"]["failed"] == 0, r["errors"]
        expected = RECORDS if phase == "load" else OPERATIONS
        assert r["totals"]["operations"] == expected
        assert [w["operations"] for w in r["workers"]] == [expected]
    ops = results["run"]["operations"]
    assert ops["read"]["status_counts"]["OK"] + ops["update"]["status_counts"]["OK"] == OPERATIONS


def test_progress_arrives_while_tasks_run(master: str, executor_python: str) -> None:
    from storagebench.workloads import spec as wspec

    from storagebench.running.phase import run_phase
    from storagebench.running.runner import PhasePlan

    spec = wspec.resolve("c", {"recordcount": 100, "operationcount": 3000, "target": 1000})
    seen: list[tuple[int, int]] = []
    plan = PhasePlan("null", {}, spec, "run", "sbench_progress", seed=3, threads=1, engine="spark",
                     spark_master=master, spark_conf={"spark.pyspark.python": executor_python})
    outcome = run_phase(plan, lambda done, failed: seen.append((done, failed)))
    assert not outcome.fatal, outcome.fatal
    assert any(0 < done < 3000 for done, _ in seen), f"no progress before the end: {seen[-5:]}"
    assert seen[-1] == (3000, 0)
    # the target is one worker's share; its intended latency is recorded per worker
    assert outcome.spark is not None and outcome.spark["target_per_worker"] == 1000
    (worker,) = outcome.workers
    assert worker["target_ops_per_sec"] == 1000 and "intended_latency" in worker


def test_services_status_and_loopback_only(master: str) -> None:
    from storagebench.services import load_service, service_names
    from storagebench.services.base import ServiceContext
    from storagebench.services.manager import Manager

    manager = Manager(ServiceContext(echo=lambda _m: None), list(service_names()), load_service)
    (row,) = manager.status(["spark"])
    assert row["state"] == "up" and row["version"].startswith("Spark 3.5"), row
    pids = {p.pid for p in manager.processes("spark") if p.alive}
    assert len(pids) >= 2, "a master and at least one worker"
    listening = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, timeout=10).stdout.splitlines()
    ours = [line for line in listening if any(f"pid={pid}," in line for pid in pids)]
    assert ours, "the master and workers listen"
    for line in ours:  # the master/worker RPC and both web UIs: 127.0.0.1 only (SPARK_LOCAL_IP)
        local = line.split()[3]
        assert local.startswith(("127.0.0.1:", "[::ffff:127.0.0.1]:")), line
