"""Standard outputs derived from result files: one tidy table for pandas/DuckDB, and HdrHistogram logs.

* :func:`tidy_rows`: one row per store x workload x phase x operation x repeat, every figure with its
  provenance (run, commit, harness version, machine, clients, engine, status) -> Parquet or CSV.
* :func:`write_hlogs`: per result file, an HdrHistogram interval log (format 1.3, what YCSB's
  ``hdrhistogram`` measurement writes and HdrHistogram's ``HistogramLogReader``/``HistogramLogProcessor`` read):
  one ``Tag=<op>`` line per operation's successful latencies and ``Tag=<op>-<STATUS>`` for the others.
  Each line covers the whole phase: result files keep one histogram per phase and operation, not one per
  second, so the log has one interval per tag (its header says so).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from storagebench.measuring.keys import OK, keyed
from storagebench.measuring.measurement import PERCENTILES, decode, summarize
from storagebench.results.model import ok_histogram

FORMATS = ("parquet", "csv", "hlog")
#: nanoseconds (the histograms' unit) per millisecond (the unit of an interval's max in a .hlog)
NS_PER_MS = 1_000_000.0


def _provenance(result: Mapping[str, Any]) -> dict[str, Any]:
    config = result.get("config") or {}
    layout = config.get("client_layout") or {}
    harness = result.get("harness") or {}
    machine = result.get("machine") or {}
    server = result.get("server") or {}
    steady = result.get("steady_state") or {}
    return {
        "run_id": result.get("run_id"), "store": result.get("store"), "workload": result.get("workload"),
        "phase": result.get("phase"), "repeat": int((result.get("repeat") or {}).get("index", 1)),
        "phase_status": result.get("status"), "phase_reason": result.get("reason", ""),
        "started_at": result.get("started_at"), "duration_s": result.get("duration_s"),
        "clients": layout.get("clients"), "processes": layout.get("processes"),
        "engine": config.get("engine", "local"), "server": server.get("label"),
        "harness_version": harness.get("version"), "commit": harness.get("commit"),
        "machine": machine.get("hostname"), "cpu_count": machine.get("cpu_count"), "cpu": machine.get("cpu"),
        "steady_state_reached": steady.get("reached"),
    }


def tidy_rows(results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per result x operation (``operation`` "ALL": the phase's operations together)."""
    rows: list[dict[str, Any]] = []
    for result in results:
        base = _provenance(result)
        totals = result.get("totals") or {}
        seconds = float(result.get("duration_s") or 0.0)
        histograms = result.get("histograms") or {}
        ops = sorted({key.op for key, _ in keyed(histograms) if key.is_operation})
        for op in ["ALL", *ops]:
            counts: dict[str, int] = {}
            for key, text in keyed(histograms):
                if key.is_operation and op in ("ALL", key.op):
                    counts[key.status] = counts.get(key.status, 0) + decode(text).get_total_count()
            latency = summarize(ok_histogram(histograms, None if op == "ALL" else op), seconds)
            row = {**base, "operation": op, "ok": counts.get(OK, 0),
                   "failed": sum(n for s, n in counts.items() if s not in (OK, "NOT_FOUND")),
                   "not_found": counts.get("NOT_FOUND", 0),
                   "ops_per_sec": totals.get("ops_per_sec") if op == "ALL" else latency.get("ops_per_sec"),
                   "mean_us": latency.get("mean_us"), "max_us": latency.get("max_us")}
            row.update({f"p{p:g}_us": latency.get(f"p{p:g}_us") for p in PERCENTILES})
            rows.append(row)
    return rows


def write_table(rows: Sequence[Mapping[str, Any]], path: Path, fmt: str) -> None:
    import pyarrow as pa

    from storagebench.results.files import atomic_write_bytes

    table = pa.Table.from_pylist([dict(r) for r in rows])
    if fmt == "parquet":
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
    else:
        import pyarrow.csv as pcsv

        sink = pa.BufferOutputStream()
        pcsv.write_csv(table, sink)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def hlog_text(result: Mapping[str, Any]) -> str:
    """An HdrHistogram interval log (format 1.3) of one result file."""
    started = result.get("started_at")
    try:
        start = dt.datetime.fromisoformat(str(started)).timestamp() if started else 0.0
    except ValueError:
        start = 0.0
    length = float(result.get("duration_s") or 0.0)
    lines = [
        f"#[storagebench {result.get('store')} / {result.get('workload')} / {result.get('phase')}, run "
        f"{result.get('run_id')}: one interval per tag, the whole phase; latencies in ns]",
        "#[Histogram log format version 1.3]",
        f"#[StartTime: {start:.3f} (seconds since epoch), {started}]",
        f"#[BaseTime: {start:.3f} (seconds since epoch)]",
        '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"',
    ]
    for key, text in keyed(result.get("histograms") or {}):
        if not key.is_operation:
            continue
        tag = key.op if key.status == OK else f"{key.op}-{key.status}"
        peak = decode(text).get_max_value() / NS_PER_MS
        lines.append(f"Tag={tag},0.000,{length:.3f},{peak:.3f},{text}")
    return "\n".join(lines) + "\n"


def hlog_name(result: Mapping[str, Any]) -> str:
    repeat = (result.get("repeat") or {}).get("of", 1)
    suffix = f"__r{(result.get('repeat') or {}).get('index', 1)}" if repeat and int(repeat) > 1 else ""
    return f"{result.get('store')}__{result.get('workload')}__{result.get('phase')}{suffix}.hlog"


def write_hlogs(results: Iterable[Mapping[str, Any]], folder: Path) -> list[Path]:
    from storagebench.results.files import atomic_write_text

    written = []
    for result in results:
        path = folder / str(result.get("run_id")) / hlog_name(result)
        atomic_write_text(path, hlog_text(result))
        written.append(path)
    return written
