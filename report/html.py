"""One self-contained ``report.html`` from result files (one run folder, or several: repeats) and sweep files.

The page is rendered from Jinja2 templates in ``templates/`` with autoescaping (every string from an
engine, an error or a config is escaped); the data the page's script needs goes in as JSON through
``tojson`` (which escapes ``<``, ``>``, ``&`` and quotes).  No chart library: the tables and sentences are
HTML that paints at once, and ``report.js`` (inline, a few kB) draws the charts as SVG, computes the verdict
from the reader's weights and answers the requirements panel, so the page opens offline from file://.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from storagebench.adapters.base import Capabilities
from storagebench.report.cells import (
    FAILED_STATUSES,
    METRICS,
    RANKED_PERCENTILE,
    cells_frame,
    command_line,
    find_results,
    format_figure,
    ok_latency,
    samples_frame,
    store_colours,
)
from storagebench.report.costs import cost_table
from storagebench.report.curves import (
    PERCENTILE_LABELS,
    find_sweeps,
    hdr_curves,
    operation_table,
    sweep_charts,
    throughput_series,
)
from storagebench.report.scoring import DEFAULT_WEIGHTS, SHIFTS, ratios
from storagebench.workloads.models import MODEL_LABELS, OPERATION_MODEL, phase_operations, workload_model

from storagebench.analysis.stats import median_interval
from storagebench.pricing import PriceSheet
from storagebench.results.files import atomic_write_text
from storagebench.results.runhealth import inspect
from storagebench.running.cache import describe as describe_cache

#: workload property -> the kind of work it counts as (families, presets)
_MIX = {"readproportion": "read", "updateproportion": "update", "insertproportion": "update",
        "readmodifywriteproportion": "update", "deleteproportion": "update", "scanproportion": "scan",
        "queryproportion": "query", "graphproportion": "query", "shortestpathproportion": "query",
        "joinproportion": "query"}
_FAMILY_ORDER = ("update", "scan", "query", "batch", "read")
FAMILIES = {"read": "read-heavy", "update": "update-heavy", "scan": "scan", "query": "query", "batch": "batch"}
#: a store whose colour another store on the page already has (more stores than colours) is told apart by
#: its dash pattern; the colours themselves are cells.store_colours, the same on every page
DASHES = ("", "6 3", "2 2")
METRIC_LABELS = {"throughput": "throughput", "p99": "p99 latency", "load_time": "load time",
                 "footprint": "footprint"}


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("storagebench.report", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "j2"), default_for_string=True),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def fmt(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def money(value: float) -> str:
    """An amount with three significant digits, never in exponent notation (0.0000494, 1.47, 1,230)."""
    if value == 0:
        return "0"
    return f"{value:,.{max(0, 2 - math.floor(math.log10(abs(value))))}f}"


def workload_operations(result: dict[str, Any]) -> list[str]:
    """The operations this result's phase did: a load phase its own (inserts), a run phase those its
    workload's proportions ask for and those it recorded."""
    ops = [op for op in result.get("operations", {}) if op != "verify"]
    if result.get("phase") == "load":
        return ops
    wl = result.get("config", {}).get("workload", {})
    if wl.get("kind") == "batch":
        return ["batch_write", "batch_read", "batch_filter"]
    return list(dict.fromkeys(phase_operations(wl, "run") + ops))


def support_of(result: dict[str, Any]) -> dict[str, str]:
    """How the store answered each operation the phase asked for (``operation_support``); older files
    without it: the capabilities they recorded, for the operations the phase did."""
    recorded = result.get("operation_support")
    if isinstance(recorded, dict) and recorded:
        return {str(op): str(how) for op, how in recorded.items()}
    caps = result.get("capabilities") or {}
    return {op: str(caps[op]) for op in workload_operations(result) if op in caps}


#: a matrix cell's text for one way of answering
SUPPORT_TEXT = {"native": "native", "emulated": "emulated", "unsupported": "not supported"}


