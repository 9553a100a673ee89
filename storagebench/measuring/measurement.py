"""Measurement: the one timing proxy around every adapter, HdrHistograms, throughput time series.

Latencies are recorded in nanoseconds into HdrHistograms (1 ns .. 1 h, 3 significant digits), one per
(operation, status).  The hot path appends to plain lists; :meth:`Recorder.flush` moves them into the
histograms in bulk (``np.unique`` + ``record_value(v, count)``), which keeps per-operation overhead low
without losing a single value.  Histograms from different workers merge exactly (``add``), and they
travel between processes in HdrHistogram's standard compressed encoding.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from storagebench.adapters.base import (
    Adapter,
    Join,
    JoinResult,
    Query,
    QueryResult,
    Record,
    Support,
    fallback_read_batch,
    fallback_write_batch,
    filter_table,
)
from storagebench.errors import NotFound, Unavailable, Unsupported
from storagebench.measuring.keys import NOT_FOUND, OK, HistKey, keyed

LOWEST_NS = 1
HIGHEST_NS = 3_600_000_000_000
SIGNIFICANT_DIGITS = 3
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9, 99.99)

ERROR, UNEXPECTED, UNAVAILABLE = "ERROR", "UNEXPECTED", "UNAVAILABLE"
#: statuses of failed operations (UNEXPECTED: the store answered, but the answer failed a check)
FAILED_STATUSES = (ERROR, UNAVAILABLE, UNEXPECTED)
#: first failed-check messages kept per worker and per phase
FIRST_FAILURES = 10


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_NS, HIGHEST_NS, SIGNIFICANT_DIGITS)


def encode(hist: HdrHistogram) -> str:
    encoded = hist.encode()
    return encoded.decode() if isinstance(encoded, bytes) else str(encoded)


def decode(text: str) -> HdrHistogram:
    return HdrHistogram.decode(text.encode())


def record_many(hist: HdrHistogram, values: Sequence[int] | np.ndarray) -> None:
    """``hist.record_value`` of every value, in one pass of NumPy: the same buckets (hdrh's own index
    arithmetic, vectorised), without a Python call per value (0.74 µs each: a worker flushes a batch of
    latencies every 1,000 operations)."""
    if len(values) == 0:
        return
    arr = np.clip(np.asarray(values, dtype=np.int64), LOWEST_NS, HIGHEST_NS)
    # bucket: the smallest power of two holding value | sub_bucket_mask (its bit length; exact in float64
    # below 2**53), then the sub-bucket and the counts index, as hdrh's _counts_index_for
    bits = np.frexp((arr | hist.sub_bucket_mask).astype(np.float64))[1].astype(np.int64)
    bucket = bits - hist.unit_magnitude - (hist.sub_bucket_half_count_magnitude + 1)
    sub_bucket = arr >> (bucket + hist.unit_magnitude)
    index = ((bucket + 1) << hist.sub_bucket_half_count_magnitude) + sub_bucket - hist.sub_bucket_half_count
    slots, counts = np.unique(index, return_counts=True)
    np.ctypeslib.as_array(hist.counts)[slots] += counts.astype(np.uint64)
    hist.total_count += len(arr)
    hist.min_value = min(hist.min_value, int(arr.min()))
    hist.max_value = max(hist.max_value, int(arr.max()))


def operations_for_percentile(percentile: float) -> int:
    """The fewest operations whose ``percentile``-th percentile is not simply the slowest of them (100 for
    p99, 1000 for p99.9): with fewer, "p99" is the maximum, not a percentile.  One rule for every figure
    judged by a percentile."""
    return math.ceil(1 / (1 - percentile / 100) - 1e-9) if percentile < 100 else 1


def summarize(hist: HdrHistogram, seconds: float) -> dict[str, Any]:
    """Count, ops/s, mean, percentiles and max, in microseconds (as YCSB prints)."""
    count = hist.get_total_count()
    if count == 0:
        return {"count": 0}
    us = 1000.0
    stats: dict[str, Any] = {
        "count": count,
        "ops_per_sec": count / seconds if seconds > 0 else None,
        "mean_us": hist.get_mean_value() / us,
        "min_us": hist.get_min_value() / us,
        "max_us": hist.get_max_value() / us,
    }
    for p in PERCENTILES:
        stats[f"p{p:g}_us"] = hist.get_value_at_percentile(p) / us
    return stats


@dataclass
class Recorder:
    """Per-worker measurements.  ``measuring`` is False during warm-up."""

    intended: bool = False
    measuring: bool = True
    started_ns: int = 0
    pending: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    pending_intended: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    histograms: dict[tuple[str, str], HdrHistogram] = field(default_factory=dict)
    intended_histograms: dict[tuple[str, str], HdrHistogram] = field(default_factory=dict)
    #: operations completed per second since started_ns (measured ones only)
    series_ops: list[int] = field(default_factory=list)
    series_errors: list[int] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    done: int = 0
    failed: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    #: True while the parts of a compound operation run (read-modify-write's read and update): they go
    #: into their operation's histogram, as YCSB's READ/UPDATE lines include them, but are counted in
    #: ``nested`` and not again in the totals or the throughput series (YCSB's OVERALL counts the RMW once)
    inner: bool = False
    nested: dict[str, int] = field(default_factory=dict)
    #: failed checks (answers the store gave that cannot be right), and the first messages, in order
    verify_failures: int = 0
    first_failures: list[str] = field(default_factory=list)
    #: where the last sample of each operation went: (op, status) and its second, for :meth:`fail_last`
    _last: dict[str, tuple[str, int]] = field(default_factory=dict)
    #: the hot path's caches: the OK bucket per operation (the lists in ``pending``), the current second
    #: of the series, the perf_counter_ns at which it ends, and (OK, that second) for ``_last``
    _ok: dict[str, list[int]] = field(default_factory=dict)
    _second: int = 0
    _tick_end: int = 0
    _last_ok: tuple[str, int] = (OK, 0)
    #: latencies flushed since the last live report (``--metrics-port``); None: no live metrics, none kept
    interval: dict[tuple[str, str], HdrHistogram] | None = None

    def start(self, ns: int) -> None:
        """Start the clock (``perf_counter_ns``): the throughput series counts seconds from here."""
        self.started_ns = ns
        self._tick_end = 0  # the next sample finds its second again

    def add(self, op: str, status: str, start_ns: int, end_ns: int, intended_ns: int = 0) -> None:
        # the hottest path of the harness: a successful sample takes the shortest route (a cached bucket
        # per operation, the current second cached until the clock passes its end)
        if self.inner:
            self._add_nested(op, status, start_ns, end_ns, intended_ns)
            return
        self.done += 1
        if status != OK:
            self._add_other(op, status, start_ns, end_ns, intended_ns)
            return
        if not self.measuring:
            return
        bucket = self._ok.get(op)
        if bucket is None:
            bucket = self._ok[op] = self.pending.setdefault((op, OK), [])
        bucket.append(end_ns - start_ns)
        if self.intended:
            self.pending_intended.setdefault((op, OK), []).append(end_ns - (intended_ns or start_ns))
        if end_ns >= self._tick_end:
            self._tick(end_ns)
        self.series_ops[self._second] += 1
        self._last[op] = self._last_ok

    def _tick(self, end_ns: int) -> None:
        """The clock passed the cached second's end: find the sample's second and grow the series to it."""
        second = max(0, end_ns - self.started_ns) // 1_000_000_000
        series = self.series_ops
        while len(series) <= second:
            series.append(0)
            self.series_errors.append(0)
        self._second = second
        self._tick_end = self.started_ns + (second + 1) * 1_000_000_000
        self._last_ok = (OK, second)

    def _add_other(self, op: str, status: str, start_ns: int, end_ns: int, intended_ns: int) -> None:
        failed = status != NOT_FOUND
        if failed:
            self.failed += 1
        if not self.measuring:
            return
        self._keep((op, status), start_ns, end_ns, intended_ns)
        if end_ns >= self._tick_end:
            self._tick(end_ns)
        second = self._second
        self._last[op] = (status, second)
        self.series_ops[second] += 1
        if failed:
            self.series_errors[second] += 1

    def _keep(self, key: tuple[str, str], start_ns: int, end_ns: int, intended_ns: int) -> None:
        """Keep a sample's latency (and its latency from the intended start) off the fast path."""
        self.pending.setdefault(key, []).append(end_ns - start_ns)
        if self.intended:
            self.pending_intended.setdefault(key, []).append(end_ns - (intended_ns or start_ns))

    def _add_nested(self, op: str, status: str, start_ns: int, end_ns: int, intended_ns: int) -> None:
        if not self.measuring:
            return
        self._keep((op, status), start_ns, end_ns, intended_ns)
        label = str(HistKey(op, status))
        self.nested[label] = self.nested.get(label, 0) + 1
        self._last[op] = (status, -1)  # -1: a part of a compound operation, not in the series

    def fail_last(self, op: str, message: str) -> None:
        """The last ``op`` answered, but the answer is wrong: move it to status UNEXPECTED.

        Its latency moves to the ``op|UNEXPECTED`` histogram (failed operations never count in the
        successful figures), the second's failure count goes up, and the message is kept (the first
        :data:`FIRST_FAILURES` in order, and in :attr:`errors` with a count).
        """
        self.verify_failures += 1
        if len(self.first_failures) < FIRST_FAILURES:
            self.first_failures.append(message)
        self.error(message)
        last = self._last.pop(op, None)
        if last is None:  # not measured (warm-up): still a failure of the phase
            self.failed += 1
            return
        status, second = last
        if status not in (OK, NOT_FOUND):
            return  # already counted as failed
        if second < 0:  # inside a read-modify-write: the compound operation carries the failure
            self.nested[str(HistKey(op, status))] -= 1
            moved = str(HistKey(op, UNEXPECTED))
            self.nested[moved] = self.nested.get(moved, 0) + 1
        else:
            self.failed += 1
        for source in (self.pending, self.pending_intended):
            values = source.get((op, status))
            if values:
                source.setdefault((op, UNEXPECTED), []).append(values.pop())
        if 0 <= second < len(self.series_errors):
            self.series_errors[second] += 1

    def error(self, message: str) -> None:
        if len(self.errors) < 50 or message in self.errors:
            self.errors[message] = self.errors.get(message, 0) + 1

    def flush(self) -> None:
        interval = self.interval
        if interval is not None:  # live metrics: the same latencies, kept apart until the next report
            for key, values in self.pending.items():
                if values:
                    if key not in interval:
                        interval[key] = new_histogram()
                    record_many(interval[key], values)
        for source, target in ((self.pending, self.histograms), (self.pending_intended, self.intended_histograms)):
            for key, values in source.items():
                if values:
                    hist = target.get(key)
                    if hist is None:
                        hist = target[key] = new_histogram()
                    record_many(hist, values)
                    values.clear()

    def take_interval(self) -> dict[str, str]:
        """The latencies flushed since the last call, encoded per ``op|status`` (live metrics)."""
        self.flush()
        taken, self.interval = self.interval or {}, {}
        return {str(HistKey(*key)): encode(h) for key, h in taken.items()}

    def export(self) -> dict[str, Any]:
        """Plain data for another process: encoded histograms, series, errors."""
        self.flush()
        return {
            "histograms": {str(HistKey(*key)): encode(h) for key, h in self.histograms.items()},
            "intended": {str(HistKey(*key)): encode(h) for key, h in self.intended_histograms.items()},
            "series_ops": self.series_ops, "series_errors": self.series_errors,
            "errors": self.errors, "rows": self.rows, "nested": self.nested,
            "verify_failures": self.verify_failures, "first_failures": self.first_failures,
        }


