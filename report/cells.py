"""Result files -> tidy tables (pandas): one row per result file (a *sample*), then one row per cell.

A *cell* is (store, workload, phase).  Several samples of one cell come from repeats: several run
folders given together, or several files of one cell in a folder (``repeat`` field).  Every figure
of a cell is the median of its samples, with a distribution-free order-statistic interval: the narrowest
that covers the median with 95 % where the repeats allow it, else [min, max] with its true coverage
(``coverage``: 75 % for 3 repeats, 0 for one sample).  :func:`too_short` is the one rule deciding whether a
run phase's figures may be ranked at all.

Fields other helpers add to result files are used when present and ignored when absent:
``status == "invalid"`` and ``first_error`` (verification), ``footprint`` (bytes on disk),
``durability`` (settings per store), ``client.driver``, ``repeat``, ``hosts`` (merged multi-host runs).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from storagebench.analysis.stats import median_interval, order_statistic_ranks, steady_state
from storagebench.measuring.measurement import decode, new_histogram, operations_for_percentile, summarize
from storagebench.results.files import load_results, result_path

#: the figures the verdict and the comparisons use: name -> (phase, higher is better, unit)
METRICS: dict[str, tuple[str, bool, str]] = {
    "throughput": ("run", True, "ops/s"),
    "p99": ("run", False, "µs"),
    "load_time": ("load", False, "s"),
    "footprint": ("load", False, "bytes"),
}


#: the latency percentile the matrix, the verdict and the requirements show
RANKED_PERCENTILE = 99.0
#: statuses that mean a phase was attempted and went wrong (``skipped``: not attempted, unsupported)
FAILED_STATUSES = ("failed", "aborted", "invalid", "interrupted", "degraded")


def enough_samples(count: int, percentile: float) -> bool:
    """A percentile means something only with :func:`operations_for_percentile` samples (p99.9: 1,000),
    the rule sweeps judge their steps by too."""
    return count >= operations_for_percentile(percentile)


def coverage(n: int) -> float:
    """The probability that a cell's interval over ``n`` samples covers the true median (0 for one sample)."""
    return order_statistic_ranks(n)[2] if n > 1 else 0.0


