"""The batch (columnar) workload: write N rows as Arrow columns in batches, read them all back, run
filtered reads and aggregates, and verify every answer against the seeded data.

Write path: ``write_batch`` when the adapter has a real bulk path (timed per batch), else the measured
per-row fallback.  Every table read back is compared with the expected one row by row, as the adapter
promises it (sorted by key): the keys in that order, then each field's values.  A difference makes the
phase ``invalid`` (:attr:`BatchOutcome.mismatches`, each naming the key and the difference); it is never
reported as a fast result.  One client does the work (bulk paths bring their own parallelism).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from storagebench.adapters.base import Adapter, Query, Support
from storagebench.measuring.measurement import OK, Recorder, TimedAdapter, merge_exports
from storagebench.running.runner import PhaseOutcome
from storagebench.workloads.generators import KeyNamer
from storagebench.workloads.spec import WorkloadSpec
from storagebench.workloads.values import Values


@dataclass
class BatchOutcome:
    outcome: PhaseOutcome
    rows: int
    bytes: int
    paths: dict[str, str]
    #: operations that failed (the phase failed)
    problems: list[str] = field(default_factory=list)
    #: answers that differ from what was written (the phase is invalid)
    mismatches: list[str] = field(default_factory=list)


def expected_table(spec: WorkloadSpec, seed: int) -> pa.Table:
    namer, values = KeyNamer(spec), Values(spec, seed)
    keys = namer.names(np.arange(spec.recordcount, dtype=np.int64))
    records = [values.load_record(k) for k in keys]
    cols = {f: [r[f] for r in records] for f in spec.field_names()}
    return pa.table({"key": pa.array(keys, pa.string()), **{f: pa.array(v, pa.string()) for f, v in cols.items()}})


def table_difference(want: pa.Table, got: pa.Table, fields: list[str]) -> str | None:
    """How ``got`` differs from ``want`` (sorted by key), row by row in the order given; None if it does not."""
    want_keys, got_keys = want.column("key").to_pylist(), got.column("key").to_pylist()
    if got_keys != want_keys:
        missing, extra = set(want_keys) - set(got_keys), set(got_keys) - set(want_keys)
        if missing or extra:
            def first(keys: set[str]) -> str:
                return min(keys) + (f" (and {len(keys) - 1:,} more)" if len(keys) > 1 else "")

            return (f"{len(got_keys):,} rows, expected {len(want_keys):,}" +
                    (f"; missing {first(missing)}" if missing else "") +
                    (f"; never written: {first(extra)}" if extra else ""))
        if len(got_keys) != len(want_keys):
            return f"{len(got_keys):,} rows, expected {len(want_keys):,}: keys repeated"
        at = next(i for i, (a, b) in enumerate(zip(got_keys, want_keys, strict=True)) if a != b)
        return f"rows not in key order: row {at} is {got_keys[at]}, expected {want_keys[at]}"
    for f in fields:
        want_values, got_values = want.column(f).to_pylist(), got.column(f).to_pylist()
        if got_values != want_values:
            at = next(i for i, (a, b) in enumerate(zip(got_values, want_values, strict=True)) if a != b)
            return f"{want_keys[at]}: {f} is {str(got_values[at])[:40]!r}, expected {want_values[at][:40]!r}"
    return None


def table_bytes(table: pa.Table) -> int:
    return sum(int(pc.sum(pc.binary_length(table.column(c))).as_py() or 0) for c in table.column_names)


def _outcome(recorder: Recorder, seconds: float, problems: list[str]) -> PhaseOutcome:
    return PhaseOutcome(merged=merge_exports([recorder.export()]), measured_seconds=seconds,
                        wall_seconds=seconds, fatal=[], aborted=problems)


def _path(adapter: Adapter, op: str) -> str:
    support = adapter.capabilities.support(op)
    if op == "query":
        return f"{support} query"
    return "bulk" if support is Support.NATIVE else "per-operation fallback"


def write_phase(adapter: Adapter, spec: WorkloadSpec, namespace: str, data: pa.Table) -> BatchOutcome:
    recorder = Recorder()
    proxy = TimedAdapter(adapter, recorder)
    recorder.start(time.perf_counter_ns())
    for start in range(0, data.num_rows, spec.batchsize):
        chunk = data.slice(start, spec.batchsize)
        t0 = time.perf_counter_ns()
        proxy.write_batch(namespace, chunk)
        if adapter.capabilities.batch_write is not Support.NATIVE:
            # the fallback timed every row; also keep the batch's wall time so batches compare
            recorder.add("batch_write", OK, t0, time.perf_counter_ns())
            recorder.rows["batch_write"] = recorder.rows.get("batch_write", 0) + chunk.num_rows
    seconds = (time.perf_counter_ns() - recorder.started_ns) / 1e9
    problems = [f"write: {m} (x{n})" for m, n in list(recorder.errors.items())[:3]]
    return BatchOutcome(_outcome(recorder, seconds, problems), data.num_rows, table_bytes(data),
                        {"batch_write": _path(adapter, "batch_write")}, problems)


def read_phase(adapter: Adapter, spec: WorkloadSpec, namespace: str, data: pa.Table, seed: int) -> BatchOutcome:
    recorder = Recorder()
    proxy = TimedAdapter(adapter, recorder)
    fields = spec.field_names()
    problems: list[str] = []
    mismatches: list[str] = []
    data = data.sort_by("key")
    recorder.start(time.perf_counter_ns())
    back = proxy.read_batch(namespace, fields)
    read_rows = read_bytes = 0
    verify = adapter.capabilities.stores_data
    if back is None:
        problems.append("batch read failed: " + "; ".join(recorder.errors))
    else:
        read_rows, read_bytes = back.num_rows, table_bytes(back)
        difference = table_difference(data, back, fields) if verify else None
        if difference:
            mismatches.append(f"batch read: {difference}")
    values = Values(spec, seed)
    qf, sf = spec.queryfield, spec.querysumfield
    for group in range(min(spec.batchqueries, spec.querygroups)):
        equals = values.group_value(group)
        expected = data.filter(pc.equal(data[qf], equals))
        subset = proxy.read_batch_where(namespace, fields, qf, equals)
        if subset is None:
            problems.append(f"filtered read {qf}={equals} failed")
        elif verify and (difference := table_difference(expected, subset, fields)):
            mismatches.append(f"filtered read {qf}={equals}: {difference}")
        else:
            read_rows += subset.num_rows
            read_bytes += table_bytes(subset)
        answer = proxy.query(namespace, Query(qf, equals, "sum", sf))
        want_total = sum(int(v) for v in expected.column(sf).to_pylist())
        if verify and answer is not None and (answer.count, answer.total) != (expected.num_rows, want_total):
            mismatches.append(f"aggregate {qf}={equals}: count {answer.count} and sum {answer.total}, "
                              f"expected {expected.num_rows} and {want_total}")
    seconds = (time.perf_counter_ns() - recorder.started_ns) / 1e9
    problems.extend(f"{m} (x{n})" for m, n in list(recorder.errors.items())[:3])
    return BatchOutcome(_outcome(recorder, seconds, problems), read_rows, read_bytes,
                        {op: _path(adapter, op) for op in ("batch_read", "batch_filter", "query")}, problems,
                        mismatches)


def batch_summary(result: BatchOutcome) -> dict[str, Any]:
    seconds = result.outcome.measured_seconds
    return {
        "rows": result.rows, "bytes": result.bytes, "paths": result.paths,
        "rows_per_sec": result.rows / seconds if seconds > 0 else None,
        "mb_per_sec": result.bytes / 1e6 / seconds if seconds > 0 else None,
        "verified": not result.problems and not result.mismatches,
    }
