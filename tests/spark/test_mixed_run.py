"""Per-operation and batch phases in one ``--engine spark`` run share the cluster of `storagebench services up
spark` (one worker, one core here): the per-operation phases' session gives its executors back before the batch
phase's own application starts; an application the cluster never serves fails within seconds, naming why; and
Ctrl-C stops such a run at once, whatever handler pyspark installs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from storagebench.workloads import spec as wspec

from storagebench.results.files import load_results
from storagebench.spark import batch
from storagebench.testing.engines import require_engine

pytestmark = [pytest.mark.usefixtures("spark_ready"), pytest.mark.engine("spark")]

TINY = ["-p", "recordcount=300", "-p", "operationcount=600"]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "storagebench.cli", *args]


def test_per_operation_then_batch_phases_in_one_spark_run(tmp_path: Path) -> None:
    require_engine("postgres")
    master = str(require_engine("spark")["master"])
    began = time.monotonic()
    proc = subprocess.run(_cli("run", "--engine", "spark", "--stores", "postgres", "--workloads", "a,batch",
                               "--results-dir", str(tmp_path), "--run-id", "mixed", "--no-report", *TINY),
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = load_results(tmp_path / "mixed")
    assert {(r["workload"], r["phase"]) for r in results} == {("a", "load"), ("a", "run"), ("batch", "load"),
                                                               ("batch", "run")}
    assert all(r["status"] == "ok" for r in results), [(r["workload"], r["phase"], r["reason"]) for r in results]
    assert all(r["config"]["spark_master"] == master for r in results if r["workload"] == "a")
    assert time.monotonic() - began < 300, "a mixed run must not wait for the batch process's time limit"


def test_an_application_the_cluster_never_serves_fails_within_seconds(tmp_path: Path) -> None:
    """Another application holds the cluster's only core: the batch phase fails naming that cause, in well
    under the batch time limit."""
    options = dict(require_engine("postgres"))
    master = str(require_engine("spark")["master"])
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from storagebench.spark.session import get_session\n"
        "s = get_session(sys.argv[1], app='core-holder')\n"
        "s.sparkContext.parallelize([1], 1).count()\n"  # the executor is up and holds the core
        "print('holding', flush=True)\n"
        "time.sleep(600)\n"), master], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        spec = wspec.resolve("batch", {"recordcount": 100})
        began = time.monotonic()
        result = batch.run_spark_batch("postgres", options, spec, "sbench_starved_t", 1, master)
        seconds = time.monotonic() - began
    finally:
        holder.kill()
        holder.wait()
    assert result["verified"] is False
    assert "gave this application no executor" in " ".join(result["problems"]), result["problems"]
    assert seconds < batch.STARVED_LIMIT_S + 60, seconds


def test_sigint_during_the_batch_phase_of_a_mixed_run_stops_it(tmp_path: Path) -> None:
    require_engine("postgres")
    require_engine("s3")
    proc = subprocess.Popen(_cli("run", "--engine", "spark", "--stores", "postgres,s3", "--workloads", "a,batch",
                                 "--results-dir", str(tmp_path), "--run-id", "int", "--no-report", *TINY),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        for line in proc.stdout:  # wait until the per-operation phases are done and the batch one starts
            seen.append(line)
            if line.startswith("postgres / a / run"):
                break
        time.sleep(8)  # the batch child is starting its application
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    waited = time.monotonic() - sent
    assert proc.returncode == 130, "".join(seen) + rest
    assert waited < 30, waited
    assert "s3 / a" not in rest, "the run went on to the next store after Ctrl-C"