def seconds_text(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 1 else f"{seconds:,.1f} s"


def settled(result: dict[str, Any]) -> dict[str, Any]:
    """Where the run phase's throughput settled: the file's ``steady_state``, or (older files) the same
    detection (:func:`storagebench.analysis.stats.steady_state`) on its complete seconds."""
    recorded = result.get("steady_state")
    if isinstance(recorded, dict) and "reached" in recorded:
        return recorded
    complete = int(float(result.get("duration_s") or 0.0))
    return steady_state((result.get("timeseries") or {}).get("ops", [])[:complete]).as_dict()


def ok_operations(result: dict[str, Any]) -> int:
    return sum(int(n) for op, e in (result.get("operations") or {}).items() if op != "verify"
               for status, n in (e.get("status_counts") or {}).items() if status == "OK")


def too_short(result: dict[str, Any]) -> str:
    """Why a run phase's figures may not be ranked ("" when they may): the one rule of the report.

    Its throughput must have settled (steady state reached, which needs enough complete seconds: see
    :func:`storagebench.analysis.stats.steady_state`) and it must hold enough successful operations for the
    percentile ranked (:data:`RANKED_PERCENTILE`: 100 for p99).  Other phases and failed ones: ""."""
    if result.get("phase") != "run" or result.get("status") != "ok":
        return ""
    verification = result.get("verification") or {}
    if verification.get("verified") is False:  # answers nobody checked are not ranked beside checked ones
        return f"unverified ({verification.get('unverified_because') or 'answers not checked'}): not ranked"
    measured = f"measured {seconds_text(float(result.get('duration_s') or 0.0))}"
    state = settled(result)
    if not state.get("reached"):
        if state.get("method") == "too short":
            return f"{measured}: too short to rank"
        return f"{measured}: throughput still drifting ({state.get('method')}), not ranked"
    ops = ok_operations(result)
    if not enough_samples(ops, RANKED_PERCENTILE):
        return f"{measured}, {ops:,} operations: too few for p{RANKED_PERCENTILE:g} to rank"
    return ""


def clients_of(result: dict[str, Any]) -> int:
    """How many clients drove the phase (closed loop unless a target rate was set)."""
    cfg = result.get("config") or {}
    layout = cfg.get("client_layout") or {}
    if isinstance(layout.get("clients"), int):
        return int(layout["clients"])
    return int(cfg.get("threads") or 1) * int(cfg.get("processes") or 1)


def find_results(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Every result file under the given run folders (or folders of run folders: repeats, nights)."""
    results: list[dict[str, Any]] = []
    for path in paths:
        folders = sorted({p.parent for p in path.rglob("*__*__*.json")}) if path.is_dir() else []
        for folder in folders:
            for r in load_results(folder):
                rep = r.get("repeat") or {}
                index = rep.get("index") if (rep.get("of") or 1) > 1 else None
                r["_file"] = str(result_path(folder, r["store"], r["workload"], r["phase"], index))
                results.append(r)
    return results


def machine_fingerprint(machine: dict[str, Any]) -> str:
    """The hardware a figure was measured on (host names change between CI runners; cores and CPU don't)."""
    key = {k: machine.get(k) for k in ("cpu", "cpu_count", "memory_gib")}
    key["platform"] = str(machine.get("platform", "")).split("-")[0]
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    return f"{key['cpu_count']}x {key['cpu'] or 'cpu?'} {key['memory_gib']} GiB [{digest}]"


def ok_latency(result: dict[str, Any]) -> dict[str, Any]:
    """Latency of the successful operations of a result together (failed ones have their own histograms)."""
    hist = new_histogram()
    for key, text in result.get("histograms", {}).items():
        op, _, status = key.partition("|")
        if op != "verify" and status == "OK":
            hist.add(decode(text))
    return summarize(hist, result.get("duration_s") or 0.0)


def _footprint(result: dict[str, Any]) -> float | None:
    value = result.get("footprint")
    if isinstance(value, dict):
        value = value.get("bytes")
    return float(value) if isinstance(value, int | float) else None


def _reason(result: dict[str, Any]) -> str:
    parts = [str(result.get("reason") or "")]
    first = result.get("first_error")
    if first:
        parts.append(f"first error: {first if isinstance(first, str) else json.dumps(first)}")
    return "; ".join(p for p in parts if p)


def command_line(result: dict[str, Any]) -> str:
    """The command that ran this cell: recorded when the run recorded it, else rebuilt from the config."""
    recorded = result.get("command") or result.get("argv")
    if isinstance(recorded, list):
        return " ".join(str(a) for a in recorded)
    if isinstance(recorded, str):
        return recorded
    cfg = result.get("config", {})
    wl = cfg.get("workload", {})
    props = " ".join(f"-p {k}={wl[k]}" for k in ("recordcount", "operationcount", "target", "warmup")
                     if wl.get(k))
    return (f"storagebench run --stores {result.get('store')} --workloads {result.get('workload')} "
            f"--threads {cfg.get('threads', 1)} --processes {cfg.get('processes', 1)} "
            f"--seed {result.get('seed', cfg.get('seed'))} {props}").strip()


def sample_row(r: dict[str, Any]) -> dict[str, Any]:
    """One result file as one flat row."""
    status = str(r.get("status", "missing"))
    ok = status == "ok"
    totals = r.get("totals", {})
    lat = ok_latency(r) if ok and r.get("phase") == "run" else {}
    server = r.get("server", {})
    caps = r.get("capabilities", {})
    ok_ops = totals.get("ok_ops_per_sec", totals.get("ops_per_sec"))
    batch = r.get("batch")
    if isinstance(batch, dict) and batch.get("rows_per_sec"):
        ok_ops = batch["rows_per_sec"]  # batch workloads: throughput in rows
    return {
        "store": r.get("store"), "workload": r.get("workload"), "phase": r.get("phase"),
        "run_id": r.get("run_id"), "repeat": r.get("repeat"), "file": r.get("_file", ""),
        "status": status, "reason": _reason(r), "failed_ops": int(totals.get("failed") or 0),
        "family": caps.get("family", "other"),
        "engine": f"{server.get('engine', '')} {server.get('version', '')}".strip(),
        "engine_label": server.get("label", ""),
        "fingerprint": machine_fingerprint(r.get("machine", {})),
        "started_at": r.get("started_at", ""), "commit": (r.get("harness") or {}).get("commit"),
        "seed": r.get("seed"), "unit": "rows/s" if isinstance(batch, dict) else "ops/s",
        "throughput": float(ok_ops) if ok and r.get("phase") == "run" and ok_ops else math.nan,
        "p99": float(lat["p99_us"]) if lat.get("count") else math.nan,
        "load_time": float(r.get("duration_s") or math.nan) if ok and r.get("phase") == "load" else math.nan,
        "footprint": (_footprint(r) or math.nan) if ok else math.nan,
        "seconds": float(r.get("duration_s") or 0.0), "operations": int(totals.get("operations") or 0),
        "clients": clients_of(r), "too_short": too_short(r),
    }


def samples_frame(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    columns = list(sample_row({}).keys())
    return pd.DataFrame([sample_row(r) for r in results], columns=columns)


def effect(before: float, after: float) -> float:
    """How much a figure moved, as a factor either way minus one (1.0 = twice or half): a minimum effect
    then means the same for a latency that doubles and a throughput that halves (a relative change cannot
    fall below -100 %)."""
    if before <= 0 or after <= 0:
        return math.inf if before != after else 0.0
    return max(after / before, before / after) - 1


def median_ci(values: Sequence[float]) -> tuple[float, float, float]:
    """Median and its order-statistic interval (:func:`storagebench.analysis.stats.median_interval`: 95 % where the
    samples allow, else [min, max]; :func:`coverage` gives its true coverage); NaN-safe."""
    xs = [v for v in values if not math.isnan(v)]
    if not xs:
        return math.nan, math.nan, math.nan
    iv = median_interval(xs)
    return iv.median, iv.lo, iv.hi


def cells_frame(samples: pd.DataFrame) -> pd.DataFrame:
    """One row per (store, workload, phase): status (ok only if every sample is ok), medians and intervals,
    the evidence behind them (median seconds and operations, clients, samples, the intervals' coverage) and
    ``too_short``: the first sample's reason not to rank the cell ("" when every sample may be ranked)."""
    rows = []
    for (store, workload, phase), group in samples.groupby(["store", "workload", "phase"], sort=False):
        bad = group[group["status"] != "ok"]
        row: dict[str, Any] = {
            "store": store, "workload": workload, "phase": phase, "samples": len(group),
            "status": "ok" if bad.empty else str(bad["status"].iloc[0]),
            "reason": "" if bad.empty else str(bad["reason"].iloc[0]),
            "failed_ops": int(group["failed_ops"].sum()),
            "family": group["family"].iloc[0], "engine": group["engine"].iloc[0],
            "engine_label": group["engine_label"].iloc[0], "fingerprint": group["fingerprint"].iloc[0],
            "unit": group["unit"].iloc[0], "files": list(group["file"]),
            "seeds": sorted({s for s in group["seed"] if s is not None}),
            "seconds": float(group["seconds"].median()), "operations": int(group["operations"].median()),
            "clients": int(group["clients"].max()), "coverage": coverage(len(group)),
            "too_short": next((t for t in group["too_short"] if t), ""),
        }
        for metric in METRICS:
            med, low, high = median_ci(list(group[metric]))
            row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = med, low, high
        rows.append(row)
    return pd.DataFrame(rows)


def format_figure(metric: str, value: float | None, unit: str | None = None) -> str:
    """A figure of one of :data:`METRICS` with its unit and three significant digits, never in exponent
    form: ``21,260 ops/s``, ``1.24 ms``, ``340 ms`` (a load time), ``12.3 MiB``.  ``unit`` overrides the
    metric's unit where a cell has its own (``rows/s`` for batch workloads)."""
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value):
        return "∞"
    base = unit or METRICS[metric][2]
    scales: dict[str, list[tuple[float, str]]] = {
        "µs": [(1e6, "s"), (1e3, "ms"), (1.0, "µs")],
        "s": [(1.0, "s"), (1e-3, "ms"), (1e-6, "µs")],
        "bytes": [(2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"), (1.0, "bytes")],
    }
    factor, shown = next(((f, u) for f, u in scales.get(base, []) if abs(value) >= f),
                         scales[base][-1] if base in scales else (1.0, base))
    return f"{significant(value / factor)} {shown}"


def significant(x: float) -> str:
    """Three significant digits, thousands separated, no exponent (``21,260``, ``1.24``, ``0.0312``)."""
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    decimals = max(0, 2 - math.floor(math.log10(abs(x))))
    return f"{x:,.{decimals}f}"


#: colour-blind-safe store colours (Okabe-Ito without its vermillion and yellow, then Paul Tol's muted
#: and bright schemes without their reds): red stays the colour of a regression, grey of a failure
STORE_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#332288", "#999933", "#AA4499",
                 "#44AA99", "#DDCC77", "#117733", "#88CCEE")


def store_colours(stores: Iterable[str]) -> dict[str, str]:
    """One colour per store, the same on every page: a registered store keeps its place in the sorted
    registry's palette; other stores (test adapters, ``module:Class``) take the colours the registered
    stores on this page leave free, in name order.  More stores than colours reuse them in order."""
    from storagebench.registry import available

    registered = sorted(available())
    wanted = sorted(set(stores))
    out = {s: STORE_PALETTE[registered.index(s) % len(STORE_PALETTE)] for s in wanted if s in registered}
    free = [c for c in STORE_PALETTE if c not in out.values()] or list(STORE_PALETTE)
    for i, store in enumerate(s for s in wanted if s not in out):
        out[store] = free[i % len(free)]
    return out
