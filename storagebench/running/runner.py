"""The runner: load and run phases across N clients, through the timing proxy.

Every client (a *worker*) owns an adapter instance (its own connection), a :class:`Recorder` and a
deterministic operation stream.  Clients are spread over processes (started with ``spawn``); clients
sharing a process are threads.  :func:`client_layout` picks the default spread for ``--clients``: one
process per client (up to :data:`PROCESSES_PER_CORE` per core), so the GIL of one interpreter never caps
a store.  Clients start together: each connects and sets up its generators, then waits on a start gate
that the coordinator opens once every client is ready (a client that failed to connect holds nobody up),
so no client measures while others are still importing or connecting.  At the end, the workers'
histograms are merged exactly.

Liveness: a worker that keeps failing (the server died) stops after :data:`ABORT_AFTER_FAILURES`
consecutive failures.  Independently of failure counts, the coordinator (the thread that started the
workers) watches every worker's count of successful operations: when none has completed for
``stall_timeout`` seconds, or the run phase passes ``maxexecutiontime``, or a SIGINT/SIGTERM arrives, it
raises the shared stop flag (before the gate opens, a client getting ready counts as progress: clients
that never finish connecting stall the phase the same way).  Workers check the flag after every
operation; a worker still blocked inside a driver call :data:`STOP_GRACE_S` later is given up on, and
what it measured so far is kept.  So a phase never outlives its deadline (or its stall timeout) by more
than the grace, whatever the store does.
"""

from __future__ import annotations

import dataclasses
import functools
import multiprocessing as mp
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from storagebench.adapters.base import Adapter, Join, Placement, Query
from storagebench.errors import Interrupted
from storagebench.measuring.checks import Checker
from storagebench.measuring.keys import keyed
from storagebench.measuring.ledger import Ledger
from storagebench.measuring.measurement import (
    NOT_FOUND,
    OK,
    UNAVAILABLE,
    UNEXPECTED,
    Recorder,
    TimedAdapter,
    decode,
    merge_exports,
    new_histogram,
)
from storagebench.registry import load_adapter
from storagebench.running import coop, live
from storagebench.workloads.documents import FIND_PATH, PLACED_FROM, PLACED_SPAN, RANGE_PATH, UPDATE_PATH, range_width
from storagebench.workloads.generators import (
    OPERATIONS,
    AcknowledgedCounter,
    InsertCounter,
    KeyNamer,
    OperationStream,
    StripedCounter,
    load_range,
    owned_twin,
)
from storagebench.workloads.spec import WorkloadSpec
from storagebench.workloads.values import LOAD_WRITER, Values

ABORT_AFTER_FAILURES = 200
#: a worker whose connection is gone opens a new one at most this often
RECONNECT_EVERY_S = 0.5
_SUCCESS = (OK, NOT_FOUND)
BATCH = 1024
PROGRESS_EVERY = 128
#: default seconds without a single successful operation after which a phase is aborted
STALL_TIMEOUT_S = 30.0
#: seconds a worker gets to return after the stop flag before it is given up on
STOP_GRACE_S = 5.0
#: gaps without a successful operation at least this long are recorded as dead intervals
DEAD_INTERVAL_MIN_S = 1.0
#: why the coordinator stopped the workers (value of the shared stop flag)
STOP_NONE, STOP_STALLED, STOP_DEADLINE, STOP_INTERRUPTED = 0, 1, 2, 3
#: the default layout puts each client in its own process, up to this many processes per core; more
#: clients than that share processes as threads (interpreters beyond that only cost memory and start-up)
PROCESSES_PER_CORE = 2
#: seconds between the gate opening and the common start (every client is asleep on the gate by then)
GATE_LEAD_S = 0.02


def client_layout(clients: int, multiprocess: bool = True, cores: int | None = None,
                  cooperative: bool = False) -> tuple[int, int]:
    """Default (processes, clients) placement: a process per client while that helps, else threads.

    A store that cannot be opened from several processes (``multiprocess=False``) gets one process.  A
    store whose clients can share a thread (``cooperative``, see :mod:`storagebench.running.coop`) gets a
    process per core at most: more processes than cores only add context switches, which its clients
    sharing a thread avoid.
    """
    if clients < 1:
        raise ValueError("clients must be >= 1")
    if not multiprocess:
        return 1, clients
    cores = max(1, cores or os.cpu_count() or 1)
    return min(clients, cores if cooperative else cores * PROCESSES_PER_CORE), clients


@dataclass(frozen=True)
class SparkDataset:
    """What a Spark task needs to run as one client host of a data set (:mod:`storagebench.spark.hosts`)."""

    #: the data set's state file (every executor must see it: this machine's, or a shared filesystem)
    state_path: str
    seq_base: int
    #: the store creates a record on an update of a missing key (the read-back's judgement needs it)
    update_creates: bool


@dataclass(frozen=True)
class PhasePlan:
    adapter: str
    options: Mapping[str, Any]
    spec: WorkloadSpec
    phase: str  # "load" | "run"
    namespace: str
    seed: int
    threads: int = 1
    processes: int = 1
    #: "local" (threads x processes here) or "spark" (each Spark partition is one worker)
    engine: str = "local"
    spark_master: str = "local[2]"
    #: seconds without any successful operation after which the phase is aborted
    stall_timeout: float = STALL_TIMEOUT_S
    #: seconds workers get to return after the stop flag before they are given up on
    stop_grace: float = STOP_GRACE_S
    #: total clients, spread as evenly as possible over ``processes``; 0: ``threads`` in each process
    clients: int = 0
    #: extra Spark settings for the session (e.g. spark.pyspark.python for a remote cluster's executors)
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    #: the clients of a process share one thread as greenlets (:mod:`storagebench.running.coop`), not threads
    cooperative: bool = False
    #: a worker stops after this many consecutive failures (0: never; a fault run expects a stretch of them)
    abort_after_failures: int = ABORT_AFTER_FAILURES
    #: a Spark run on a data set: each task runs as one client host of it (:mod:`storagebench.spark.hosts`)
    dataset: SparkDataset | None = None

    @property
    def workers(self) -> int:
        return self.clients or self.threads * self.processes

    def process_workers(self, process: int) -> list[int]:
        """The worker ids process ``process`` runs (contiguous, as even as possible)."""
        lo = sum(_share(self.workers, p, self.processes) for p in range(process))
        return list(range(lo, lo + _share(self.workers, process, self.processes)))

    def placement(self) -> Placement:
        """What an adapter is told about where it runs (:attr:`Adapter.placement`); a Spark task is a
        Python worker process of its own."""
        shared = 1 if self.engine == "spark" else max(len(self.process_workers(p)) for p in range(self.processes))
        return Placement(self.workers, shared, os.cpu_count() or 1, self.shares_threads)

    @property
    def shares_threads(self) -> bool:
        """Clients of one process run as greenlets of one thread (cooperative, and some share a process)."""
        return self.cooperative and self.engine == "local" and self.workers > self.processes

    def layout(self) -> dict[str, Any]:
        """Where the clients ran, as result files record it (``config.client_layout``)."""
        per = [len(self.process_workers(p)) for p in range(self.processes)]
        return {"clients": self.workers, "processes": self.processes, "threads_per_process": per,
                "engine": self.engine, "clients_share": "greenlets" if self.shares_threads else "threads"}


