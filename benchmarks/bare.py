"""The bare-driver peer of ``benchmarks/peers.py``: the same YCSB C reads through the same Python driver
the adapter uses, in a bare loop, with no harness and no checks.

It answers the question the peer table raises: is a gap to go-ycsb the harness's, or the Python driver's?
``storagebench / bare`` is what the harness itself (runner, timing proxy, histograms, the check of every
value read) costs on that store; ``bare / go-ycsb`` is what the language and its driver cost, which no
Python harness can win back.

The clients are placed as storagebench places them (:func:`storagebench.running.runner.client_layout`): a
spawned process each, or, for a cooperative store with more clients than cores, a process per core whose
clients are greenlets of one thread waiting through :mod:`storagebench.running.coop`.  Each client connects,
takes the zipfian keys storagebench's own generator chooses (drawn before the clock starts), waits at a
barrier, then for ``seconds`` does one driver call per key and fetches the answer, timing each call with
``perf_counter_ns``:

* postgres: the adapter's driver session on a prepared ``SELECT`` of the ten fields (psycopg 3
  ``exec_prepared`` with the wait the adapter picks for this many clients, or psycopg2 ``EXECUTE`` and
  ``fetchone()``, as the postgres options say);
* mongodb: pymongo ``find_one({"_id": key})``;
* s3: obstore ``get(store, key).bytes()``.

The data is loaded once per target through the adapter (namespace :data:`NAMESPACE`) and dropped at the end.

Read its one-client figures as a ceiling, not a target: the loop sends the next request about a
microsecond after the answer, before the server has gone back to sleep.  On a 2-core VM (2026-12-04),
the PostgreSQL loop made 32.5 k reads/s (p50 28 µs) back to back; with a 3 µs busy pause after each
read, 20.0 k (p50 46 µs), with 6 µs 18.8 k, with 12 µs 16.7 k: a few microseconds of client work
between requests let the backend sleep, and waking it costs about 18 µs.  Any client that does work
between operations (storagebench checks every answer and records its latency; go-ycsb has its own
bookkeeping) pays that wake, so a one-client ratio to this loop mostly measures the wake.
"""

from __future__ import annotations

import functools
import multiprocessing as mp
import statistics
import time
from collections.abc import Callable
from typing import Any

from storagebench.adapters.base import Placement
from storagebench.workloads.generators import KeyNamer, OperationStream
from storagebench.workloads.spec import resolve
from storagebench.workloads.values import LOAD_WRITER, Values

from storagebench.config import RunConfig, plain_options, store_options
from storagebench.registry import load_adapter
from storagebench.running import coop
from storagebench.running.runner import PhasePlan, client_layout

NAMESPACE = "sbench_peer_bare"
TARGETS = ("postgres", "mongodb", "s3")
#: keys drawn per client before the clock starts (cycled when a run is longer)
KEYS = 200_000


def _spec(records: int) -> Any:
    return resolve("c", {"recordcount": records, "operationcount": KEYS, "fieldcount": 10, "fieldlength": 100,
                         "readallfields": True, "requestdistribution": "zipfian"})


def _options(target: str) -> dict[str, Any]:
    return plain_options(store_options(target, RunConfig()))


def load(target: str, records: int) -> None:
    """Load ``records`` records of YCSB C into :data:`NAMESPACE` through the adapter (replacing any)."""
    spec = _spec(records)
    adapter = load_adapter(target)(_options(target))
    adapter.connect()
    try:
        if NAMESPACE in adapter.list_namespaces():
            adapter.drop(NAMESPACE)
        adapter.prepare(NAMESPACE, spec.field_names())
        values = Values(spec, 1, LOAD_WRITER, 0)
        names = KeyNamer(spec)
        for keynum in range(records):
            key = names.name(keynum)
            adapter.insert(NAMESPACE, key, values.load_record(key))
    finally:
        adapter.close()


def drop(target: str) -> None:
    adapter = load_adapter(target)(_options(target))
    adapter.connect()
    try:
        if NAMESPACE in adapter.list_namespaces():
            adapter.drop(NAMESPACE)
    finally:
        adapter.close()


def _reader(target: str, adapter: Any, fields: list[str]) -> Callable[[str], Any]:
    """One bare driver call per key, on the connection the adapter opened."""
    if target == "postgres":
        session = adapter.session
        columns = ", ".join(f'"{f}"' for f in fields)
        session.run(f'PREPARE sbench_bare AS SELECT {columns} FROM "{NAMESPACE}" WHERE key = $1')
        return lambda key: session.read_record("sbench_bare", key, fields)
    if target == "mongodb":
        find = adapter.db[NAMESPACE].find_one
        return lambda key: find({"_id": key})
    if target == "s3":
        from storagebench.adapters.s3.adapter import bucket_name

        records = adapter.records
        if records is None:
            raise RuntimeError("bare s3 needs the obstore driver")
        store, get = records.store(bucket_name(NAMESPACE)), records.obstore.get
        return lambda key: get(store, key).bytes()
    raise ValueError(f"no bare driver loop for {target!r}")