def merge_exports(exports: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Merge worker exports exactly: histograms added, series summed second by second."""
    hists: dict[str, HdrHistogram] = {}
    intended: dict[str, HdrHistogram] = {}
    ops: list[int] = []
    errs: list[int] = []
    errors: dict[str, int] = {}
    rows: dict[str, int] = {}
    nested: dict[str, int] = {}
    verify_failures = 0
    first_failures: list[str] = []
    for ex in exports:
        verify_failures += ex.get("verify_failures", 0)
        first_failures.extend(ex.get("first_failures", [])[:FIRST_FAILURES - len(first_failures)])
        for source, target in ((ex["histograms"], hists), (ex["intended"], intended)):
            for key, text in source.items():
                h = decode(text)
                if key in target:
                    target[key].add(h)
                else:
                    target[key] = h
        for series, total in ((ex["series_ops"], ops), (ex["series_errors"], errs)):
            for i, v in enumerate(series):
                if i >= len(total):
                    total.append(0)
                total[i] += v
        for msg, n in ex["errors"].items():
            errors[msg] = errors.get(msg, 0) + n
        for op, n in ex.get("rows", {}).items():
            rows[op] = rows.get(op, 0) + n
        for key, n in ex.get("nested", {}).items():
            nested[key] = nested.get(key, 0) + n
    return {"histograms": hists, "intended": intended, "series_ops": ops, "series_errors": errs,
            "errors": errors, "rows": rows, "nested": nested, "verify_failures": verify_failures,
            "first_failures": first_failures}


def operation_totals(merged: Mapping[str, Any]) -> tuple[int, int]:
    """(operations, failed) as YCSB's OVERALL counts them: every operation the workload issued once.

    The read and update inside a read-modify-write are in their operations' histograms but not counted
    again here; verification records (``verify|...``) are not operations.
    """
    nested = merged.get("nested", {})
    total = failed = 0
    for key, hist in keyed(merged["histograms"]):
        if not key.is_operation:
            continue
        count = hist.get_total_count() - nested.get(str(key), 0)
        total += count
        if not key.succeeded:
            failed += count
    return total, failed


_now = time.perf_counter_ns


class TimedAdapter:
    """The one timing proxy: every operation of every adapter goes through here.

    Returns the adapter's result, or None when the operation failed (the status is recorded).
    """

    def __init__(self, adapter: Adapter, recorder: Recorder) -> None:
        self.adapter = adapter
        self.recorder = recorder
        self.intended_ns = 0  # set by the runner before each operation when a target rate is used
        self.last_status = OK

    def _timed(self, op: str, fn: Any, *args: Any) -> Any:
        start = _now()
        try:
            result = fn(*args)
        except Exception as exc:
            return self._failure(op, exc, start)
        self.recorder.add(op, OK, start, _now(), self.intended_ns)
        self.last_status = OK
        return result

    def _failure(self, op: str, exc: Exception, start: int) -> None:
        """Record a failed operation with its status (NOT_FOUND, UNAVAILABLE, ERROR) and reason."""
        end = _now()
        if isinstance(exc, NotFound):
            status = NOT_FOUND
        elif isinstance(exc, Unavailable):
            status = UNAVAILABLE
            self.recorder.error(f"{op}: {exc}")
        else:  # counted, reported with its reason; the run goes on
            status = ERROR
            self.recorder.error(f"{op}: {type(exc).__name__}: {exc}")
        self.recorder.add(op, status, start, end, self.intended_ns)
        self.last_status = status

    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        self._timed("insert", self.adapter.insert, namespace, key, values)

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record | None:
        # the hottest path of every YCSB workload: _timed inlined (no argument packing)
        start = _now()
        try:
            result: Record = self.adapter.read(namespace, key, fields)
        except Exception as exc:
            self._failure("read", exc, start)
            return None
        self.recorder.add("read", OK, start, _now(), self.intended_ns)
        self.last_status = OK
        return result

    def update(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        self._timed("update", self.adapter.update, namespace, key, values)

    def delete(self, namespace: str, key: str) -> None:
        self._timed("delete", self.adapter.delete, namespace, key)

    def scan(self, namespace: str, start_key: str, count: int,
             fields: Sequence[str] | None = None) -> list[tuple[str, Record]]:
        result = self._timed("scan", self.adapter.scan, namespace, start_key, count, fields)
        return result if result is not None else []

    def query(self, namespace: str, query: Query) -> QueryResult | None:
        result: QueryResult | None = self._timed("query", self.adapter.query, namespace, query)
        return result

    def neighbors(self, namespace: str, key: str, hops: int, field: str) -> set[str] | None:
        result: set[str] | None = self._timed("graph", self.adapter.neighbors, namespace, key, hops, field)
        return result

    def join(self, namespace: str, join: Join) -> JoinResult | None:
        result: JoinResult | None = self._timed("join", self.adapter.join, namespace, join)
        return result

    def shortest_path(self, namespace: str, source: str, target: str, max_hops: int,
                      field: str) -> list[str] | None:
        result: list[str] | None = self._timed("shortest_path", self.adapter.shortest_path, namespace, source,
                                               target, max_hops, field)
        return result

    def find(self, namespace: str, field: str, path: str, equals: str) -> list[tuple[str, Record]] | None:
        result: list[tuple[str, Record]] | None = self._timed("find", self.adapter.find, namespace, field, path,
                                                               equals)
        return result

    def find_range(self, namespace: str, field: str, path: str, lo: int, hi: int) -> list[tuple[str, Record]] | None:
        result: list[tuple[str, Record]] | None = self._timed("find_range", self.adapter.find_range, namespace, field,
                                                               path, lo, hi)
        return result

    def update_nested(self, namespace: str, key: str, field: str, path: str, value: str) -> None:
        self._timed("update_nested", self.adapter.update_nested, namespace, key, field, path, value)

    def write_batch(self, namespace: str, batch: Any, records: bool = False) -> None:
        """Native bulk path timed per batch (rows counted); otherwise the per-row fallback, timed per row.
        ``records``: the rows are a per-record workload's records, so the bulk path is taken only where its
        rows are records the per-operation calls read (``batch_rows_are_records``)."""
        caps = self.adapter.capabilities
        if caps.batch_write is Support.NATIVE and (caps.batch_rows_are_records or not records):
            self._timed("batch_write", self.adapter.write_batch, namespace, batch)
            self._count_rows("batch_write", batch.num_rows)
        elif self.adapter.capabilities.batch_write is Support.UNSUPPORTED:
            raise Unsupported(f"{self.adapter.name}: batch write unsupported")
        else:
            fallback_write_batch(self, namespace, batch)

    def _count_rows(self, op: str, rows: int) -> None:
        self.recorder.rows[op] = self.recorder.rows.get(op, 0) + rows

    def read_batch(self, namespace: str, fields: Sequence[str]) -> Any:
        """Native bulk read timed as one operation; otherwise paged scans, each timed."""
        if self.adapter.capabilities.batch_read is Support.NATIVE:
            table = self._timed("batch_read", self.adapter.read_batch, namespace, fields)
        else:
            table = fallback_read_batch(self, namespace, fields)
        if table is not None:
            self._count_rows("batch_read", table.num_rows)
        return table

    def read_batch_where(self, namespace: str, fields: Sequence[str], field: str, equals: str) -> Any:
        if self.adapter.capabilities.batch_filter is Support.NATIVE:
            table = self._timed("batch_filter", self.adapter.read_batch_where, namespace, fields, field, equals)
        else:
            full = self.read_batch(namespace, sorted({*fields, field}))
            table = None if full is None else filter_table(full, field, equals).select(["key", *fields])
        if table is not None:
            self._count_rows("batch_filter", table.num_rows)
        return table
