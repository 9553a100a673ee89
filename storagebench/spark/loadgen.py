"""Spark as the distributed load generator: each partition of one Spark job is one harness worker.

``run_workers_on_spark(plan, workers)`` parallelizes ``range(workers)`` into ``workers`` partitions; each
task calls :func:`storagebench.running.runner.run_watched_worker` (its own adapter instance, connection, Recorder
and operation stream, exactly as a local thread, and a watchdog of its own: a store that stops answering
ends the task after the stall timeout and the stop grace, with what it measured) and returns the worker's
export: plain data with the HdrHistograms in their standard encoding.  The driver collects the exports
and the runner merges them with the same code as local runs, so result files have the same shape.

* **Coordinated start**: when the cluster has a free slot for every worker, the stage runs in barrier
  mode: all tasks are launched together and start their clocks after a common barrier.  Otherwise tasks
  run as slots free up; the result records which (``spark.coordinated_start``).  A ``target`` rate is
  split evenly over the workers (each paces itself at ``target / workers`` and records intended latency).
* **Code shipping** (any master but ``local``): :mod:`storagebench.spark.ship` sends the project and the
  Python dependencies the executors lack; the plan travels pickled as bytes and is unpickled in the task
  only after the shipped dependencies are on the path.
* **Live metrics** (``--metrics-port``): each task sends its interval reports to the driver
  (:mod:`storagebench.spark.livefeed`), which feeds the same endpoint as local clients.
* **Live progress**: each task sends its worker's (done, failed) counters every
  :data:`PROGRESS_INTERVAL_S` as a UDP datagram to the driver (``spark.driver.host``, a port of its
  own); the driver sums the latest counters per worker while the job runs.  Lost datagrams only delay
  the display; the final figures come from the collected exports.
"""

from __future__ import annotations

import json
import pickle
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from storagebench.spark.session import get_session, is_local

if TYPE_CHECKING:
    from storagebench.spark.acks import AckServer

PROGRESS_INTERVAL_S = 0.5

Partition = Callable[[int, Iterator[int]], Iterator[dict[str, Any]]]


@dataclass
class SparkJob:
    """How the phase ran on Spark (recorded in the result file's ``spark`` field)."""

    master: str
    spark_version: str = ""
    slots: int = 0
    coordinated_start: bool = False
    target_per_worker: float | None = None
    shipped: dict[str, Any] = field(default_factory=dict)
    #: how run-phase inserts became choosable across tasks (None: the phase chose none of them)
    insert_counter: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"master": self.master, "spark_version": self.spark_version, "slots": self.slots,
                "coordinated_start": self.coordinated_start, "target_per_worker": self.target_per_worker,
                "shipped": self.shipped, "insert_counter": self.insert_counter}


def _ack_server(plan: Any, host: str, workers: int) -> AckServer | None:
    """The driver's acknowledged-insert counter, when the run phase chooses keys among its inserts."""
    from storagebench.workloads.generators import chooses_among_inserts

    if (plan.phase != "run" or plan.spec.insertproportion <= 0 or not chooses_among_inserts(plan.spec)
            or plan.dataset is not None):  # tasks on a data set choose among their own inserts, as hosts do
        return None
    from storagebench.spark.acks import AckServer

    return AckServer(host, plan.spec.recordcount, workers)


def insert_counter_summary(exports: list[dict[str, Any]]) -> dict[str, Any]:
    """The tasks' counts together: how many dynamic choices fell on inserts, how many on other tasks'."""
    from storagebench.spark.acks import REFRESH_S

    parts = [e["insert_counter"] for e in exports if "insert_counter" in e]
    total = {k: sum(int(p[k]) for p in parts) for k in ("inserted", "picked_inserts", "picked_others",
                                                        "exchanges", "failed_exchanges")}
    return {"scope": "cluster: every task's acknowledged inserts, striped keys, via the driver",
            "refresh_s": REFRESH_S, **total}