def model_matrix(results: Sequence[dict[str, Any]], stores: Sequence[str]) -> dict[str, Any]:
    """Store x data model, from what the result files recorded: per store and model, how the store
    answered that model's operations in the phases that asked for them (``not run``: no phase did)."""
    seen: dict[str, dict[str, dict[str, set[str]]]] = {}  # store -> model -> op -> ways
    for r in results:
        for op, how in support_of(r).items():
            model = OPERATION_MODEL.get(op)
            if model is not None:
                seen.setdefault(r["store"], {}).setdefault(model, {}).setdefault(op, set()).add(how)
    models = [m for m in MODEL_LABELS if any(m in by_model for by_model in seen.values())]
    rows = []
    for store in stores:
        cells = {}
        for model in models:
            ops = seen.get(store, {}).get(model)
            if not ops:
                cells[model] = {"how": "not-run", "text": "not run", "ops": {}}
                continue
            per_op = {op: "/".join(sorted(ways)) for op, ways in sorted(ops.items())}
            ways = {w for ws in ops.values() for w in ws}
            if len(ways) == 1:
                how = next(iter(ways))
                text = SUPPORT_TEXT.get(how, how)
            else:
                how = "partly"
                text = "; ".join(f"{SUPPORT_TEXT.get(w, w)}: {', '.join(o for o, ws in sorted(ops.items()) if w in ws)}"
                                 for w in sorted(ways))
            cells[model] = {"how": how, "text": text, "ops": per_op}
        rows.append({"store": store, "cells": cells})
    return {"models": [{"key": m, "label": MODEL_LABELS[m]} for m in models], "rows": rows}


def index_label(entry: dict[str, Any]) -> str:
    """What an index a workload declared covers: ``field9.placed (numeric)``, ``field0 links (edge table)``."""
    if entry.get("edges"):
        return f"{entry.get('field')} links (edge table)"
    label = f"{entry.get('field')}.{entry['path']}" if entry.get("path") else str(entry.get("field"))
    return label + (" (numeric)" if entry.get("numeric") else "")


def index_table(results: Sequence[dict[str, Any]], stores: Sequence[str]) -> list[dict[str, Any]]:
    """Per workload and declared index, per store: what its load phases recorded (``indexes``) — built or
    not, the build time (median over the loads) and the size the store reported, or the error."""
    seen: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
    graph_stores = set()  # a graph store's edge table is its relationships, made by the load itself
    for r in results:
        if r.get("phase") == "load" and r.get("status") == "ok":
            for entry in r.get("indexes") or []:
                seen.setdefault((r["workload"], index_label(entry)), {}).setdefault(r["store"], []).append(entry)
            if (r.get("capabilities") or {}).get("family") == "graph":
                graph_stores.add(r["store"])
    rows = []
    for (workload, label), by_store in sorted(seen.items()):
        cells: dict[str, dict[str, str]] = {}
        for store in stores:
            entries = by_store.get(store)
            if not entries:
                cells[store] = {"how": "not-run", "text": "not run"}
                continue
            errors = [str(e["error"]) for e in entries if e.get("error")]
            built = [e for e in entries if e.get("built")]
            if errors:
                cells[store] = {"how": "failed", "text": f"failed: {errors[0]}"}
            elif not built:
                cells[store] = {"how": "none", "text": "none"}
            else:
                seconds = statistics.median(float(e["build_s"]) for e in built if e.get("build_s") is not None)
                sizes = [int(e["bytes"]) for e in built if isinstance(e.get("bytes"), int)]
                size = (format_figure("footprint", statistics.median(sizes), "bytes") if sizes
                        else "size not reported")
                took = format_figure("load", seconds, "s")
                text = (f"its relationships, made by the load (checked in {took}) · {size}"
                        if store in graph_stores and built[0].get("edges") else f"built in {took} · {size}")
                cells[store] = {"how": "built", "text": text}
        rows.append({"workload": workload, "index": label, "cells": cells})
    return rows


def workload_mix(result: dict[str, Any]) -> dict[str, float]:
    """The run phase's share of each kind of work (read, update = any write, scan, query, batch)."""
    wl = result.get("config", {}).get("workload", {})
    if wl.get("kind") == "batch":
        return {"batch": 1.0}
    mix: dict[str, float] = {}
    for prop, kind in _MIX.items():
        share = float(wl.get(prop) or 0.0)
        if share > 0:
            mix[kind] = round(mix.get(kind, 0.0) + share, 4)
    return mix


def workload_family(mix: dict[str, float]) -> str:
    """The kind of work with the largest share (a tie goes to writes, scans and queries before reads:
    YCSB A's 50/50 is update-heavy)."""
    if not mix:
        return "other"
    kind = max(_FAMILY_ORDER, key=lambda k: (mix.get(k, 0.0), -_FAMILY_ORDER.index(k)))
    return FAMILIES[kind]


