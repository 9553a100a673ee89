"""The runner: load and run phases across N threads x P processes, through the timing proxy.

Every worker owns an adapter instance (its own connection), a :class:`Recorder` and a deterministic
operation stream.  Workers of one process are threads; processes are started with ``spawn``.  At the
end, the workers' histograms are merged exactly.  A worker that keeps failing (the server died) stops
after :data:`ABORT_AFTER_FAILURES` consecutive failures; the phase then ends cleanly as "aborted".
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from storagebench.adapters.base import Adapter, Query
from storagebench.measurement import NOT_FOUND, OK, UNEXPECTED, Recorder, TimedAdapter, merge_exports
from storagebench.registry import load_adapter
from storagebench.workloads.generators import OPERATIONS, KeyNamer, OperationStream, ValueFactory, load_range
from storagebench.workloads.spec import WorkloadSpec

ABORT_AFTER_FAILURES = 200
BATCH = 1024
PROGRESS_EVERY = 128


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


@dataclass
class PhaseOutcome:
    merged: dict[str, Any]
    measured_seconds: float
    wall_seconds: float
    fatal: list[str] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)

    @property
    def workers_ok(self) -> bool:
        return not self.fatal


def _share(total: int, worker: int, workers: int) -> int:
    per, extra = divmod(total, workers)
    return per + (1 if worker < extra else 0)


class _Worker:
    def __init__(self, plan: PhasePlan, worker: int, workers: int, progress: Any) -> None:
        self.plan, self.worker, self.workers, self.progress = plan, worker, workers, progress
        spec = plan.spec
        self.recorder = Recorder(intended=spec.target > 0)
        self.values = ValueFactory(spec, plan.seed)
        self.namer = KeyNamer(spec)
        self.fields = spec.field_names()
        self.consecutive_failures = 0
        self.aborted = ""
        self.done = 0  # operations (or rows) of this phase completed, for progress

    def _publish(self) -> None:
        self.progress[2 * self.worker] = self.done
        self.progress[2 * self.worker + 1] = self.recorder.failed

    def _failed(self, proxy: TimedAdapter) -> bool:
        if proxy.last_status in (OK, NOT_FOUND):
            self.consecutive_failures = 0
            return False
        self.consecutive_failures += 1
        if self.consecutive_failures >= ABORT_AFTER_FAILURES:
            last = next(reversed(self.recorder.errors), "unknown error")
            self.aborted = f"worker {self.worker} stopped after {ABORT_AFTER_FAILURES} consecutive failures: {last}"
            return True
        return False

    def run(self, start_at: float) -> dict[str, Any]:
        plan = self.plan
        adapter: Adapter = load_adapter(plan.adapter)(plan.options)
        try:
            adapter.connect()
            adapter.init_worker(self.worker)
            proxy = TimedAdapter(adapter, self.recorder)
            delay = start_at - time.time()
            if delay > 0:
                time.sleep(delay)
            self.recorder.started_ns = time.perf_counter_ns()
            if plan.phase == "load":
                self._load(proxy)
            else:
                self._run(proxy)
            elapsed = (time.perf_counter_ns() - self.recorder.started_ns) / 1e9
        finally:
            adapter.close()
        export = self.recorder.export()
        self._publish()
        export["elapsed_s"] = max(0.0, elapsed - plan.spec.warmup) if plan.phase == "run" else elapsed
        export["aborted"] = self.aborted
        return export

    def _load(self, proxy: TimedAdapter) -> None:
        spec, ns = self.plan.spec, self.plan.namespace
        keynums = load_range(spec.recordcount, self.worker, self.workers)
        size = spec.loadbatchsize
        for lo in range(keynums.start, keynums.stop, max(size, BATCH)):
            hi = min(keynums.stop, lo + max(size, BATCH))
            names = self.namer.names(np.arange(lo, hi, dtype=np.int64))
            if size == 1:
                for key in names:
                    proxy.insert(ns, key, self.values.record(key))
                    self.done += 1
                    if self._failed(proxy):
                        return
            else:
                import pyarrow as pa

                for b in range(0, len(names), size):
                    keys = names[b:b + size]
                    cols = {f: [self.values.value(k, f) for k in keys] for f in self.fields}
                    proxy.write_batch(ns, pa.table({"key": keys, **cols}))
                    self.done += len(keys)
                    if self._failed(proxy):
                        return
            self._publish()

    def _run(self, proxy: TimedAdapter) -> None:
        plan, spec = self.plan, self.plan.spec
        ns, values, namer, rec, fields = plan.namespace, self.values, self.namer, self.recorder, self.fields
        stream = OperationStream(spec, plan.seed, self.worker, self.workers)
        todo = _share(spec.operationcount, self.worker, self.workers)
        verify = proxy.adapter.capabilities.stores_data
        # a traversal is checkable while no record it may cross can disappear
        verify_graph = verify and spec.deleteproportion == 0
        links_field = spec.links_field()
        rng = np.random.default_rng([plan.seed, 0xF1E1D, self.worker])
        now = time.perf_counter_ns
        start = rec.started_ns
        deadline = start + int(spec.maxexecutiontime * 1e9) if spec.maxexecutiontime else 0
        warmup_end = start + int(spec.warmup * 1e9)
        rec.measuring = spec.warmup <= 0
        interval = int(1e9 * self.workers / spec.target) if spec.target > 0 else 0
        timed_checks = bool(deadline or not rec.measuring or interval)
        done = 0
        while done < todo:
            batch = stream.batch(min(BATCH, todo - done))
            ops = batch.ops.tolist()
            names = namer.names(batch.keynums)
            scanlens = batch.scanlens.tolist()
            field_picks = rng.integers(0, len(fields), len(ops)).tolist()
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
                            time.sleep((intended - t) / 1e9)
                        proxy.intended_ns = intended
                op = OPERATIONS[op_index]
                key = names[i]
                if op == "read":
                    rf = None if spec.readallfields else [fields[field_picks[i]]]
                    got = proxy.read(ns, key, rf)
                    if verify and got is not None:
                        self._verify(key, got, rf)
                elif op == "update":
                    wf = fields if spec.writeallfields else [fields[field_picks[i]]]
                    proxy.update(ns, key, values.record(key, wf))
                elif op == "insert":
                    new_key = namer.name(stream.next_insert_keynum())
                    proxy.insert(ns, new_key, values.record(new_key))
                elif op == "scan":
                    rf = None if spec.readallfields else [fields[field_picks[i]]]
                    rows = proxy.scan(ns, key, scanlens[i], rf)
                    if verify and proxy.last_status == OK:
                        self._verify_scan(key, rows, scanlens[i], rf)
                elif op == "delete":
                    proxy.delete(ns, key)
                elif op == "graph":
                    reached = proxy.neighbors(ns, key, spec.graphhops, links_field)
                    if verify_graph and reached is not None:
                        expected = values.reachable(key, spec.graphhops)
                        if reached != expected:
                            rec.add("verify", UNEXPECTED, 0, 0)
                            rec.error(f"graph from {key} reached {len(reached)} keys, expected {len(expected)}")
                elif op == "query":
                    group = values.group_value(stream.query_group())
                    proxy.query(ns, Query(spec.queryfield, group, spec.queryaggregate, spec.querysumfield))
                else:  # read_modify_write, timed as a whole like YCSB's READ-MODIFY-WRITE
                    rf = None if spec.readallfields else [fields[field_picks[i]]]
                    wf = fields if spec.writeallfields else [fields[field_picks[i]]]
                    t0 = now()
                    rec.inner = True  # its read and update show in READ/UPDATE, counted once (as RMW)
                    got = proxy.read(ns, key, rf)
                    if verify and got is not None:
                        self._verify(key, got, rf)
                    status = proxy.last_status
                    if status == OK:
                        proxy.update(ns, key, values.record(key, wf))
                        status = proxy.last_status
                    rec.inner = False
                    rec.add("read_modify_write", status, t0, now(), proxy.intended_ns)
                done += 1
                self.done = done
                if self._failed(proxy):
                    return
                if done % PROGRESS_EVERY == 0:
                    self._publish()
            rec.flush()

    def _verify(self, key: str, got: Mapping[str, str], fields: Sequence[str] | None) -> None:
        problem = self.values.mismatch(key, got, fields)
        if problem:
            self.recorder.add("verify", UNEXPECTED, 0, 0)
            self.recorder.error(f"read returned wrong data: {problem}")

    def _verify_scan(self, start: str, rows: list[tuple[str, dict[str, str]]], count: int,
                     fields: Sequence[str] | None) -> None:
        keys = [k for k, _ in rows]
        problem = None
        if len(rows) > count:
            problem = f"scan from {start} asked {count} rows, got {len(rows)}"
        elif keys != sorted(keys) or (keys and keys[0] < start):
            problem = f"scan from {start} returned keys out of order or before the start key"
        else:
            for k, record in rows:
                problem = self.values.mismatch(k, record, fields)
                if problem:
                    break
        if problem:
            self.recorder.add("verify", UNEXPECTED, 0, 0)
            self.recorder.error(f"scan returned wrong data: {problem}")


def run_worker(plan: PhasePlan, worker: int, workers: int, progress: Any, start_at: float) -> dict[str, Any]:
    """One worker, anywhere (a thread here, a Spark task elsewhere): returns its export, never raises."""
    try:
        return _Worker(plan, worker, workers, progress).run(start_at)
    except Exception as exc:  # connect failure etc.: reported, never a hang
        return {"fatal": f"worker {worker}: {type(exc).__name__}: {exc}"}


def _run_workers(plan: PhasePlan, worker_ids: Sequence[int], workers: int, progress: Any,
                 start_at: float) -> list[dict[str, Any]]:
    exports: list[dict[str, Any]] = [{} for _ in worker_ids]

    def target(slot: int, wid: int) -> None:
        exports[slot] = run_worker(plan, wid, workers, progress, start_at)

    threads = [threading.Thread(target=target, args=(slot, wid), daemon=True)
               for slot, wid in enumerate(worker_ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return exports


def _process_entry(plan: PhasePlan, worker_ids: list[int], workers: int, progress: Any,
                   start_at: float, queue: Any) -> None:
    queue.put(_run_workers(plan, worker_ids, workers, progress, start_at))


def run_phase(plan: PhasePlan, on_progress: Callable[[int, int], None] | None = None,
              poll: float = 0.25) -> PhaseOutcome:
    workers = plan.threads * plan.processes
    began = time.time()
    if plan.engine == "spark":
        from storagebench.spark.loadgen import run_workers_on_spark

        exports = run_workers_on_spark(plan, workers, on_progress)
    elif plan.processes == 1:
        progress: Any = [0] * (2 * workers)
        box: list[list[dict[str, Any]]] = []
        start_at = time.time()
        t = threading.Thread(target=lambda: box.append(
            _run_workers(plan, list(range(workers)), workers, progress, start_at)), daemon=True)
        t.start()
        while t.is_alive():
            t.join(poll)
            if on_progress:
                on_progress(sum(progress[0::2]), sum(progress[1::2]))
        exports = box[0] if box else []
    else:
        ctx = mp.get_context("spawn")
        progress = ctx.Array("q", 2 * workers, lock=False)
        queue = ctx.Queue()
        start_at = time.time() + 1.5  # let spawned interpreters import before the clock starts
        procs = []
        for p in range(plan.processes):
            ids = list(range(p * plan.threads, (p + 1) * plan.threads))
            proc = ctx.Process(target=_process_entry, args=(plan, ids, workers, progress, start_at, queue))
            proc.start()
            procs.append(proc)
        exports = []
        while len(exports) < workers:
            try:
                exports.extend(queue.get(timeout=poll))
            except Exception:
                if not any(p.is_alive() for p in procs) and queue.empty():
                    dead = [p.exitcode for p in procs]
                    exports.extend({"fatal": f"worker process died (exit codes {dead})"}
                                   for _ in range(workers - len(exports)))
            if on_progress:
                on_progress(sum(progress[0::2]), sum(progress[1::2]))
        for proc in procs:
            proc.join(timeout=10)
    fatal = [e["fatal"] for e in exports if "fatal" in e]
    good = [e for e in exports if "fatal" not in e]
    merged = merge_exports(good)
    return PhaseOutcome(
        merged=merged,
        measured_seconds=max((e["elapsed_s"] for e in good), default=0.0),
        wall_seconds=time.time() - began,
        fatal=fatal,
        aborted=[e["aborted"] for e in good if e.get("aborted")],
    )