def _reporter(address: tuple[str, int], worker: int, progress: list[int], stop: threading.Event,
              slot: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        while True:
            finished = stop.wait(PROGRESS_INTERVAL_S)
            message = json.dumps([worker, progress[2 * slot], progress[2 * slot + 1]]).encode()
            try:
                sock.sendto(message, address)
            except OSError:
                pass  # progress is best effort; the export carries the real figures
            if finished:
                return


def _partition(plan_bytes: bytes, workers: int, barrier: bool, archives: list[str],
               progress_to: tuple[str, int], acks_at: tuple[str, int] | None,
               feed_at: tuple[str, int] | None) -> Partition:
    def work(index: int, ids: Iterator[int]) -> Iterator[dict[str, Any]]:
        from storagebench.spark.ship import use_archives

        use_archives(archives)  # before anything imports numpy, pydantic, a driver ...
        from pyspark import TaskContext

        from storagebench.running.runner import run_watched_worker
        from storagebench.spark.acks import Messenger
        from storagebench.spark.livefeed import Sender
        from storagebench.workloads.generators import StripedCounter

        plan = pickle.loads(plan_bytes)
        if barrier:
            from pyspark import BarrierTaskContext

            BarrierTaskContext.get().barrier()
        context = TaskContext.get()
        for worker_id in ids:
            # a task on a data set runs as a host of one client: its worker is 0 of 1 (spark.hosts)
            slot = 0 if plan.dataset is not None else worker_id
            progress = [0] * (2 * workers)
            stop = threading.Event()
            reporter = threading.Thread(target=_reporter, args=(progress_to, worker_id, progress, stop, slot),
                                        daemon=True)
            reporter.start()
            started = time.time()
            counter = StripedCounter(plan.spec.recordcount, worker_id, workers)
            messenger = Messenger(counter, acks_at) if acks_at is not None else None
            sender = Sender(feed_at) if feed_at is not None else None
            try:
                if plan.dataset is not None:
                    from storagebench.spark.hosts import run_task

                    export = run_task(plan, worker_id, workers, progress, started,
                                      sender.reports if sender is not None else None)
                else:
                    export = run_watched_worker(plan, worker_id, workers, progress, started, counter,
                                                sender.reports if sender is not None else None)
            finally:
                stop.set()
                reporter.join(timeout=2)
                counted = messenger.close() if messenger is not None else None
                if sender is not None:
                    sender.close()
            if counted is not None:
                export["insert_counter"] = counted
            export["done"], export["failed_ops"] = progress[2 * slot], progress[2 * slot + 1]
            export["host"] = socket.gethostname()
            export["start_epoch"] = started
            export["partition"] = index
            export["attempt"] = context.attemptNumber() if context is not None else 0
            yield export

    return work


def concurrent_slots(context: Any, wait_s: float = 30.0) -> int:
    """How many tasks the cluster runs at once (what a barrier stage needs), once executors registered."""
    scala = context._jsc.sc()
    profile = scala.resourceProfileManager().defaultResourceProfile()
    deadline = time.monotonic() + wait_s
    while True:
        slots = int(scala.maxNumConcurrentTasks(profile))
        if slots > 0 or time.monotonic() > deadline:
            return slots
        time.sleep(0.2)


def _listen(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(0.25)
    return sock


def run_workers_on_spark(plan: Any, workers: int, on_progress: Callable[[int, int], None] | None = None
                         ) -> tuple[list[dict[str, Any]], SparkJob]:
    """Run ``workers`` harness workers as the partitions of one Spark job; return their exports and how."""
    job = SparkJob(master=plan.spark_master)
    try:
        session = get_session(plan.spark_master, app=f"storagebench {plan.adapter} {plan.spec.name} {plan.phase}",
                              conf=dict(plan.spark_conf))
    except Exception as exc:  # no Java, bad master URL ...: every worker reports it, the run goes on
        return [{"fatal": f"spark: cannot start a session on {plan.spark_master}: {type(exc).__name__}: {exc}"}
                for _ in range(workers)], job
    context = session.sparkContext
    job.spark_version = str(context.version)
    job.slots = concurrent_slots(context)
    archives: list[str] = []
    if not is_local(plan.spark_master):
        from storagebench.spark.ship import ship

        try:
            shipment = ship(context, plan.adapter, job.slots)
        except Exception as exc:
            return [{"fatal": f"spark: cannot ship the workers' code: {exc}"} for _ in range(workers)], job
        job.shipped = shipment.as_dict()
        archives = shipment.archives
    job.coordinated_start = workers <= job.slots
    job.target_per_worker = plan.spec.target / workers if plan.spec.target > 0 else None
    host = context.getConf().get("spark.driver.host") or "127.0.0.1"
    listener = _listen(host)
    acks = _ack_server(plan, host, workers)
    from storagebench.running import live  # not at the top: executors import this module before their deps

    metrics = live.ACTIVE
    feed = None
    if metrics is not None:
        from storagebench.spark.livefeed import Feed

        metrics.begin(plan.adapter, plan.spec.name, plan.phase)
        feed = Feed(host, metrics.take)
    rdd = context.parallelize(range(workers), workers)
    work = _partition(pickle.dumps(plan), workers, job.coordinated_start, archives, listener.getsockname(),
                      acks.address if acks is not None else None, feed.address if feed is not None else None)
    box: dict[str, Any] = {}

    def collect() -> None:
        try:
            stage = rdd.barrier() if job.coordinated_start else rdd
            box["exports"] = stage.mapPartitionsWithIndex(work).collect()
        except Exception as exc:  # a task died beyond Spark's retries: reported per worker, never a hang
            box["error"] = exc

    runner = threading.Thread(target=collect, daemon=True)
    runner.start()
    latest: dict[int, tuple[int, int]] = {}
    with listener:
        while runner.is_alive():
            try:
                worker, done, failed = json.loads(listener.recv(256))
                latest[int(worker)] = (max(done, latest.get(worker, (0, 0))[0]), failed)
            except (TimeoutError, ValueError, TypeError):
                pass
            if on_progress and latest:
                on_progress(sum(d for d, _ in latest.values()), sum(f for _, f in latest.values()))
    runner.join()
    if acks is not None:
        acks.close()
    if feed is not None and metrics is not None:
        feed.close()
        metrics.end()
    if "error" in box:
        error = box["error"]
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return [{"fatal": f"spark job failed: {type(error).__name__}: {first}"} for _ in range(workers)], job
    exports: list[dict[str, Any]] = sorted(box["exports"], key=lambda e: e.get("worker", 0))
    if acks is not None:
        job.insert_counter = insert_counter_summary(exports)
    if on_progress:
        on_progress(sum(e.get("done", 0) for e in exports), sum(e.get("failed_ops", 0) for e in exports))
    return exports, job
