"""The bare-driver peer of ``benchmarks/peers.py``: the same YCSB C reads through the same Python driver
the adapter uses, in a bare loop, with no harness and no checks.

It answers the question the peer table raises: is a gap to go-ycsb the harness's, or the Python driver's?
``storagebench / bare`` is what the harness itself (runner, timing proxy, histograms, the check of every
value read) costs on that store; ``bare / go-ycsb`` is what the language and its driver cost, which no
Python harness can win back.

Each client is a spawned process; it connects, takes the zipfian keys storagebench's own generator
chooses (drawn before the clock starts), waits at a barrier, then for ``seconds`` does one driver call per
key and fetches the answer, timing each call with ``perf_counter_ns``:

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

import multiprocessing as mp
import os
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
        from storagebench.adapters.s3 import bucket_name

        records = adapter.records
        if records is None:
            raise RuntimeError("bare s3 needs the obstore driver")
        store, get = records.store(bucket_name(NAMESPACE)), records.obstore.get
        return lambda key: get(store, key).bytes()
    raise ValueError(f"no bare driver loop for {target!r}")


def _client(target: str, options: dict[str, Any], records: int, worker: int, workers: int, seconds: float,
            barrier: Any, out: Any) -> None:
    spec = _spec(records)
    adapter = load_adapter(target)(options)
    adapter.placement = Placement(workers, 1, os.cpu_count() or 1)  # as the runner places its clients
    adapter.connect()
    try:
        read = _reader(target, adapter, spec.field_names())
        keys = OperationStream(spec, 7, worker, workers).batch(KEYS).names or []
        read(keys[0])  # the first call pays for lazy set-up (as storagebench's load phase does)
        barrier.wait()
        now = time.perf_counter_ns
        lat: list[int] = []
        cpu = time.thread_time()
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
        out.put((i, (now() - began) / 1e9, lat[::max(1, len(lat) // 50_000)], time.thread_time() - cpu))
    except Exception as exc:
        out.put(exc)
    finally:
        adapter.close()


def run(target: str, clients: int, records: int, seconds: float) -> tuple[float, float, float, float, float]:
    """(ops/s, p50 µs, p99 µs, mean µs, CPU µs per operation) of ``clients`` bare-driver processes over the
    loaded namespace."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(clients), ctx.Queue()
    options = _options(target)
    procs = [ctx.Process(target=_client, args=(target, options, records, w, clients, seconds, barrier, out))
             for w in range(clients)]
    for p in procs:
        p.start()
    answers = [out.get(timeout=seconds + 300) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    errors = [a for a in answers if isinstance(a, Exception)]
    if errors:
        raise errors[0]
    rate = sum(count / elapsed for count, elapsed, _, _ in answers)
    lat = sorted(v for _, _, sample, _ in answers for v in sample)
    cpu_us = 1e6 * sum(cpu for *_, cpu in answers) / max(1, sum(count for count, *_ in answers))
    return rate, lat[len(lat) // 2] / 1e3, lat[int(len(lat) * 0.99)] / 1e3, statistics.fmean(lat) / 1e3, cpu_us
