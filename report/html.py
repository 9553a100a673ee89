"""One self-contained ``report.html`` from result files (one run folder, or several: repeats).

The page is rendered from Jinja2 templates in ``templates/`` with autoescaping (every string from an
engine, an error or a config is escaped); the data the page's script needs goes in as JSON through
``tojson`` (which escapes ``<``, ``>``, ``&`` and quotes).  plotly.js is inlined once: the page opens
offline from file://.  The verdict, the requirements panel and the filters run in ``report.js`` on
that JSON, so the reader's weights and requirements re-rank without a server.
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
from storagebench.report.cells import METRICS, cells_frame, command_line, find_results, ok_latency, samples_frame
from storagebench.report.scoring import SHIFTS, ratios

from storagebench.measuring.measurement import PERCENTILES, operations_for_percentile
from storagebench.results.files import atomic_write_text
from storagebench.results.runhealth import inspect

#: workload property -> the operations it makes the run phase do
_PROPORTION_OPS = {
    "readproportion": ("read",), "updateproportion": ("update",), "insertproportion": ("insert",),
    "scanproportion": ("scan",), "readmodifywriteproportion": ("read", "update"),
    "deleteproportion": ("delete",), "queryproportion": ("query",), "graphproportion": ("graph",),
}
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


def workload_operations(result: dict[str, Any]) -> list[str]:
    wl = result.get("config", {}).get("workload", {})
    if wl.get("kind") == "batch":
        return ["batch_write", "batch_read", "batch_filter"]
    ops = [op for prop, names in _PROPORTION_OPS.items() if wl.get(prop) for op in names]
    ops += [op for op in result.get("operations", {}) if op != "verify"]
    return list(dict.fromkeys(ops))


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


def _charts(results: Sequence[dict[str, Any]], stores: list[str]) -> list[dict[str, Any]]:
    """Per workload: latency percentiles of each store's operations, and throughput per second."""
    charts: list[dict[str, Any]] = []
    runs: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        if r.get("phase") == "run" and r.get("status") == "ok" and r.get("operations"):
            runs.setdefault(r["workload"], [])
            if r["store"] not in {x["store"] for x in runs[r["workload"]]}:  # first repeat draws the curves
                runs[r["workload"]].append(r)
    labels = [f"p{p:g}" for p in PERCENTILES]
    for workload, group in runs.items():
        group.sort(key=lambda r: stores.index(r["store"]))
        traces = []
        for r in group:
            for op, stats in r.get("operations", {}).items():
                lat = stats.get("latency", {})
                if op == "verify" or not lat.get("count"):
                    continue
                # percentiles without enough samples are left out rather than drawn as if measured
                traces.append({"type": "scatter", "mode": "lines+markers", "name": f"{r['store']} {op}",
                               "x": labels, "y": [lat.get(f"p{p:g}_us") if enough_samples(lat["count"], p)
                                                  else None for p in PERCENTILES]})
        charts.append({"id": f"lat-{workload}", "workload": workload, "traces": traces, "layout": {
            "title": {"text": f"{workload}: latency percentiles (µs, log scale)"},
            "xaxis": {"title": {"text": "percentile"}},
            "yaxis": {"type": "log", "dtick": 1, "title": {"text": "µs"}}, "height": 400}})
        series = []
        for r in group:
            ops_series = r.get("timeseries", {}).get("ops", [])
            complete = int(r.get("duration_s") or 0)
            if complete >= 2:  # the last second is partial: leave it out rather than draw a drop
                ops_series = ops_series[:complete]
            series.append({"type": "scatter", "mode": "lines+markers", "name": r["store"], "y": ops_series})
        charts.append({"id": f"ts-{workload}", "workload": workload, "traces": series, "layout": {
            "title": {"text": f"{workload}: throughput per second (complete seconds)"},
            "xaxis": {"title": {"text": "second of the run phase"}},
            "yaxis": {"title": {"text": "ops/s"}, "rangemode": "tozero"}, "height": 300}})
    return charts


def enough_samples(count: int, percentile: float) -> bool:
    """A percentile means something only with :func:`operations_for_percentile` samples (p99.9: 1,000),
    the rule sweeps judge their steps by too."""
    return count >= operations_for_percentile(percentile)