def _loop(target: str, options: dict[str, Any], records: int, worker: int, placement: Placement,
          seconds: float, ready: Callable[[], None]) -> tuple[int, float, list[int]]:
    """One client: connect, draw its keys, ``ready()`` (the start barrier), read for ``seconds``."""
    spec = _spec(records)
    adapter = load_adapter(target)(options)
    adapter.placement = placement  # as the runner places its clients
    adapter.connect()
    try:
        read = _reader(target, adapter, spec.field_names())
        keys = OperationStream(spec, 7, worker, placement.clients).batch(KEYS).names or []
        read(keys[0])  # the first call pays for lazy set-up (as storagebench's load phase does)
        ready()
        now = time.perf_counter_ns
        lat: list[int] = []
        began = now()
        end = began + int(seconds * 1e9)
        n, i = len(keys), 0
        while True:
            t0 = now()
            if t0 >= end:
                break
            if read(keys[i % n]) is None:
                raise RuntimeError(f"bare {target}: key {keys[i % n]} not found")
            lat.append(now() - t0)
            i += 1
        return i, (now() - began) / 1e9, lat[::max(1, len(lat) // 50_000)]
    finally:
        adapter.close()


def _process(target: str, options: dict[str, Any], records: int, workers: list[int], placement: Placement,
             seconds: float, barrier: Any, out: Any) -> None:
    """One process's clients: a thread of its own when alone, else greenlets of one thread (as the
    runner's cooperative layout); puts (operations, seconds, latency sample, CPU s) per client."""
    try:
        cpu = time.thread_time()
        if len(workers) == 1:
            answers = [_loop(target, options, records, workers[0], placement, seconds, barrier.wait)]
        else:
            results: dict[int, Any] = {}
            arrived: list[int] = []

            def ready() -> None:  # the process's clients meet, then its one thread meets the others
                arrived.append(1)
                if len(arrived) == len(workers):
                    barrier.wait()
                else:
                    while len(arrived) < len(workers):
                        coop.sleep(0.001)

            def client(w: int) -> None:
                try:
                    results[w] = _loop(target, options, records, w, placement, seconds, ready)
                except Exception as exc:
                    results[w] = exc

            coop.Hub().run([functools.partial(client, w) for w in workers])
            errors = [r for r in results.values() if isinstance(r, Exception)]
            if errors:
                raise errors[0]
            answers = [results[w] for w in workers]
        share = (time.thread_time() - cpu) / len(answers)  # set-up included: a small overcount
        for count, elapsed, sample in answers:
            out.put((count, elapsed, sample, share))
    except Exception as exc:
        out.put(exc)


def run(target: str, clients: int, records: int, seconds: float) -> tuple[float, float, float, float, float]:
    """(ops/s, p50 µs, p99 µs, mean µs, CPU µs per operation) of ``clients`` bare-driver clients over the
    loaded namespace, placed as storagebench places them (:func:`storagebench.running.runner.client_layout`)."""
    ctx = mp.get_context("spawn")
    options = _options(target)
    cooperative = load_adapter(target)(options).capabilities.cooperative
    processes, _ = client_layout(clients, cooperative=cooperative)
    plan = PhasePlan(target, options, _spec(records), "run", NAMESPACE, 7, processes=processes, clients=clients,
                     cooperative=cooperative)
    barrier, out = ctx.Barrier(processes), ctx.Queue()
    procs = [ctx.Process(target=_process, args=(target, options, records, plan.process_workers(p),
                                                plan.placement(), seconds, barrier, out))
             for p in range(processes)]
    for p in procs:
        p.start()
    answers: list[tuple[int, float, list[int], float]] = []
    while len(answers) < clients:
        answer = out.get(timeout=seconds + 300)
        if isinstance(answer, Exception):  # a failed process sends one answer: its error
            for p in procs:
                p.terminate()
            raise answer
        answers.append(answer)
    for p in procs:
        p.join(timeout=30)
    rate = sum(count / elapsed for count, elapsed, _, _ in answers)
    lat = sorted(v for _, _, sample, _ in answers for v in sample)
    cpu_us = 1e6 * sum(cpu for *_, cpu in answers) / max(1, sum(count for count, *_ in answers))
    return rate, lat[len(lat) // 2] / 1e3, lat[int(len(lat) * 0.99)] / 1e3, statistics.fmean(lat) / 1e3, cpu_us