def _clean(value: Any) -> Any:
    """NaN -> None so the page's JSON is valid."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def client_cpu_us(result: dict[str, Any]) -> float | None:
    """The client workers' CPU per operation (µs, user + system of their threads) in one result: what the
    harness and the driver cost the machine per operation, next to the store's latency."""
    workers = [w for w in result.get("workers") or [] if w.get("cpu_s") is not None]
    ops = sum(w.get("operations") or 0 for w in workers)
    return 1e6 * sum(w["cpu_s"] for w in workers) / ops if workers and ops else None


def _cell_id(store: str, workload: str, phase: str) -> str:
    return f"cell-{store}-{workload}-{phase}"


def _op_intervals(results: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per run cell id: per operation, p99 (µs) median and interval over the repeats (requirements)."""
    values: dict[str, dict[str, list[float]]] = {}
    for r in results:
        if r.get("phase") != "run" or r.get("status") != "ok":
            continue
        cell = values.setdefault(_cell_id(r["store"], r["workload"], "run"), {})
        for op, stats in (r.get("operations") or {}).items():
            value = (stats.get("latency") or {}).get(f"p{RANKED_PERCENTILE:g}_us")
            if op != "verify" and isinstance(value, int | float):
                cell.setdefault(op, []).append(float(value))
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for cid, ops in values.items():
        out[cid] = {}
        for op, xs in ops.items():
            iv = median_interval(xs)
            out[cid][op] = {"p99": iv.median, "p99_low": iv.lo, "p99_high": iv.hi, "samples": iv.n}
    return out


def failures(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per store with a failed, aborted, invalid or interrupted phase: every such phase, first reason first
    (for the banner at the top of the page)."""
    out: dict[str, dict[str, Any]] = {}
    for r in sorted(results, key=lambda r: str(r.get("started_at", ""))):
        if r.get("status") in FAILED_STATUSES:
            entry = out.setdefault(r["store"], {"store": r["store"], "phases": []})
            first = r.get("first_error")
            reason = str(r.get("reason") or "") or (first if isinstance(first, str) else json.dumps(first or ""))
            entry["phases"].append({"workload": r["workload"], "phase": r["phase"], "status": r["status"],
                                    "reason": reason, "id": _cell_id(r["store"], r["workload"], r["phase"])})
    return list(out.values())


def wrong_data(results: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Stores caught returning wrong data (an ``invalid`` phase anywhere) -> where, first."""
    out: dict[str, str] = {}
    for r in results:
        if r.get("status") == "invalid":
            why = r.get("reason") or r.get("first_error") or "invalid"
            out.setdefault(r["store"], f"{r['workload']} {r['phase']}: {why}")
    return out


def noise_summary(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The noise probes the runs recorded (median over the runs, and their range)."""
    out: dict[str, Any] = {}
    probes = {str(r.get("run_id")): r["noise"] for r in results if isinstance(r.get("noise"), dict)}
    for key in ("fsync_p50_us", "fsync_p99_us", "cpu_loops_per_sec", "memory_copy_gb_per_sec"):
        xs = [float(p[key]) for p in probes.values() if isinstance(p.get(key), int | float)]
        if xs:
            out[key] = {"median": statistics.median(xs), "lo": min(xs), "hi": max(xs), "runs": len(xs)}
    loads = [p["loadavg"][0] for p in probes.values() if isinstance(p.get("loadavg"), list) and p["loadavg"]]
    if loads:
        out["loadavg"] = {"median": statistics.median(loads), "lo": min(loads), "hi": max(loads), "runs": len(loads)}
    return out


def coverage_text(coverages: Sequence[tuple[int, float]]) -> str:
    """What the intervals of the page claim, from the cells' own sample counts."""
    if not coverages:
        return ""
    if all(n < 2 for n, _ in coverages):
        return ("One sample per cell: no intervals, so no tie can be established and every order rests on "
                "single measurements.")
    parts = [f"{100 * c:.1f} %".replace(".0 %", " %") + f" ({n} samples per cell)" for n, c in coverages if n > 1]
    single = " Cells with one sample have no interval." if any(n < 2 for n, _ in coverages) else ""
    return ("Each interval (order statistics of the median) covers the true median with probability "
            f"{', '.join(parts)}.{single}")


def presets(workloads: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Workload weights per preset: each workload weighs its share of that kind of work (read-heavy: its
    read share ...); ``balanced``: every workload 1.  Presets no workload has work for are left out."""
    out: dict[str, dict[str, float]] = {}
    for kind, name in FAMILIES.items():
        weights = {w["name"]: w["mix"].get(kind, 0.0) for w in workloads}
        if any(weights.values()):
            out[name] = weights
    out["balanced"] = {w["name"]: 1.0 for w in workloads}
    return out


def fault_rows(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per run phase with an injected fault: what was done, the durability asked for, how long the
    engine took to come back, the outage the clients saw, operations failed and acknowledged writes lost
    (None: not checked, no read-back)."""
    rows = []
    for r in results:
        fault = r.get("fault")
        if not fault:
            continue
        back = next((fault[k] for k in ("ready_s", "resumed_s", "freed_s") if fault.get(k) is not None), None)
        lost = fault.get("acknowledged_writes_lost")
        rows.append({
            "store": r["store"], "workload": r["workload"], "fault": fault.get("fault", ""),
            "kind": fault.get("kind", ""), "durability": (r.get("durability") or {}).get("profile", ""),
            "status": r.get("status", ""), "struck_s": fault.get("struck_s"),
            "back_after_s": None if back is None or fault.get("struck_s") is None
            else round(float(back) - float(fault["struck_s"]), 2),
            "outage_s": fault.get("outage_s"), "failed": fault.get("failed_operations") or 0,
            "operations": (r.get("totals") or {}).get("operations", 0),
            "lost": lost if isinstance(lost, int) else None,
            "checked": (r.get("readback") or {}).get("checked"), "error": fault.get("error", ""),
            "id": _cell_id(r["store"], r["workload"], r["phase"])})
    return rows


def page_data(results: Sequence[dict[str, Any]], sweeps: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Everything the page shows, as plain data (tests read this; the template and report.js render it)."""
    samples = samples_frame(results)
    cells = cells_frame(samples) if not samples.empty else pd.DataFrame()
    stores = list(dict.fromkeys([r["store"] for r in results] + [s["store"] for s in sweeps]))
    workloads: dict[str, dict[str, Any]] = {}
    capabilities: dict[str, dict[str, Any]] = {}
    provenance: dict[str, dict[str, Any]] = {}
    emulated: dict[str, set[str]] = {}  # cell id -> operations the store emulated there
    for r in results:
        w = workloads.setdefault(r["workload"], {"name": r["workload"], "operations": [], "load_ops": [],
                                                 "mix": {}, "description": r.get("workload_description", "")})
        ops = workload_operations(r)
        if r.get("phase") == "load":
            w["load_ops"] = list(dict.fromkeys(w["load_ops"] + ops))
        else:
            w["operations"] = list(dict.fromkeys(w["operations"] + ops))
            w["mix"] = w["mix"] or workload_mix(r)
        if "model" not in w and r.get("config", {}).get("workload"):
            w["model"] = workload_model(r["config"]["workload"])
        emulated.setdefault(_cell_id(r["store"], r["workload"], r["phase"]), set()).update(
            op for op, how in support_of(r).items() if how == "emulated")
        capabilities.setdefault(r["store"], r.get("capabilities", {}))
        prov = provenance.setdefault(_cell_id(r["store"], r["workload"], r["phase"]), {
            "store": r["store"], "workload": r["workload"], "phase": r["phase"], "command": command_line(r),
            "seed": r.get("seed"), "files": [], "runs": [], "engine": r.get("server", {}).get("label", ""),
            "client": r.get("client", {}),
            # as recorded, less the old fixed caveat sentence (the page states the run's own fsync probe)
            "durability": {k: v for k, v in (r.get("durability") or {}).items() if k != "caveat"} or None,
            "clients": r.get("config", {}).get("client_layout"),
            "options": r.get("config", {}).get("store_options", {}),
            "workload_config": r.get("config", {}).get("workload", {})})
        prov["files"].append(r.get("_file", ""))
        prov["runs"].append(r.get("run_id"))
        cpu = client_cpu_us(r)
        if cpu is not None:
            prov.setdefault("cpu_runs", []).append(cpu)
        server = r.get("server_cost") or {}
        if server.get("cpu_us_per_op") is not None:
            prov.setdefault("server_cpu_runs", []).append(float(server["cpu_us_per_op"]))
            if server.get("write_amplification") is not None:
                prov.setdefault("write_amp_runs", []).append(float(server["write_amplification"]))
        elif server.get("observed") is False:
            prov["server_unobserved"] = str(server.get("reason", ""))
        if r.get("cache"):  # the caches' state at the start of the phase: cold (`run --cold`) or as found
            state = describe_cache(r["cache"])
            if state not in prov.setdefault("cache", []):
                prov["cache"].append(state)
        network = r.get("network") or {}
        if network.get("name") not in (None, "loopback"):
            prov["network"] = f"{network['name']}: {network.get('description', '')}" + (
                f" (not covered: {network['not_covered']})" if network.get("not_covered") else "")
        if r.get("fault"):
            fault = r["fault"]
            lost = fault.get("acknowledged_writes_lost")
            lost_text = (f"{lost:,} key(s)" if isinstance(lost, int) else
                         f"not checked (no read-back after a phase that ended {r.get('status')})")
            prov.setdefault("faults", []).append(
                f"{fault.get('fault')}: outage {fault.get('outage_s')} s, {fault.get('failed_operations') or 0:,} "
                f"failed operations, acknowledged writes lost: {lost_text}")
    for prov in provenance.values():  # the client's CPU per operation, median over the repeats
        runs = prov.pop("cpu_runs", [])
        prov["client_cpu_us"] = round(statistics.median(runs), 2) if runs else None
        server_runs = prov.pop("server_cpu_runs", [])  # the engine's own CPU per operation, median over repeats
        prov["server_cpu_us"] = round(statistics.median(server_runs), 2) if server_runs else None
        amp = prov.pop("write_amp_runs", [])
        prov["write_amplification"] = round(statistics.median(amp), 2) if amp else None
    for w in workloads.values():
        w["family"] = workload_family(w["mix"])
        w.setdefault("model", "mixed")
    cell_rows = [{k: _clean(v) for k, v in row.items()} for row in cells.to_dict("records")] if len(cells) else []
    op_intervals = _op_intervals(results)
    for row in cell_rows:
        row["id"] = _cell_id(row["store"], row["workload"], row["phase"])
        row["ops"] = op_intervals.get(row["id"], {})
        row["emulated"] = sorted(emulated.get(row["id"], ()))
    families = {s: capabilities.get(s, {}).get("family", "other") for s in stores}
    colours = store_colours(stores)
    order = list(MODEL_LABELS)  # workloads grouped by data model, in the models' order
    workload_list = sorted(workloads.values(), key=lambda w: order.index(w["model"]))
    return {
        "stores": stores, "families": families, "workloads": workload_list,
        "models": [{"key": m, "label": MODEL_LABELS[m], "workloads": [w["name"] for w in workload_list
                                                                     if w["model"] == m]}
                   for m in order if any(w["model"] == m for w in workload_list)],
        "model_matrix": model_matrix(results, stores),
        "indexes": index_table(results, stores),
        "colours": colours,
        "dashes": {s: DASHES[list(colours.values())[:i].count(colours[s]) % len(DASHES)]
                   for i, s in enumerate(colours)},
        "metrics": {m: {"phase": p, "higher": h, "unit": u, "label": METRIC_LABELS[m], "shift": SHIFTS[m],
                        "weight": DEFAULT_WEIGHTS[m]} for m, (p, h, u) in METRICS.items()},
        "presets": presets(workload_list), "percentile": RANKED_PERCENTILE,
        "cells": cell_rows, "ratios": ratios(cells) if len(cells) else [],
        "capabilities": capabilities, "operations": list(Capabilities.OPERATIONS),
        "provenance": provenance,
        "repeats": int(cells["samples"].max()) if len(cells) else 0,
        "coverage_text": coverage_text(sorted({(int(n), float(c)) for n, c in zip(
            cells["samples"], cells["coverage"], strict=True)}) if len(cells) else []),
        "failures": failures(results), "wrong_data": wrong_data(results), "noise": noise_summary(results),
        "faults": fault_rows(results),
        "hdr": hdr_curves(results), "series": throughput_series(results), "sweeps": sweep_charts(sweeps),
        "merges": [{"id": _cell_id(r["store"], r["workload"], r["phase"]), "store": r["store"],
                    "workload": r["workload"], "phase": r["phase"], "totals": r.get("totals", {}),
                    "latency": ok_latency(r), **r["merge"]} for r in results if isinstance(r.get("merge"), dict)],
    }


def store_facts(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per store: the engine that answered and what an acknowledged write meant there, from the result
    files' ``server`` and ``durability`` as recorded (an adapter that does not declare it: unknown)."""
    facts: dict[str, dict[str, Any]] = {}
    for r in results:
        if r["store"] in facts:
            continue
        server = r.get("server", {})
        durability = r.get("durability") or {}
        facts[r["store"]] = {
            "store": r["store"], "engine": server.get("label", ""),
            "ferretdb": str(server.get("engine", "")).startswith("FerretDB"),
            "profile": durability.get("profile", "not recorded"),
            "honoured": {True: "yes", False: "NO", None: "unknown"}.get(durability.get("honoured"), "unknown"),
            "source": "read back from the server" if durability.get("observed") else "as configured / documented",
            "settings": ", ".join(f"{k}={v}" for k, v in (durability.get("settings") or {}).items()),
            "note": durability.get("note", ""),
        }
    return list(facts.values())


def _static(name: str) -> str:
    return (Path(__file__).parent / "templates" / name).read_text()


def _header(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Where and how the runs ran: kernel, client layouts, result folders."""
    first = results[0] if results else {}
    layouts = sorted({f"{clients_text(r)}" for r in results if r.get("phase") == "run"})
    platform = str(first.get("machine", {}).get("platform", ""))
    return {"kernel": platform, "layouts": layouts}


def clients_text(result: dict[str, Any]) -> str:
    layout = (result.get("config") or {}).get("client_layout") or {}
    if not layout:
        cfg = result.get("config") or {}
        return f"{cfg.get('threads', 1)} thread(s) x {cfg.get('processes', 1)} process(es)"
    share = ", sharing a thread each" if layout.get("clients_share") == "greenlets" else ""
    return f"{layout.get('clients')} client(s) in {layout.get('processes')} process(es){share}"


def build_html(results: Sequence[dict[str, Any]], title: str, notes: Sequence[str] = (),
               sweeps: Sequence[dict[str, Any]] = (), prices: PriceSheet | None = None) -> str:
    """``notes``: what the page must say besides the figures (unusable files, incomplete runs, pairs that
    never ran; :mod:`storagebench.results.runhealth`).  ``sweeps``: sweep files (:func:`find_sweeps`).
    ``prices``: a price sheet, for the cost model's section (:mod:`storagebench.report.costs`)."""
    data = page_data(results, sweeps)
    first = results[0] if results else (sweeps[0] if sweeps else {})
    cells = {row["id"]: row for row in data["cells"]}
    problems = [r for r in results if r.get("status") != "ok" or r.get("errors")]
    run_config = {k: v for k, v in first.get("config", {}).items() if k not in ("store_options", "workload")}
    context = {
        "title": title, "data": data, "cells": cells,
        # what report.js reads (the provenance is HTML below, not sent twice)
        "script_data": {k: v for k, v in data.items() if k != "provenance"}, "stores": data["stores"], "first": first,
        "harness": first.get("harness", {}), "machine": first.get("machine", {}), "header": _header(results),
        "run_ids": sorted({str(r.get("run_id")) for r in [*results, *sweeps]}),
        "problems": problems,
        "run_config": json.dumps({"config": run_config, "machine": first.get("machine", {}),
                                  "harness": first.get("harness", {})}, indent=1),
        "fmt": fmt, "money": money, "cell_id": _cell_id, "json": json.dumps, "operation_rows": operation_table(results),
        "percentile_labels": PERCENTILE_LABELS,
        "css": _static("report.css"), "script": _static("report.js"), "notes": list(notes),
        "store_facts": store_facts(results),
        "costs": cost_table(results, sweeps, prices) if prices is not None else None,
    }
    return environment().get_template("report.html.j2").render(context)


#: what report.html takes per result besides plotly.js (inlined once): about 8 KB, kept with a margin
REPORT_BYTES_PER_RESULT = 16 * 2**10


def report_bytes(results: int) -> int:
    """Room report.html needs for a run of ``results`` result files."""
    from plotly.offline import get_plotlyjs

    return len(get_plotlyjs()) + (results + 4) * REPORT_BYTES_PER_RESULT


def write_report(run_dir: Path | Sequence[Path], output: Path | None = None, prices: PriceSheet | None = None) -> Path:
    dirs = [run_dir] if isinstance(run_dir, Path) else list(run_dir)
    results = find_results(dirs)
    output = output or dirs[0] / "report.html"
    name = dirs[0].name if len(dirs) == 1 else f"{len(dirs)} runs"
    notes = inspect(dirs).notes()
    atomic_write_text(output, build_html(results, f"storagebench report — {name}", notes, find_sweeps(dirs), prices))
    return output