def page_data(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Everything the page shows, as plain data (tests read this; the template and report.js render it)."""
    samples = samples_frame(results)
    cells = cells_frame(samples) if not samples.empty else pd.DataFrame()
    stores = list(dict.fromkeys(r["store"] for r in results))
    workloads: dict[str, dict[str, Any]] = {}
    capabilities: dict[str, dict[str, Any]] = {}
    provenance: dict[str, dict[str, Any]] = {}
    durability: dict[str, Any] = {}
    for r in results:
        w = workloads.setdefault(r["workload"], {"name": r["workload"], "operations": [],
                                                 "description": r.get("workload_description", "")})
        w["operations"] = list(dict.fromkeys(w["operations"] + workload_operations(r)))
        capabilities.setdefault(r["store"], r.get("capabilities", {}))
        if r.get("durability") is not None:
            durability.setdefault(r["store"], r["durability"])
        prov = provenance.setdefault(_cell_id(r["store"], r["workload"], r["phase"]), {
            "store": r["store"], "workload": r["workload"], "phase": r["phase"], "command": command_line(r),
            "seed": r.get("seed"), "files": [], "runs": [], "engine": r.get("server", {}).get("label", ""),
            "client": r.get("client", {}), "durability": r.get("durability"),
            "clients": r.get("config", {}).get("client_layout"),
            "options": r.get("config", {}).get("store_options", {}),
            "workload_config": r.get("config", {}).get("workload", {})})
        prov["files"].append(r.get("_file", ""))
        prov["runs"].append(r.get("run_id"))
        cpu = client_cpu_us(r)
        if cpu is not None:
            prov.setdefault("cpu_runs", []).append(cpu)
    for prov in provenance.values():  # the client's CPU per operation, median over the repeats
        runs = prov.pop("cpu_runs", [])
        prov["client_cpu_us"] = round(statistics.median(runs), 2) if runs else None
    cell_rows = [{k: _clean(v) for k, v in row.items()} for row in cells.to_dict("records")] if len(cells) else []
    for row in cell_rows:
        row["id"] = _cell_id(row["store"], row["workload"], row["phase"])
    families = {s: capabilities[s].get("family", "other") for s in stores}
    return {
        "stores": stores, "families": families, "workloads": list(workloads.values()),
        "metrics": {m: {"phase": p, "higher": h, "unit": u, "label": METRIC_LABELS[m], "shift": SHIFTS[m]}
                    for m, (p, h, u) in METRICS.items()},
        "cells": cell_rows, "ratios": ratios(cells) if len(cells) else [],
        "capabilities": capabilities, "operations": list(Capabilities.OPERATIONS),
        "provenance": provenance, "durability": durability,
        "repeats": int(cells["samples"].max()) if len(cells) else 0,
        "merges": [{"id": _cell_id(r["store"], r["workload"], r["phase"]), "store": r["store"],
                    "workload": r["workload"], "phase": r["phase"], "totals": r.get("totals", {}),
                    "latency": ok_latency(r), **r["merge"]} for r in results if isinstance(r.get("merge"), dict)],
    }


def _operation_rows(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    rows, seen = [], set()
    for r in results:
        if r.get("phase") != "run" or r.get("status") != "ok" or (r["store"], r["workload"]) in seen:
            continue
        seen.add((r["store"], r["workload"]))  # the first repeat's per-operation table
        for op, stats in r.get("operations", {}).items():
            rows.append({"store": r["store"], "workload": r["workload"], "op": op,
                         "family": r.get("capabilities", {}).get("family", "other"),
                         "how": str(r.get("capabilities", {}).get(op, "")), "lat": stats.get("latency", {}),
                         "counts": ", ".join(f"{k} {v:,}" for k, v in stats.get("status_counts", {}).items())})
    return rows


def store_facts(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per store: the engine that answered and what an acknowledged write meant there (the result
    files' ``server`` and ``durability``), for the table beside the figures."""
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
            "note": durability.get("note", ""), "caveat": durability.get("caveat", ""),
        }
    return list(facts.values())


def _static(name: str) -> str:
    return (Path(__file__).parent / "templates" / name).read_text()


def build_html(results: Sequence[dict[str, Any]], title: str, notes: Sequence[str] = ()) -> str:
    """``notes``: what the page must say besides the figures (unusable files, incomplete runs, pairs that
    never ran; :mod:`storagebench.results.runhealth`)."""
    from plotly.offline import get_plotlyjs

    data = page_data(results)
    stores = data["stores"]
    first = results[0] if results else {}
    cells = {row["id"]: row for row in data["cells"]}
    problems = [r for r in results if r.get("status") != "ok" or r.get("errors")]
    run_config = {k: v for k, v in first.get("config", {}).items() if k not in ("store_options", "workload")}
    context = {
        "title": title, "data": data, "cells": cells, "stores": stores, "first": first,
        "harness": first.get("harness", {}), "machine": first.get("machine", {}),
        "run_ids": sorted({str(r.get("run_id")) for r in results}),
        "charts": _charts(results, stores), "problems": problems, "percentiles": PERCENTILES,
        "run_config": json.dumps({"config": run_config, "machine": first.get("machine", {}),
                                  "harness": first.get("harness", {})}, indent=1),
        "plotly_js": get_plotlyjs(), "fmt": fmt, "cell_id": _cell_id, "json": json.dumps,
        "enough_samples": enough_samples, "operation_rows": _operation_rows(results),
        "css": _static("report.css"), "script": _static("report.js"), "notes": list(notes),
        "store_facts": store_facts(results),
    }
    return environment().get_template("report.html.j2").render(context)


#: what report.html takes per result besides plotly.js (inlined once): about 8 KB, kept with a margin
REPORT_BYTES_PER_RESULT = 16 * 2**10


def report_bytes(results: int) -> int:
    """Room report.html needs for a run of ``results`` result files."""
    from plotly.offline import get_plotlyjs

    return len(get_plotlyjs()) + (results + 4) * REPORT_BYTES_PER_RESULT


def write_report(run_dir: Path | Sequence[Path], output: Path | None = None) -> Path:
    dirs = [run_dir] if isinstance(run_dir, Path) else list(run_dir)
    results = find_results(dirs)
    output = output or dirs[0] / "report.html"
    name = dirs[0].name if len(dirs) == 1 else f"{len(dirs)} runs"
    notes = inspect(dirs).notes()
    atomic_write_text(output, build_html(results, f"storagebench report — {name}", notes))
    return output
