"""The curves of the report, as plain data its own small SVG drawing code (``report.js``) draws.

* :func:`hdr_curves`: latency against percentile on a log 1/(1-p) axis, from the stored HdrHistograms of
  each (workload, operation, store), median over the repeats with their [min, max] as a band; a curve goes
  only as far as the operations it holds (1/(1-p) <= count).
* :func:`operation_table`: per (store, workload, operation) each percentile's median over the repeats and
  its spread, for the tables under the curves.
* :func:`throughput_series`: operations per complete second, drawn only when the phase had enough complete
  seconds for its steady state to be judged (:func:`storagebench.report.cells.settled`); else the reason.
* :func:`find_sweeps` and :func:`sweep_charts`: the ``sweep-*.json`` files of :mod:`storagebench.running.sweep`
  (latency against achieved throughput with the objective and the file's maximum sustainable throughput;
  clients and records ladders; throughput at the objective against footprint).
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from storagebench.report.cells import enough_samples, seconds_text, settled

from storagebench.measuring.measurement import PERCENTILES, decode
from storagebench.results.files import MAX_RESULT_BYTES

#: the columns of the per-operation tables
PERCENTILE_LABELS = (*(f"p{p:g}" for p in PERCENTILES), "max")
#: points per decade of 1/(1-p) on the HDR curves
_STEPS_PER_DECADE = 8


def _runs(results: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in results if r.get("phase") == "run" and r.get("status") == "ok" and r.get("histograms")]


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "lo": min(values), "hi": max(values)}


def hdr_curves(results: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (workload, operation): per store ``x`` (log10 of 1/(1-p)) and the latency in µs at
    each point: ``median``, ``lo``, ``hi`` over the repeats, and ``repeats``."""
    hists: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for r in _runs(results):
        for key, text in r["histograms"].items():
            op, _, status = key.partition("|")
            if op != "verify" and status == "OK":
                hists[(r["workload"], op, r["store"])].append(decode(text))
    charts: dict[tuple[str, str], dict[str, Any]] = {}
    for (workload, op, store), group in hists.items():
        counts = [h.get_total_count() for h in group]
        if not min(counts):
            continue
        top = math.log10(min(counts))  # the curve stops where the smallest repeat runs out of operations
        xs = [i / _STEPS_PER_DECADE for i in range(int(top * _STEPS_PER_DECADE) + 1)]
        points = [[h.get_value_at_percentile(100 * (1 - 10 ** -x)) / 1000 for h in group] for x in xs]
        chart = charts.setdefault((workload, op), {"workload": workload, "op": op, "stores": {}})
        chart["stores"][store] = {"x": xs, "repeats": len(group), "operations": sum(counts),
                                  **{k: [_spread(p)[k] for p in points] for k in ("median", "lo", "hi")}}
    return list(charts.values())