@dataclass
class PhaseOutcome:
    merged: dict[str, Any]
    measured_seconds: float
    wall_seconds: float
    fatal: list[str] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)
    #: gaps of the phase (seconds since its start) in which no operation succeeded, longest first
    dead_intervals: list[tuple[float, float]] = field(default_factory=list)
    #: the coordinator stopped the phase because no operation succeeded for stall_timeout seconds
    stalled: str = ""
    #: the signal (SIGINT=2, SIGTERM=15) that interrupted the phase, 0 if none
    interrupted: int = 0
    #: one summary per worker (see :func:`worker_summary`)
    workers: list[dict[str, Any]] = field(default_factory=list)
    #: how the phase ran on Spark (engine "spark" only)
    spark: dict[str, Any] | None = None
    #: a Spark run on a data set: each task's read-back and part of the state (:mod:`storagebench.spark.hosts`)
    host_parts: list[dict[str, Any]] | None = None
    #: the client library as the workers ran it (:meth:`Adapter.client_info` after their connect); when
    #: workers differ, each distinct ``driver`` joined by " | "
    client: dict[str, str] = field(default_factory=dict)

    @property
    def workers_ok(self) -> bool:
        return not self.fatal


def _share(total: int, worker: int, workers: int) -> int:
    per, extra = divmod(total, workers)
    return per + (1 if worker < extra else 0)


def new_control(workers: int) -> list[int]:
    """The coordinator's shared slots (worker processes add one slot each after them: 1 once started):

    * ``workers``: the stop flag (:data:`STOP_NONE` or why the coordinator stopped the workers);
    * ``workers + 1``: the start gate: 0 while closed, then the common start time (epoch ns);
    * ``workers + 2 + w``: :data:`SETTING_UP` once worker ``w`` is connected and the harness is setting up its
      generators and checks, :data:`READY` once set up (or failed: it holds nobody up);
    * :func:`ok_slot`: successful operations per worker (the watchdog's view), each on a cache line of its
      own, after the slots above: a worker counts every operation, and counters that shared a line made
      the workers' cores pass it back and forth on every operation (slots ``0 .. workers-1`` are unused).
    """
    return [0] * control_length(workers)


#: a worker's start slot: connected, the harness setting up its generators and checks; then set up
SETTING_UP, READY = 2, 1


def control_size(workers: int, processes: int = 0) -> int:
    return 2 * workers + 2 + processes


#: slots between two workers' success counters: 8 x 8 bytes, a cache line
_LINE = 8


