"""Spark as the distributed load generator: each partition of one Spark job is one harness worker.

``run_workers_on_spark(plan, workers)`` parallelizes ``range(workers)`` into ``workers`` partitions; each
task calls :func:`storagebench.runner.run_worker` (its own adapter instance, connection, Recorder and
operation stream, exactly as a local thread) and returns the worker's export: plain data with the
HdrHistograms in their standard encoding.  The driver collects the exports and the runner merges them
with the same code as local runs, so result files have the same shape.

When the cluster has a free slot for every worker, the stage runs in barrier mode: all workers are
launched together and start their clocks after a common barrier, so they really run concurrently.
Otherwise tasks run as slots free up (the result file still records every worker's figures).

Executors must be able to import the project: in local mode they run this venv's interpreter; for a
remote master the driver ships ``storagebench``, ``adapters`` and ``workloads`` as a zip (the executors
still need the drivers the chosen adapter uses, e.g. psycopg2).
"""

from __future__ import annotations

import importlib
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from storagebench.runner import PhasePlan, run_worker
from storagebench.spark.session import get_session, is_local

PACKAGES = ("storagebench", "storagebench.adapters", "storagebench.workloads", "storagebench.report")


Partition = Callable[[int, Iterator[int]], Iterator[dict[str, Any]]]


def _partition(plan: PhasePlan, workers: int, barrier: bool) -> Partition:
    def work(_index: int, ids: Iterator[int]) -> Iterator[dict[str, Any]]:
        if barrier:
            from pyspark import BarrierTaskContext

            BarrierTaskContext.get().barrier()
        for worker_id in ids:
            progress = [0] * (2 * workers)
            export = run_worker(plan, worker_id, workers, progress, time.time())
            export["worker"] = worker_id
            export["done"], export["failed_ops"] = progress[2 * worker_id], progress[2 * worker_id + 1]
            yield export

    return work


def _ship_code(context: Any) -> None:
    """Zip the project's packages once per driver and add them to the executors' Python path."""
    if getattr(context, "_storagebench_shipped", False):
        return
    target = Path(tempfile.mkdtemp(prefix="sbench-spark-")) / "storagebench-code.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        written: set[str] = set()
        for name in PACKAGES:  # the subpackages may live outside storagebench/ (package-dir in pyproject.toml)
            root = Path(importlib.import_module(name).__file__ or "").parent
            for path in root.rglob("*"):
                arcname = str(Path(*name.split(".")) / path.relative_to(root))
                if path.is_file() and "__pycache__" not in path.parts and arcname not in written:
                    archive.write(path, arcname)
                    written.add(arcname)
    context.addPyFile(str(target))
    context._storagebench_shipped = True


def run_workers_on_spark(plan: PhasePlan, workers: int,
                         on_progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """Run ``workers`` harness workers as the partitions of one Spark job; return their exports."""
    try:
        session = get_session(plan.spark_master, app=f"storagebench {plan.adapter} {plan.spec.name} {plan.phase}")
    except Exception as exc:  # no Java, bad master URL ...: every worker reports it, the run goes on
        return [{"fatal": f"spark: cannot start a session on {plan.spark_master}: {type(exc).__name__}: {exc}"}
                for _ in range(workers)]
    context = session.sparkContext
    if not is_local(plan.spark_master):
        _ship_code(context)
    barrier = workers <= context.defaultParallelism
    rdd = context.parallelize(range(workers), workers)
    work = _partition(plan, workers, barrier)
    try:
        if barrier:
            exports = rdd.barrier().mapPartitionsWithIndex(work).collect()
        else:
            exports = rdd.mapPartitionsWithIndex(work).collect()
    except Exception as exc:  # a task died beyond Spark's retries: reported per worker, never a hang
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return [{"fatal": f"spark job failed: {type(exc).__name__}: {first}"} for _ in range(workers)]
    exports.sort(key=lambda e: e.get("worker", 0))
    if on_progress:
        on_progress(sum(e.get("done", 0) for e in exports), sum(e.get("failed_ops", 0) for e in exports))
    return list(exports)