def operation_table(results: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (store, workload, operation) over the repeats: operations, each percentile's median and
    [min, max], and whether each percentile has enough operations in every repeat to mean something."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    how: dict[tuple[str, str], dict[str, Any]] = {}  # (store, workload) -> op -> native / emulated
    for r in _runs(results):
        # as the phase recorded how the store answered; older files: the capabilities they recorded
        how.setdefault((r["store"], r["workload"]), {**(r.get("capabilities") or {}),
                                                     **(r.get("operation_support") or {})})
        for op, stats in (r.get("operations") or {}).items():
            lat = stats.get("latency") or {}
            if op != "verify" and lat.get("count"):
                groups[(r["store"], r["workload"], op)].append(lat)
    rows = []
    for (store, workload, op), lats in groups.items():
        row: dict[str, Any] = {"store": store, "workload": workload, "op": op, "repeats": len(lats),
                               "how": str(how[(store, workload)].get(op, "")),
                               "count": sum(int(x["count"]) for x in lats),
                               "ops_per_sec": _spread([float(x.get("ops_per_sec") or 0.0) for x in lats]),
                               "percentiles": []}
        for p, label in zip((*PERCENTILES, 100.0), PERCENTILE_LABELS, strict=True):
            values = [float(x[key]) for x in lats if (key := "max_us" if p == 100 else f"p{p:g}_us") in x]
            spread = _spread(values) if values else {"median": None, "lo": None, "hi": None}
            row["percentiles"].append({"label": label, **spread,
                                       "enough": all(enough_samples(int(x["count"]), p) for x in lats)})
        rows.append(row)
    return rows


def throughput_series(results: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per workload: each store's operations per complete second (first repeat), only for phases long
    enough for their steady state to be judged; ``skipped``: the stores left out and why."""
    out: dict[str, dict[str, Any]] = {}
    for r in _runs(results):
        entry = out.setdefault(r["workload"], {"stores": {}, "skipped": {}})
        if r["store"] in entry["stores"] or r["store"] in entry["skipped"]:
            continue  # the first repeat's series
        state = settled(r)
        seconds = float(r.get("duration_s") or 0.0)
        if state.get("method") == "too short":
            entry["skipped"][r["store"]] = f"measured {seconds_text(seconds)}: too few complete seconds to draw"
            continue
        complete = int(seconds)  # the last, partial second is left out rather than drawn as a collapse
        entry["stores"][r["store"]] = {"ops": (r.get("timeseries") or {}).get("ops", [])[:complete],
                                       "steady_from": state.get("start_s")}
    return out


def find_sweeps(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Every sweep file (``sweep-<store>-<workload>-<ladder>.json``, ``kind: storagebench.sweep``) under the
    given folders; unreadable or foreign files are left out."""
    out = []
    for path in paths:
        files = sorted(path.rglob("sweep-*.json")) if path.is_dir() else []
        for f in files:
            try:
                if f.stat().st_size > MAX_RESULT_BYTES:
                    continue
                data = json.loads(f.read_bytes())
            except (OSError, ValueError, RecursionError):
                continue
            if isinstance(data, dict) and data.get("kind") == "storagebench.sweep" and \
                    isinstance(data.get("store"), str):
                data["_file"] = str(f)
                out.append(data)
    return out


def _latency_ms(summary: dict[str, Any] | None, key: str) -> float | None:
    value = (summary or {}).get(key)
    return float(value) / 1000 if isinstance(value, int | float) else None


def _bytes_per_record(load: dict[str, Any] | None) -> float | None:
    value = ((load or {}).get("footprint") or {}).get("bytes_per_record")
    return float(value) if isinstance(value, int | float) else None


def best_step(sweep: dict[str, Any]) -> dict[str, Any] | None:
    """The step of a rate sweep that achieved its maximum sustainable throughput (None: no step did)."""
    best = sweep.get("max_sustainable_ops_per_sec")
    return next((s for s in sweep.get("steps") or [] if s.get("sustainable") and s.get("ops_per_sec") == best), None)


def _on_front(points: list[dict[str, Any]], cost: str) -> None:
    """Mark ``front_<cost>`` on each point no other point beats: at least as fast at the objective and at most
    as costly, and not the same figures."""
    def known(p: dict[str, Any]) -> bool:
        return p["throughput"] is not None and p[cost] is not None

    for point in points:
        point[f"front_{cost}"] = known(point) and not any(
            o is not point and known(o) and o["throughput"] >= point["throughput"] and o[cost] <= point[cost]
            and (o["throughput"], o[cost]) != (point["throughput"], point[cost]) for o in points)


def sweep_charts(sweeps: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Chart data per ladder, one line per store (sweeps that failed are listed with their reason):

    * ``rate``: per (workload, objective) achieved ops/s against intended and service latency (ms) at the
      objective's percentile, the objective, and the file's ``max_sustainable_ops_per_sec``;
    * ``clients``: ops/s per client count; ``records``: ops/s, load rate and bytes per record per count,
      and ops/s (as found, and cold where the sweep ran ``--cold``) against ``data_to_memory``;
    * ``pareto``: throughput at the objective against bytes per record of the rate sweep's own load, and
      against the engine's CPU µs per operation in the step that achieved it (``server_cpu_us``; None where
      the engine was not observed, with ``server_unobserved`` saying why).
    """
    rate: dict[str, dict[str, Any]] = {}
    clients: dict[str, dict[str, Any]] = {}
    records: dict[str, dict[str, Any]] = {}
    pareto: list[dict[str, Any]] = []
    failed = [{"store": s["store"], "workload": s.get("workload"), "ladder": s.get("ladder"),
               "reason": s.get("reason", "")} for s in sweeps if s.get("status") != "ok"]
    for s in sweeps:
        if s.get("status") != "ok":
            continue
        store, workload, steps = s["store"], str(s.get("workload")), s.get("steps") or []
        evidence = {"step_seconds": s.get("step_seconds"), "threads": (s.get("config") or {}).get("threads"),
                    "file": s.get("_file", "")}
        if s.get("ladder") == "rate":
            objective = s.get("objective") or {}
            key = f"p{float(objective.get('percentile', 99)):g}_us"
            chart = rate.setdefault(f"{workload} {objective.get('label', '')}", {
                "workload": workload, "objective": objective, "stores": {}})
            # the throttled steps (the unthrottled capacity step has no schedule, so no intended latency)
            points = sorted(({"x": st["ops_per_sec"], "intended": _latency_ms(st.get("intended"), key),
                              "service": _latency_ms(st.get("service"), key), "target": st.get("target"),
                              "sustainable": st.get("sustainable")} for st in steps if st.get("target")),
                            key=lambda p: p["x"])
            best = s.get("max_sustainable_ops_per_sec")
            at = next((p for p in points if best is not None and p["x"] == best), None)
            chart["stores"][store] = {"points": points, "capacity": s.get("capacity_ops_per_sec"),
                                      "max_sustainable": best, "max_sustainable_ms": at and at["intended"],
                                      **evidence}
            cost = (best_step(s) or {}).get("server_cost") or {}
            pareto.append({"store": store, "workload": workload, "objective": objective.get("label", ""),
                           "throughput": best, "bytes_per_record": _bytes_per_record(s.get("load")),
                           "server_cpu_us": cost.get("cpu_us_per_op"),
                           "server_unobserved": cost.get("reason") if cost.get("observed") is False else None})
        elif s.get("ladder") == "clients":
            chart = clients.setdefault(workload, {"workload": workload, "stores": {}})
            chart["stores"][store] = {"points": [{"x": st.get("threads"), "y": st.get("ops_per_sec"),
                                                  "p99_ms": _latency_ms(st.get("service"), "p99_us")}
                                                 for st in steps], **evidence}
        elif s.get("ladder") == "records":
            chart = records.setdefault(workload, {"workload": workload, "stores": {}})
            chart["stores"][store] = {"points": [{
                "x": st.get("records"), "ops": st.get("ops_per_sec"),
                "load_rate": (st.get("load") or {}).get("records_per_sec"),
                "bytes_per_record": _bytes_per_record(st.get("load")),
                # footprint over the engine's memory cap (or the machine's RAM), and the same size run cold
                "data_to_memory": st.get("data_to_memory"),
                "memory_what": (st.get("memory_denominator") or {}).get("what"),
                "cold_ops": (st.get("cold") or {}).get("ops_per_sec")} for st in steps], **evidence}
            chart["memory_axis"] = chart.get("memory_axis") or any(st.get("data_to_memory") for st in steps)
    _on_front(pareto, "bytes_per_record")
    _on_front(pareto, "server_cpu_us")
    return {"rate": list(rate.values()), "clients": list(clients.values()), "records": list(records.values()),
            "pareto": pareto, "failed": failed}