def ok_slot(workers: int, worker: int) -> int:
    """Where worker ``worker`` counts its successful operations (past every other slot, processes <= workers)."""
    return (control_size(workers, workers) // _LINE + 1) * _LINE + _LINE * worker


def control_length(workers: int) -> int:
    return ok_slot(workers, workers)


def new_ledger(plan: PhasePlan, loaded: bool = False) -> Ledger:
    """The ledger of a workload's phases on this machine (in shared memory when they use processes);
    ``loaded``: take the load as done and acknowledged (a run phase whose load this ledger did not see)."""
    ledger = Ledger(plan.spec, plan.workers, mp.get_context("spawn") if plan.processes > 1 else None)
    if loaded:
        first = plan.spec.insertstart
        ledger.loaded(range(first, first + plan.spec.loaded_count()), True)
    return ledger


class _Ahead:
    """Runs an iterator on a thread of its own, at most ``depth`` items ahead of the consumer: a producer
    beside the writer.  An exception in the producer is raised in the consumer; :meth:`close` stops it."""

    _END = object()

    def __init__(self, items: Iterator[Any], depth: int = 2) -> None:
        self._items, self._queue = items, queue.Queue[Any](maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="storagebench-load-producer", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        item: Any = self._END
        try:
            for item in self._items:
                if not self._put(item):
                    return
            item = self._END
        except BaseException as exc:  # handed to the consumer, raised there
            item = exc
        self._put(item)

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[Any]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class _Worker:
    def __init__(self, plan: PhasePlan, worker: int, workers: int, progress: Any, control: Any = None,
                 counter: InsertCounter | None = None, ledger: Ledger | None = None, reports: Any = None) -> None:
        self.plan, self.worker, self.workers, self.progress = plan, worker, workers, progress
        #: where interval reports go for the live metrics (a queue; None: no endpoint, nothing sent)
        self.reports = reports
        self.reported_at = 0.0  # time.monotonic() of the last report (or of the phase's start)
        self.control = control if control is not None else new_control(workers)
        self.stop_slot = workers
        self.gate_slot = workers + 1
        self.ready_slot = workers + 2 + worker
        self.ok_slot = ok_slot(workers, worker)
        self.stopped = False  # left because the coordinator raised the stop flag
        spec = plan.spec
        #: the ledger every worker of the phase shares; None: this worker shares memory with no other (a
        #: Spark task), its ledger is its own and knows only its own writes (and the load as acknowledged)
        self.shared = ledger is not None
        if counter is None:  # workers that share no memory with the others (Spark tasks)
            counter = StripedCounter(spec.recordcount, worker, workers)
        self.counter = counter
        self.ledger = ledger if ledger is not None else new_ledger(dataclasses.replace(plan, processes=1), True)
        self.recorder = Recorder(intended=spec.target > 0, interval={} if reports is not None else None)
        run = plan.phase == "run"
        # load values are version (0, 0) of load stream `worker`; run worker w writes as writer w + 1 (of
        # host I of N, ``--host I/N``: 1 + I + N * w, so hosts sharing a data set write distinct versions)
        writer = 1 + spec.hostindex + spec.hostcount * worker
        self.values = Values(spec, plan.seed, writer if run else LOAD_WRITER, worker,
                             self.ledger.seq_base if run else 0)
        self.namer = KeyNamer(spec)
        self.fields = spec.field_names()
        self.consecutive_failures = 0
        self.last_reconnect = 0.0
        self.reconnects = 0
        self.aborted = ""
        self.done = 0  # operations (or rows) of this phase completed, for progress
        self.checker: Checker | None = None

    def _publish(self, last: bool = False) -> None:
        self.progress[2 * self.worker] = self.done
        self.progress[2 * self.worker + 1] = self.recorder.failed
        if self.reports is not None and self.reported_at:
            now = time.monotonic()
            if last or now - self.reported_at >= live.REPORT_EVERY_S:
                self.reports.put({"worker": self.worker, "span_s": now - self.reported_at,
                                  "histograms": self.recorder.take_interval()})
                self.reported_at = now

    def _failed(self, proxy: TimedAdapter) -> bool:
        """After every operation: count a success for the watchdog; True when this worker must stop."""
        control = self.control
        if control[self.stop_slot]:
            self.stopped = True
            return True
        if proxy.last_status in (OK, NOT_FOUND):
            self.consecutive_failures = 0
            control[self.ok_slot] += 1
            return False
        self.consecutive_failures += 1
        if proxy.last_status == UNAVAILABLE:
            self._reconnect(proxy.adapter)
        limit = self.plan.abort_after_failures
        if limit and self.consecutive_failures >= limit:
            last = next(reversed(self.recorder.errors), "unknown error")
            self.aborted = f"worker {self.worker} stopped after {limit} consecutive failures: {last}"
            return True
        return False

    def _reconnect(self, adapter: Adapter) -> None:
        """The connection is gone (the server died or restarted): open a new one, as an application's
        connection pool would, at most every :data:`RECONNECT_EVERY_S`; the next operation tells."""
        now = time.monotonic()
        if now - self.last_reconnect < RECONNECT_EVERY_S:
            return
        self.last_reconnect = now
        self.reconnects += 1
        try:
            adapter.close()
            adapter.connect()
            adapter.init_worker(self.worker)
        except Exception as exc:  # still down: the operations keep failing and say why
            self.recorder.error(f"reconnect: {type(exc).__name__}: {exc}")

    def ready(self) -> None:
        """Tell the coordinator this worker no longer holds the start gate (set up, or failed)."""
        self.control[self.ready_slot] = READY

    def setting_up(self) -> None:
        """Tell the coordinator this worker is connected and the harness is setting up (its own time)."""
        self.control[self.ready_slot] = SETTING_UP

    def _wait_gate(self, start_at: float) -> bool:
        """Sleep until the common start: ``start_at`` (epoch s) when given, else the coordinator's gate.

        False when the coordinator stopped the phase before it started (a stall, a signal).
        """
        self.ready()
        if start_at:
            delay = start_at - time.time()
            if delay > 0:
                coop.sleep(delay)
            return True
        control = self.control
        while not control[self.gate_slot]:
            if control[self.stop_slot]:
                self.stopped = True
                return False
            coop.sleep(0.001)
        delay = control[self.gate_slot] / 1e9 - time.time()
        if delay > 0:
            coop.sleep(delay)
        return True

    def run(self, start_at: float = 0.0) -> dict[str, Any]:
        """Connect, set up, wait for the common start, run the phase; ``start_at``: a fixed start (epoch s)
        instead of the coordinator's start gate (workers that share no memory: Spark tasks)."""
        plan = self.plan
        adapter: Adapter = load_adapter(plan.adapter)(plan.options)
        adapter.placement = plan.placement()
        client: dict[str, str] = {}
        try:
            adapter.connect()
            client = adapter.client_info()  # as this worker runs it (a driver may choose by placement)
            links = plan.spec.linked_field()
            if links is not None:
                adapter.declare_links(plan.namespace, links)
            document = plan.spec.document_field()
            if document is not None:
                adapter.declare_document(plan.namespace, document)
            adapter.init_worker(self.worker)
            self.setting_up()
            proxy = TimedAdapter(adapter, self.recorder)
            # generator set-up (zeta sums, key batches) is done before the clock starts
            stream = OperationStream(plan.spec, plan.seed, self.worker, self.workers, self.counter) \
                if plan.phase == "run" else None
            if plan.phase == "run":  # the checks' set-up (sorting the loaded keys) is done before the clock
                self.checker = Checker(plan.spec, plan.seed, self.values, self.recorder, self.workers,
                                       self.ledger, adapter.capabilities.stores_data,
                                       not adapter.capabilities.update_requires_existing, self.shared)
            go = self._wait_gate(start_at)
            self.recorder.start(time.perf_counter_ns())
            self.reported_at = time.monotonic()
            start_epoch = time.time()
            cpu_start = time.thread_time()
            if not go:
                pass
            elif stream is None:
                self._load(proxy)
            else:
                self._run(proxy, stream)
            elapsed = (time.perf_counter_ns() - self.recorder.started_ns) / 1e9
            cpu = time.thread_time() - cpu_start  # this client's own CPU (user + system) over the phase
        finally:
            adapter.close()
        self._publish(last=True)  # before the export empties the pending latencies
        export = self.recorder.export()
        export["elapsed_s"] = max(0.0, elapsed - plan.spec.warmup) if plan.phase == "run" else elapsed
        export["aborted"] = self.aborted
        export["start_epoch"] = start_epoch
        export["client"] = client
        export["cpu_s"] = cpu
        export["reconnects"] = self.reconnects
        export["worker"] = self.worker  # processes report in any order
        return export

    def snapshot(self, grace: float) -> dict[str, Any]:
        """What a worker stuck inside a driver call measured so far (it is given up on, not waited for)."""
        for _ in range(3):  # the worker may record its blocked operation right now: retry a torn copy
            try:
                export = self.recorder.export()
                break
            except RuntimeError:
                time.sleep(0.01)
        else:
            return {"worker": self.worker,
                    "fatal": f"worker {self.worker}: stuck in an operation; its measurements could not be read"}
        started = self.recorder.started_ns
        elapsed = (time.perf_counter_ns() - started) / 1e9 if started else 0.0
        if self.plan.phase == "run":
            elapsed = max(0.0, elapsed - self.plan.spec.warmup)
        export["elapsed_s"] = elapsed
        export["worker"] = self.worker
        export["aborted"] = (f"worker {self.worker} was still blocked in an operation {grace:g}s after the stop "
                             f"and was given up on")
        return export

    def _load(self, proxy: TimedAdapter) -> None:
        spec, ns = self.plan.spec, self.plan.namespace
        keynums = load_range(spec, self.worker, self.workers)
        size = spec.loadbatchsize
        # target: the load phase is throttled too (as YCSB's -load), per insert call
        interval = int(1e9 * self.workers * size / spec.target) if spec.target > 0 else 0
        start = self.recorder.started_ns
        calls = 0
        chunk = max(size, BATCH if size == 1 else 4 * BATCH)  # values are made a chunk at a time (NumPy)
        if size == 1:
            for lo in range(keynums.start, keynums.stop, chunk):
                names = self.namer.names(np.arange(lo, min(keynums.stop, lo + chunk), dtype=np.int64))
                for keynum, key in enumerate(names, lo):
                    if interval:
                        proxy.intended_ns = self._pace(start + calls * interval)
                        calls += 1
                    proxy.insert(ns, key, self.values.load_record(key))
                    self._loaded(keynum, [key], proxy.last_status)
                    self.done += 1
                    if self._failed(proxy):
                        return
                self._publish()
            return
        import pyarrow as pa

        chunks = self._load_chunks(range(keynums.start, keynums.stop, chunk), keynums.stop, chunk)
        # a producer beside the writer: the next chunk's values are made (NumPy, most of it outside the GIL)
        # while this one is written; not under a cooperative hub, whose clients share this thread
        made_ahead = _Ahead(chunks) if coop.current() is None and keynums.stop - keynums.start > chunk else None
        try:
            for lo, names, made in made_ahead if made_ahead is not None else chunks:
                for b in range(0, len(names), size):
                    keys = names[b:b + size]
                    if interval:
                        proxy.intended_ns = self._pace(start + calls * interval)
                        calls += 1
                    if made is not None:
                        cols = {f: column.slice(b, len(keys)) for f, column in made.items()}
                    else:
                        records = [self.values.load_record(k) for k in keys]
                        cols = {f: [r[f] for r in records] for f in self.fields}
                    proxy.write_batch(ns, pa.table({"key": keys, **cols}), records=True)
                    self._loaded(lo + b, keys, proxy.last_status)
                    self.done += len(keys)
                    if self._failed(proxy):
                        return
                self._publish()
        finally:
            if made_ahead is not None:
                made_ahead.close()

    def _load_chunks(self, starts: range, stop: int, chunk: int) -> Iterator[tuple[int, list[str], Any]]:
        """The load's key names and values (Arrow columns, None where they are made per record), a chunk at
        a time, in key order: the same values whichever thread makes them (one generator, one order)."""
        for lo in starts:
            names = self.namer.names(np.arange(lo, min(stop, lo + chunk), dtype=np.int64))
            yield lo, names, self.values.load_columns(names)

    def _loaded(self, first: int, keys: list[str], status: str) -> None:
        """Record in the ledger the load's inserts of ``keys`` (key numbers from ``first``)."""
        ok = status == OK
        values = self.values
        groups = [] if ok or not values.query else [(values.group_of(k), values.summand_of(k)) for k in keys]
        self.ledger.loaded(range(first, first + len(keys)), ok, groups)

    @staticmethod
    def _pace(intended: int) -> int:
        """Sleep until the intended start time of the next operation (a target rate); returns it."""
        t = time.perf_counter_ns()
        if intended > t:
            coop.sleep((intended - t) / 1e9)
        return intended

    def _run(self, proxy: TimedAdapter, stream: OperationStream) -> None:
        plan, spec = self.plan, self.plan.spec
        ns, values, namer, rec, fields = plan.namespace, self.values, self.namer, self.recorder, self.fields
        # operationcount=0: until maxexecutiontime, as YCSB
        todo = _share(spec.operationcount, self.worker, self.workers) if spec.operationcount else 1 << 62
        dynamic, key_now = stream.dynamic, stream.key
        check = self.checker
        assert check is not None
        before, issue, ledger_now = check.before, check.issue, self.ledger.now
        links_field = spec.links_field()
        paths = spec.shortestpathproportion > 0
        docfield = spec.document_field() or ""
        document = values.document
        # a range query's window: about docrangerecords of the loaded orders (a document workload keeps them all)
        window = range_width(spec.loaded_count(), spec.docrangerecords)
        writable = values.writable_fields
        rng = np.random.default_rng([plan.seed, 0xF1E1D, self.worker])
        now = time.perf_counter_ns
        start = rec.started_ns
        deadline = start + int(spec.maxexecutiontime * 1e9) if spec.maxexecutiontime else 0
        warmup_end = start + int(spec.warmup * 1e9)
        rec.measuring = spec.warmup <= 0
        interval = int(1e9 * self.workers / spec.target) if spec.target > 0 else 0
        timed_checks = bool(deadline or not rec.measuring or interval)
        readall = spec.readallfields
        control, stop_slot, my_slot = self.control, self.stop_slot, self.ok_slot
        # --host I/N: a host writes and deletes only the keys it owns; an update or delete chosen on another
        # host's key goes to the key of this host's stripe beside it (the key distribution's shape is kept)
        hosts = spec.hostcount > 1
        done = 0
        while done < todo:
            batch = stream.batch(min(BATCH, todo - done))
            ops = batch.ops.tolist()
            names = batch.names or []
            keynums = batch.keynums.tolist()
            scanlens = batch.scanlens.tolist()
            field_picks = rng.integers(0, len(fields), len(ops)).tolist()
            write_picks = rng.integers(0, len(writable), len(ops)).tolist()
            # the other end of a path: a loaded record, uniformly (drawn only when paths are asked)
            path_ends = rng.integers(0, values.records, len(ops)).tolist() if paths else []
            for i, op_index in enumerate(ops):
                if timed_checks:
                    t = now()
                    if deadline and t >= deadline:
                        return
                    if not rec.measuring and t >= warmup_end:
                        rec.measuring = True
                    if interval:
                        intended = start + done * interval
                        if intended > t:
                            coop.sleep((intended - t) / 1e9)
                        proxy.intended_ns = intended
                op = OPERATIONS[op_index]
                # a dynamic key is chosen now, among the inserts acknowledged so far (YCSB's nextKeynum)
                key = key_now(i) if dynamic else names[i]
                keynum = stream.chooser.last_keynum if dynamic else keynums[i]
                if op == "read":
                    rf = None if readall else [fields[field_picks[i]]]
                    b = before(keynum)
                    got = proxy.read(ns, key, rf)
                    check.read("read", keynum, key, got, rf, proxy.last_status, b)
                elif op == "update":
                    if hosts and owned_twin(spec, keynum) != keynum:
                        keynum = owned_twin(spec, keynum)
                        key = namer.name(keynum)
                    wf = writable if spec.writeallfields else [writable[write_picks[i]]]
                    new = values.write(key, wf)
                    t = issue(keynum, values.seq)
                    proxy.update(ns, key, new)
                    check.wrote("update", keynum, key, wf, values.seq, proxy.last_status, t)
                elif op == "insert":
                    keynum = stream.next_insert_keynum()
                    new_key = namer.name(keynum)
                    new = values.write(new_key)
                    t = issue(keynum, values.seq, new_key)
                    proxy.insert(ns, new_key, new)
                    check.wrote("insert", keynum, new_key, fields, values.seq, proxy.last_status, t)
                    stream.acknowledge(keynum)  # acknowledged whatever the outcome, as YCSB
                elif op == "scan":
                    rf = None if spec.readallfields else [fields[field_picks[i]]]
                    t = ledger_now()
                    rows = proxy.scan(ns, key, scanlens[i], rf)
                    check.scan(key, scanlens[i], rows, rf, proxy.last_status, t)
                elif op == "delete":
                    if hosts and owned_twin(spec, keynum) != keynum:  # as an update: a key this host owns
                        keynum = owned_twin(spec, keynum)
                        key = namer.name(keynum)
                    d = check.delete_issued(keynum, key)
                    proxy.delete(ns, key)
                    check.deleted_key(keynum, key, proxy.last_status, d)
                elif op == "find":
                    assert document is not None
                    customer = document.customer_value(int(rng.integers(0, spec.doccustomers)))
                    t = ledger_now()
                    found = proxy.find(ns, docfield, FIND_PATH, customer)
                    check.find(customer, found, proxy.last_status, t)
                elif op == "find_range":
                    lo = PLACED_FROM + int(rng.integers(0, PLACED_SPAN - window + 1))
                    t = ledger_now()
                    found = proxy.find_range(ns, docfield, RANGE_PATH, lo, lo + window)
                    check.find_range(lo, lo + window, found, proxy.last_status, t)
                elif op == "update_nested":
                    status = values.write_status(key)
                    t = issue(keynum, values.seq)
                    proxy.update_nested(ns, key, docfield, UPDATE_PATH, status)
                    check.wrote("update_nested", keynum, key, [docfield], values.seq, proxy.last_status, t)
                elif op == "graph":
                    t = ledger_now()
                    reached = proxy.neighbors(ns, key, spec.graphhops, links_field)
                    check.graph(key, keynum, spec.graphhops, reached, proxy.last_status, t)
                elif op == "shortest_path":
                    t = ledger_now()
                    end = namer.name(path_ends[i])
                    path = proxy.shortest_path(ns, key, end, spec.pathmaxhops, links_field)
                    check.shortest_path(key, keynum, end, spec.pathmaxhops, path, proxy.last_status, t)
                elif op == "join":
                    first = stream.join_window()
                    join = Join(spec.joingroupfield, spec.joinreffield, spec.joinsumfield, values.region(first),
                                values.region(first + spec.joinwindow - 1))
                    answer = proxy.join(ns, join)
                    check.join(first, join, answer, proxy.last_status)
                elif op == "query":
                    group = stream.query_group()
                    query = Query(spec.queryfield, values.group_value(group), spec.queryaggregate,
                                  spec.querysumfield)
                    qb = check.query_before(group)
                    result = proxy.query(ns, query)
                    check.query(group, query, result, proxy.last_status, qb)
                else:  # read_modify_write, timed as a whole like YCSB's READ-MODIFY-WRITE
                    rf = None if spec.readallfields else [fields[field_picks[i]]]
                    wf = writable if spec.writeallfields else [writable[write_picks[i]]]
                    if hosts and owned_twin(spec, keynum) != keynum:
                        keynum = owned_twin(spec, keynum)
                        key = namer.name(keynum)
                    t0 = now()
                    rec.inner = True  # its read and update show in READ/UPDATE, counted once (as RMW)
                    b = before(keynum)
                    got = proxy.read(ns, key, rf)
                    good = check.read("read", keynum, key, got, rf, proxy.last_status, b)
                    status = proxy.last_status
                    if status == OK:
                        new = values.write(key, wf)
                        t = issue(keynum, values.seq)
                        proxy.update(ns, key, new)
                        status = proxy.last_status
                        check.wrote("update", keynum, key, wf, values.seq, status, t)
                    rec.inner = False
                    rec.add("read_modify_write", status if good else UNEXPECTED, t0, now(), proxy.intended_ns)
                done += 1
                self.done = done
                # _failed's common case inlined: a success and no stop flag
                if proxy.last_status in _SUCCESS and not control[stop_slot]:
                    self.consecutive_failures = 0
                    control[my_slot] += 1
                elif self._failed(proxy):
                    return
                if done % PROGRESS_EVERY == 0:
                    self._publish()
            rec.flush()


def run_watched_worker(plan: PhasePlan, worker: int, workers: int, progress: Any, start_at: float,
                       counter: InsertCounter | None = None, reports: Any = None,
                       ledger: Ledger | None = None) -> dict[str, Any]:
    """One worker that shares no memory with the others (a Spark task), with a watchdog of its own: the
    coordinator's rules (stall timeout, the run phase's deadline, the stop grace) applied to this worker
    alone, so a store that stops answering ends the task with what it measured instead of hanging it."""
    control = new_control(workers)
    for other in range(workers):  # the others run elsewhere: none of them holds this worker up
        if other != worker:
            control[workers + 2 + other] = READY
    job = _Worker(plan, worker, workers, progress, control, counter=counter, ledger=ledger, reports=reports)
    box: dict[str, dict[str, Any]] = {}
    thread = threading.Thread(target=lambda: box.setdefault("export", _guarded(job, start_at)), daemon=True)
    thread.start()
    watchdog = _Watchdog(plan, control, workers)
    while thread.is_alive() and not watchdog.given_up(plan.stop_grace):
        thread.join(0.25)
        watchdog.check()
    export = box.get("export") or job.snapshot(plan.stop_grace)
    if watchdog.stalled and "fatal" not in export:
        export["aborted"] = "; ".join(filter(None, [f"worker {worker}: {watchdog.stalled}", export.get("aborted")]))
    return export


def _guarded(worker: _Worker, start_at: float = 0.0) -> dict[str, Any]:
    try:
        return worker.run(start_at)
    except Exception as exc:  # connect failure etc.: reported, never a hang
        return {"worker": worker.worker, "fatal": f"worker {worker.worker}: {type(exc).__name__}: {exc}"}
    finally:
        worker.ready()  # a worker that failed before the gate holds nobody up


class _Threads:
    """The worker threads of one process, started at once; collected when done or given up on."""

    def __init__(self, plan: PhasePlan, worker_ids: Sequence[int], workers: int, progress: Any, control: Any,
                 counter: InsertCounter, ledger: Ledger, reports: Any = None) -> None:
        self.workers = [_Worker(plan, wid, workers, progress, control, counter, ledger, reports)
                        for wid in worker_ids]
        self.exports: list[dict[str, Any] | None] = [None] * len(self.workers)

        def target(slot: int) -> None:
            self.exports[slot] = _guarded(self.workers[slot])

        def hub() -> None:
            coop.Hub().run([functools.partial(target, slot) for slot in range(len(self.workers))])
            self._split_cpu()

        if plan.shares_threads:  # one thread, the clients as its greenlets
            self.threads = [threading.Thread(target=hub, daemon=True)]
        else:
            self.threads = [threading.Thread(target=target, args=(slot,), daemon=True)
                            for slot in range(len(self.workers))]
        for t in self.threads:
            t.start()

    def _split_cpu(self) -> None:
        """Clients sharing a thread each measured the thread's CPU over the phase: give each its share
        by operations, so that the sum is the thread's."""
        exports = [e for e in self.exports if e is not None and "cpu_s" in e]
        if not exports:
            return
        total_cpu = max(e["cpu_s"] for e in exports)
        ops = [w.done for w, e in zip(self.workers, self.exports, strict=True) if e is not None and "cpu_s" in e]
        for export, done in zip(exports, ops, strict=True):
            export["cpu_s"] = total_cpu * done / max(1, sum(ops))

    def alive(self) -> bool:
        return any(t.is_alive() for t in self.threads)

    def wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def collect(self) -> list[dict[str, Any]]:
        """Every worker's export; a worker still running is given up on and its measurements so far kept."""
        return [export if export is not None else worker.snapshot(worker.plan.stop_grace)
                for worker, export in zip(self.workers, self.exports, strict=True)]


class _Watchdog:
    """Opens the start gate once every worker is set up, and decides when the coordinator stops the
    workers: no progress for ``stall_timeout`` seconds (before the gate: no worker got ready; after it: no
    operation succeeded), or past the run phase's own deadline.  Also records the dead intervals it saw."""

    def __init__(self, plan: PhasePlan, control: Any, workers: int) -> None:
        self.control, self.workers = control, workers
        self.stall_timeout = plan.stall_timeout
        self.maxexecutiontime = plan.spec.maxexecutiontime if plan.phase == "run" else 0
        self.start = time.time()  # the phase's start (dead intervals are measured from it)
        self.deadline = 0.0  # set when the gate opens
        self.opened = 0.0  # when the workers' common clock started (0: the gate is closed)
        self.best = 0
        self.ready_seen = 0
        self.last_progress = self.start
        self.dead: list[tuple[float, float]] = []
        self.stalled = ""
        self.stop_at = 0.0  # when the stop flag was raised (0: not raised)

    def stop(self, reason: int) -> None:
        if not self.control[self.workers]:
            self.control[self.workers] = reason
            self.stop_at = time.time()

    def open_gate(self) -> None:
        """Start every worker's clock at once when all are set up (a worker that failed holds nobody up)."""
        control, workers = self.control, self.workers
        if self.opened or not all(v == READY for v in control[workers + 2:2 * workers + 2]):
            return
        self.opened = time.time() + GATE_LEAD_S
        control[workers + 1] = int(self.opened * 1e9)
        self.last_progress = self.opened
        if self.maxexecutiontime:  # each worker stops itself then; a second more before stopping them
            self.deadline = self.opened + self.maxexecutiontime + 1.0

    def check(self, processes_ready: bool = True) -> None:
        now = time.time()
        if not processes_ready:  # spawned interpreters still importing: harness time, not the store's
            self.last_progress = max(self.last_progress, now)
        self.open_gate()
        control, workers = self.control, self.workers
        if not self.opened:  # still starting: a worker getting ready is progress (never a dead interval)
            slots = control[workers + 2:2 * workers + 2]
            ready = sum(1 for v in slots if v == READY)
            if ready > self.ready_seen:
                self.ready_seen, self.last_progress = ready, now
            if SETTING_UP in slots:  # the harness's own set-up (10 M loaded keys sorted for the checks): not
                self.last_progress = max(self.last_progress, now)  # the store's time, never a stall
        else:
            ok = sum(control[ok_slot(workers, w)] for w in range(workers))
            if ok > self.best:
                self._gap(now)
                self.best, self.last_progress = ok, now
        if self.stop_at:
            return
        if now - self.last_progress >= self.stall_timeout:
            since = self.last_progress - self.start
            if self.opened:
                self.stalled = (f"no operation succeeded for {now - self.last_progress:.1f}s (stall timeout "
                                f"{self.stall_timeout:g}s), from {since:.1f}s into the phase")
            else:
                waiting = [w for w in range(workers) if control[workers + 2 + w] != READY]
                self.stalled = (f"clients {waiting} were still connecting after {now - self.start:.1f}s; nothing "
                                f"changed for the stall timeout ({self.stall_timeout:g}s): the phase never started")
            self.stop(STOP_STALLED)
        elif self.deadline and now >= self.deadline:
            self.stop(STOP_DEADLINE)

    def _gap(self, now: float) -> None:
        # before the first success the workers are still starting (imports, connect): not a dead interval
        # unless the phase is stopped then
        if (self.best or self.stop_at) and now - self.last_progress >= DEAD_INTERVAL_MIN_S:
            self.dead.append((round(max(0.0, self.last_progress - self.start), 2), round(now - self.start, 2)))

    def given_up(self, grace: float) -> bool:
        """The stop was raised more than ``grace`` seconds ago (workers still running are given up on)."""
        return bool(self.stop_at) and time.time() - self.stop_at >= grace

    def intervals(self) -> list[tuple[float, float]]:
        """Dead intervals (seconds since the phase started), the longest 20, in time order."""
        self.check()
        self._gap(time.time())
        return sorted(sorted(self.dead, key=lambda iv: iv[0] - iv[1])[:20])


def _process_entry(plan: PhasePlan, process: int, workers: int, progress: Any, control: Any,
                   queue: Any, parent: int, counter: InsertCounter, ledger: Ledger, reports: Any) -> None:
    """A worker process: its threads, stopped by the parent's flag (or by the parent's death)."""
    worker_ids = plan.process_workers(process)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides

    def on_term(_signum: int, _frame: Any) -> None:
        control[workers] = STOP_INTERRUPTED

    signal.signal(signal.SIGTERM, on_term)
    control[control_size(workers) + process] = 1  # this process has started
    group = _Threads(plan, worker_ids, workers, progress, control, counter, ledger, reports)
    seen_stop = 0.0
    while group.alive():
        group.wait(0.25)
        if os.getppid() != parent:  # the parent was killed: stop rather than run on against its tables
            control[workers] = STOP_INTERRUPTED
            group.wait(plan.stop_grace)
            os._exit(1)
        if control[workers] and not seen_stop:
            seen_stop = time.monotonic()
        if seen_stop and time.monotonic() - seen_stop >= plan.stop_grace:
            break
    queue.put(group.collect())
    if group.alive():  # a thread blocked in a driver call must not keep this process alive
        queue.close()
        queue.join_thread()
        os._exit(0)


def run_local(plan: PhasePlan, on_progress: Callable[[int, int], None] | None = None,
              poll: float = 0.25, ledger: Ledger | None = None) -> PhaseOutcome:
    """Run one phase on this machine's threads or processes; returns when the workers finish, or when
    the coordinator stops them (stall, deadline, SIGINT/SIGTERM) and they returned or the grace passed.

    ``ledger``: the workload's (:func:`new_ledger`, shared with its load phase); without one, a run phase
    takes the load as done and acknowledged."""
    began = time.time()
    if ledger is None:
        ledger = new_ledger(plan, loaded=plan.phase == "run")
    metrics = live.ACTIVE
    pool: _ThreadPool | _ProcessPool = _ThreadPool(plan, ledger, metrics is not None) if plan.processes == 1 \
        else _ProcessPool(plan, ledger, metrics is not None)
    watchdog = _Watchdog(plan, pool.control, plan.workers)
    interrupted = 0
    if metrics is not None:
        metrics.begin(plan.adapter, plan.spec.name, plan.phase)
    try:
        pool.start()
        while not pool.done() and not watchdog.given_up(pool.grace):
            try:
                # until the gate opens, look often: every worker is waiting on it
                pool.step(poll if watchdog.opened else min(poll, 0.005))
                if on_progress:
                    on_progress(sum(pool.progress[0::2]), sum(pool.progress[1::2]))
                if metrics is not None:
                    _take_reports(pool.reports, metrics)
                watchdog.check(pool.ready())
            except (KeyboardInterrupt, Interrupted) as exc:
                if interrupted:  # a second signal: stop waiting for the workers at once
                    break
                interrupted = exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT)
                watchdog.stop(STOP_INTERRUPTED)
    finally:
        exports = pool.finish()
        if metrics is not None:
            _take_reports(pool.reports, metrics)
            metrics.end()
    outcome = outcome_of(exports, began, plan)
    outcome.dead_intervals = watchdog.intervals()
    outcome.stalled = watchdog.stalled
    outcome.interrupted = interrupted
    return outcome


def _take_reports(reports: Any, metrics: live.LiveMetrics) -> None:
    """The workers' interval reports received so far into the live metrics (the coordinator's loop)."""
    while True:
        try:
            metrics.take(reports.get_nowait())
        except (queue.Empty, OSError, ValueError):  # drained (or a closed queue after the processes ended)
            break


class _ThreadPool:
    """All workers as threads of this process."""

    def __init__(self, plan: PhasePlan, ledger: Ledger, reported: bool = False) -> None:
        self.plan, self.workers, self.ledger = plan, plan.workers, ledger
        self.grace = plan.stop_grace
        self.progress: Any = [0] * (2 * self.workers)
        self.control: Any = new_control(self.workers)
        self.reports: Any = queue.SimpleQueue() if reported else None
        self.group: _Threads | None = None
        self.counter = AcknowledgedCounter(plan.spec.recordcount)

    def start(self) -> None:
        self.group = _Threads(self.plan, list(range(self.workers)), self.workers, self.progress, self.control,
                              self.counter, self.ledger, self.reports)

    def done(self) -> bool:
        return self.group is not None and not self.group.alive()

    def ready(self) -> bool:
        return True

    def step(self, poll: float) -> None:
        if self.group is not None:
            self.group.wait(poll)

    def finish(self) -> list[dict[str, Any]]:
        return self.group.collect() if self.group is not None else []


class _ProcessPool:
    """``processes`` spawned interpreters with ``threads`` workers each; shared progress and stop flag."""

    def __init__(self, plan: PhasePlan, ledger: Ledger, reported: bool = False) -> None:
        self.plan, self.workers, self.ledger = plan, plan.workers, ledger
        self.grace = plan.stop_grace + 2.0  # each process has its own grace for its threads, then reports
        self.ctx = mp.get_context("spawn")
        self.reports: Any = self.ctx.Queue() if reported else None
        self.progress: Any = self.ctx.Array("q", 2 * self.workers, lock=False)
        self.control: Any = self.ctx.Array("q", control_length(self.workers), lock=False)
        self.queue: Any = self.ctx.Queue()
        # one acknowledged-insert counter in shared memory for the workers of every process
        self.counter = AcknowledgedCounter(plan.spec.recordcount, self.ctx)
        self.procs: list[Any] = []
        self.exports: list[dict[str, Any]] = []

    def start(self) -> None:
        plan = self.plan
        for p in range(plan.processes):
            proc = self.ctx.Process(target=_process_entry, args=(plan, p, self.workers, self.progress,
                                                                 self.control, self.queue, os.getpid(),
                                                                 self.counter, self.ledger, self.reports))
            proc.start()
            self.procs.append(proc)

    def done(self) -> bool:
        return len(self.exports) >= self.workers

    def ready(self) -> bool:
        return all(self.control[control_size(self.workers):control_size(self.workers, self.plan.processes)])

    def step(self, poll: float) -> None:
        try:
            self.exports.extend(self.queue.get(timeout=poll))
        except Exception:
            if not any(p.is_alive() for p in self.procs) and self.queue.empty():
                dead = [p.exitcode for p in self.procs]
                self.exports.extend({"fatal": f"worker process died (exit codes {dead})"}
                                    for _ in range(self.workers - len(self.exports)))

    def finish(self) -> list[dict[str, Any]]:
        """Take what the processes still send, then make sure none outlives the phase."""
        self.control[self.workers] = self.control[self.workers] or STOP_INTERRUPTED
        deadline = time.monotonic() + 1.0
        while not self.done() and time.monotonic() < deadline:
            try:
                self.exports.extend(self.queue.get(timeout=0.1))
            except Exception:
                if not any(p.is_alive() for p in self.procs):
                    break
        for proc in self.procs:
            proc.join(timeout=1.0)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=2.0)
            if proc.is_alive():
                proc.kill()
                proc.join()
        missing = self.workers - len(self.exports)
        self.exports.extend({"fatal": "worker process did not report before the phase ended (terminated)"}
                            for _ in range(max(0, missing)))
        return self.exports


