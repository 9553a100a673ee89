"""Live metrics of the running phase (``--metrics-port``): an OpenMetrics/Prometheus endpoint on 127.0.0.1.

Fed from the coordinator's loop in :func:`storagebench.running.runner.run_local` (local clients) and from
the Spark driver (:func:`storagebench.spark.loadgen.run_workers_on_spark`).  Each worker,
when it publishes its progress (every :data:`~storagebench.running.runner.PROGRESS_EVERY` operations, at
most once per :data:`REPORT_EVERY_S`, and once at its end), sends the latencies it measured since its last
report as HDR histograms per operation and status, with the seconds they cover
(:meth:`~storagebench.measuring.measurement.Recorder.take_interval`: recorded when the worker flushes its
batch of latencies; nothing is added per operation).  The coordinator adds them to the phase's counters
and cumulative latencies and keeps each worker's last report as "the last interval".  Only measured
operations count (not the warm-up).  Spark tasks send the same reports to the driver
(:mod:`storagebench.spark.livefeed`), which hands them to the same :class:`LiveMetrics`.

``prometheus_client`` is imported only by :class:`Server` (the optional ``metrics`` extra).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from storagebench.measuring.keys import keyed
from storagebench.measuring.measurement import decode, new_histogram

#: a worker reports about this often (seconds of its clock; at its next progress publication after it)
REPORT_EVERY_S = 1.0
QUANTILES = (0.5, 0.95, 0.99)
LABELS = ("store", "workload", "phase", "operation")
HELP = ("live figures of the phase's measured operations (warm-up excluded), merged from the workers' reports "
        "(one per worker about every second; Spark tasks' reports travel to the driver over TCP)")


@dataclass
class _Operation:
    ok: int = 0
    failed: int = 0
    cumulative: HdrHistogram = field(default_factory=new_histogram)  # successful operations' latencies
    #: each worker's last report: (its span in seconds, operations of any status, successful latencies)
    last: dict[int, tuple[float, int, HdrHistogram | None]] = field(default_factory=dict)


@dataclass
class _Phase:
    started: float
    ended: float = 0.0
    operations: dict[str, _Operation] = field(default_factory=dict)


class LiveMetrics:
    """The figures the endpoint shows, per (store, workload, phase): updated by the coordinator, read by
    the HTTP server's thread (under one lock).  "The last interval" is each worker's last report (about
    :data:`REPORT_EVERY_S` of its own clock), summed over the workers."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.phases: dict[tuple[str, str, str], _Phase] = {}
        self.active: _Phase | None = None

    def begin(self, store: str, workload: str, phase: str) -> None:
        with self.lock:
            self.active = self.phases[(store, workload, phase)] = _Phase(started=time.monotonic())

    def take(self, report: Mapping[str, Any]) -> None:
        """A worker's report: ``worker``, ``span_s`` (seconds since its previous one) and ``histograms``
        (:meth:`~storagebench.measuring.measurement.Recorder.take_interval`)."""
        worker, span = report["worker"], report["span_s"]
        seen: dict[str, list[Any]] = {}  # op -> [operations, successful latencies]
        with self.lock:
            if self.active is None:
                return
            for key, text in keyed(report["histograms"]):
                if not key.is_operation:
                    continue
                hist = decode(text)
                count = hist.get_total_count()
                stats = self.active.operations.setdefault(key.op, _Operation())
                slot = seen.setdefault(key.op, [0, None])
                slot[0] += count
                if key.succeeded:
                    stats.ok += count
                    stats.cumulative.add(hist)
                    if slot[1] is None:
                        slot[1] = hist
                    else:
                        slot[1].add(hist)
                else:
                    stats.failed += count
            for op, stats in self.active.operations.items():  # an operation absent from the report: none done
                count, hist = seen.get(op, (0, None))
                stats.last[worker] = (span, count, hist)

    def end(self) -> None:
        with self.lock:
            if self.active is not None:
                self.active.ended = time.monotonic()
                self.active = None

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        ops = CounterMetricFamily("storagebench_operations", "operations completed, by status (ok: the "
                                  "store answered, not-found included; failed: errors and wrong answers); "
                                  + HELP, labels=[*LABELS, "status"])
        rate = GaugeMetricFamily("storagebench_throughput_ops_per_second",
                                 "operations (any status) per second over each worker's last report, summed; " + HELP,
                                 labels=LABELS)
        last = GaugeMetricFamily("storagebench_interval_latency_seconds", "latency quantiles of the successful "
                                 "operations of each worker's last report (absent when they had none); " + HELP,
                                 labels=[*LABELS, "quantile"])
        total = GaugeMetricFamily("storagebench_latency_seconds", "latency quantiles of the successful operations "
                                  "since the phase started; " + HELP, labels=[*LABELS, "quantile"])
        elapsed = GaugeMetricFamily("storagebench_phase_elapsed_seconds", "seconds since the phase started "
                                    "(its clients' set-up included); " + HELP, labels=list(LABELS[:3]))
        with self.lock:
            for (store, workload, phase_name), phase in self.phases.items():
                elapsed.add_metric([store, workload, phase_name], (phase.ended or time.monotonic()) - phase.started)
                for op, stats in phase.operations.items():
                    labels = [store, workload, phase_name, op]
                    ops.add_metric([*labels, "ok"], stats.ok)
                    ops.add_metric([*labels, "failed"], stats.failed)
                    rate.add_metric(labels, sum(n / span for span, n, _ in stats.last.values() if span > 0))
                    interval = new_histogram()
                    for _, _, hist in stats.last.values():
                        if hist is not None:
                            interval.add(hist)
                    for family, hist in ((last, interval), (total, stats.cumulative)):
                        if not hist.get_total_count():
                            continue
                        for q in QUANTILES:
                            family.add_metric([*labels, f"{q:g}"], hist.get_value_at_percentile(100 * q) / 1e9)
        yield from (ops, rate, last, total, elapsed)


#: the endpoint's figures while ``--metrics-port`` serves them (None: no endpoint, nothing is sent)
ACTIVE: LiveMetrics | None = None


class Server:
    """The endpoint: ``prometheus_client``'s HTTP server on 127.0.0.1 with a registry of its own."""

    def __init__(self, port: int) -> None:
        from prometheus_client import CollectorRegistry, start_http_server

        self.metrics = LiveMetrics()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.metrics)  # type: ignore[arg-type]
        self.httpd, self.thread = start_http_server(port, addr="127.0.0.1", registry=registry)
        self.port: int = self.httpd.server_address[1]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