def outcome_of(exports: list[dict[str, Any]], began: float, plan: PhasePlan) -> PhaseOutcome:
    """The phase's outcome from the workers' exports (histograms merged exactly)."""
    fatal = [e["fatal"] for e in exports if "fatal" in e]
    good = [e for e in exports if "fatal" not in e]
    merged = merge_exports(good)
    return PhaseOutcome(
        merged=merged,
        measured_seconds=max((e["elapsed_s"] for e in good), default=0.0),
        wall_seconds=time.time() - began,
        fatal=fatal,
        aborted=[e["aborted"] for e in good if e.get("aborted")],
        workers=[worker_summary(e, i, plan.spec.target / len(exports) if plan.spec.target > 0 else None)
                 for i, e in enumerate(exports)],
        client=workers_client([e["client"] for e in good if e.get("client")]),
    )


def workers_client(infos: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """One client description for a phase from its workers' own: theirs when they agree; else the first,
    with every distinct ``driver`` (in worker order) joined by " | "."""
    if not infos:
        return {}
    client = dict(infos[0])
    drivers = list(dict.fromkeys(i.get("driver", "") for i in infos if i.get("driver")))
    if len(drivers) > 1:
        client["driver"] = " | ".join(drivers)
    return client


def worker_summary(export: Mapping[str, Any], index: int, target: float | None) -> dict[str, Any]:
    """One worker's figures for the result file: where it ran, when it started, its share and latency."""
    if "fatal" in export:
        return {"worker": export.get("worker", index), "fatal": export["fatal"]}
    ok = [decode(t) for k, t in keyed(export["histograms"]) if k.status == OK]
    intended = [decode(t) for k, t in keyed(export["intended"]) if k.status == OK]
    summary: dict[str, Any] = {
        "worker": export.get("worker", index), "host": export.get("host") or socket.gethostname(),
        "start_epoch": export.get("start_epoch"), "elapsed_s": export.get("elapsed_s"),
        "operations": sum(decode(t).get_total_count() for k, t in export["histograms"].items()
                          if not k.startswith("verify|")),
        "target_ops_per_sec": target,
    }
    if export.get("cpu_s") is not None:  # the client thread's CPU over the phase: the harness's cost and the driver's
        summary["cpu_s"] = round(export["cpu_s"], 3)
        summary["cpu_us_per_op"] = round(1e6 * export["cpu_s"] / summary["operations"], 2) \
            if summary["operations"] else None
    for name, hists in (("latency", ok), ("intended_latency", intended)):
        if hists:
            merged = new_histogram()
            for h in hists:
                merged.add(h)
            summary[name] = {"p50_us": merged.get_value_at_percentile(50) / 1000,
                             "p99_us": merged.get_value_at_percentile(99) / 1000,
                             "max_us": merged.get_max_value() / 1000}
    if "partition" in export:
        summary["partition"], summary["attempt"] = export["partition"], export.get("attempt", 0)
    return summary
