"""One self-contained ``report.html`` from a run folder's result files.

plotly.js is inlined (no CDN: the page opens offline from file://).  Every string that came from an
engine, an error or a config is HTML-escaped; chart data goes through JSON with ``</`` escaped.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from storagebench.adapters.base import Capabilities

from storagebench.measurement import PERCENTILES, decode, new_histogram, summarize
from storagebench.results import atomic_write_text, load_results

E = html.escape


def _js(data: Any) -> str:
    return json.dumps(data).replace("</", "<\\/")


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def combined_latency(result: dict[str, Any]) -> dict[str, Any]:
    """All measured operations of a result together (verification records excluded)."""
    hist = new_histogram()
    for key, text in result.get("histograms", {}).items():
        if not key.startswith("verify|"):
            hist.add(decode(text))
    return summarize(hist, result.get("duration_s") or 0.0)


def _cell(result: dict[str, Any] | None) -> str:
    if result is None:
        return "<td class='na'>not run</td>"
    status = result.get("status")
    if status != "ok":
        return f"<td class='{E(str(status))}' title='{E(result.get('reason', ''))}'>{E(str(status))}<br>" \
               f"<small>{E(result.get('reason', '')[:120])}</small></td>"
    totals = result.get("totals", {})
    if "batch" in result:
        b = result["batch"]
        return (f"<td><b>{_fmt(b.get('rows_per_sec'))}</b> rows/s<br><small>{_fmt(b.get('mb_per_sec'), 1)} MB/s · "
                f"{E(', '.join(sorted(set(b.get('paths', {}).values()))))}</small></td>")
    lat = combined_latency(result)
    failed = totals.get("failed", 0)
    warn = f"<br><small class='bad'>{failed:,} failed</small>" if failed else ""
    return (f"<td><b>{_fmt(totals.get('ops_per_sec'))}</b> ops/s<br>"
            f"<small>p50 {_fmt(lat.get('p50_us'), 1)} µs · p99 {_fmt(lat.get('p99_us'), 1)} µs</small>{warn}</td>")


def enough_samples(count: int, percentile: float) -> bool:
    """A percentile p means something only with at least 1/(1-p) samples (p99.9 needs 1,000)."""
    return percentile >= 100 or count >= 1 / (1 - percentile / 100)


def _pct_cell(lat: dict[str, Any], p: float) -> str:
    value = _fmt(lat.get(f"p{p:g}_us"), 1)
    if lat.get("count") and not enough_samples(lat["count"], p):
        return f"<td class='n thin' title='only {lat['count']:,} samples'>{value}</td>"
    return f"<td class='n'>{value}</td>"


def _title(text: str) -> dict[str, str]:
    return {"text": text}


def build_html(results: list[dict[str, Any]], title: str) -> str:
    from plotly.offline import get_plotlyjs

    stores = list(dict.fromkeys(r["store"] for r in results))
    workloads = list(dict.fromkeys(r["workload"] for r in results))
    index = {(r["store"], r["workload"], r["phase"]): r for r in results}
    first = results[0] if results else {}

    parts: list[str] = []
    parts.append(f"<h1>{E(title)}</h1>")
    harness = first.get("harness", {})
    machine = first.get("machine", {})
    parts.append(
        f"<p class='meta'>run <code>{E(str(first.get('run_id', '')))}</code>"
        f" · started {E(str(first.get('started_at', '')))}"
        f" · storagebench {E(str(harness.get('version', '')))} commit <code>{E(str(harness.get('commit')))}</code>"
        f"{' (local changes)' if harness.get('dirty') else ''} · {E(str(machine.get('cpu', '')))}, "
        f"{E(str(machine.get('cpu_count', '')))} cores, {E(str(machine.get('memory_gib', '')))} GiB · seed "
        f"{E(str(first.get('seed', '')))}</p>")

    # summary: stores x workloads, run phase
    parts.append("<h2>Summary (run phase: throughput, p50, p99 over all operations)</h2><table><tr><th>store</th>")
    parts.extend(f"<th title='{E(index.get((stores[0], w, 'run'), {}).get('workload_description', ''))}'>"
                 f"{E(w)}</th>" for w in workloads)
    parts.append("</tr>")
    for s in stores:
        label = next((r["server"].get("label", "") for r in results if r["store"] == s), "")
        parts.append(f"<tr><th>{E(s)}<br><small>{E(label)}</small></th>")
        parts.extend(_cell(index.get((s, w, "run"))) for w in workloads)
        parts.append("</tr>")
    parts.append("</table>")

    # load phase
    parts.append("<h2>Load phase (inserts)</h2><table><tr><th>store</th>")
    parts.extend(f"<th>{E(w)}</th>" for w in workloads)
    parts.append("</tr>")
    for s in stores:
        parts.append(f"<tr><th>{E(s)}</th>")
        parts.extend(_cell(index.get((s, w, "load"))) for w in workloads)
        parts.append("</tr>")
    parts.append("</table>")

    # per-workload charts
    charts: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = []
    for w in workloads:
        runs = [index[(s, w, "run")] for s in stores if (s, w, "run") in index
                and index[(s, w, "run")].get("status") == "ok"]
        if not runs:
            continue
        desc = runs[0].get("workload_description", "")
        parts.append(f"<h2>Workload {E(w)}</h2><p>{E(desc)}</p>")
        traces = []
        labels = [f"p{p:g}" for p in PERCENTILES]
        for r in runs:
            for op, stats in r.get("operations", {}).items():
                lat = stats.get("latency", {})
                if op == "verify" or not lat.get("count"):
                    continue
                # percentiles without enough samples are left out rather than drawn as if measured
                traces.append({"type": "scatter", "mode": "lines+markers", "name": f"{r['store']} {op}",
                               "x": labels, "y": [lat.get(f"p{p:g}_us") if enough_samples(lat["count"], p)
                                                  else None for p in PERCENTILES]})
        cid = f"lat_{len(charts)}"
        charts.append((cid, traces, {"title": _title(f"{w}: latency percentiles (µs, log scale)"),
                                     "xaxis": {"title": _title("percentile")},
                                     "yaxis": {"type": "log", "dtick": 1, "title": _title("µs")}, "height": 420}))
        parts.append(f"<div id='{cid}' class='chart'></div>")
        series = []
        for r in runs:
            ops_series = r.get("timeseries", {}).get("ops", [])
            complete = int(r.get("duration_s") or 0)
            if complete >= 2:  # the last second is partial: leave it out rather than draw a drop
                ops_series = ops_series[:complete]
            series.append({"type": "scatter", "mode": "lines+markers", "name": r["store"], "y": ops_series})
        cid = f"ts_{len(charts)}"
        charts.append((cid, series, {"title": _title(f"{w}: throughput per second (complete seconds)"),
                                     "xaxis": {"title": _title("second of the run phase")},
                                     "yaxis": {"title": _title("ops/s"), "rangemode": "tozero"}, "height": 320}))
        parts.append(f"<div id='{cid}' class='chart'></div>")
        parts.append("<table><tr><th>store</th><th>operation</th><th>how</th><th>status counts</th><th>ops/s</th>"
                     + "".join(f"<th>p{p:g} µs</th>" for p in PERCENTILES) + "<th>max µs</th></tr>")
        for r in runs:
            for op, stats in r.get("operations", {}).items():
                lat = stats.get("latency", {})
                counts = ", ".join(f"{E(k)} {v:,}" for k, v in stats.get("status_counts", {}).items())
                how = str(r.get("capabilities", {}).get(op, ""))
                parts.append(f"<tr><td>{E(r['store'])}</td><td>{E(op)}</td><td class='cap-{E(how)}'>{E(how)}</td>"
                             f"<td>{counts}</td>"
                             f"<td class='n'>{_fmt(lat.get('ops_per_sec'))}</td>"
                             + "".join(_pct_cell(lat, p) for p in PERCENTILES)
                             + f"<td class='n'>{_fmt(lat.get('max_us'), 1)}</td></tr>")
        parts.append("</table>")

    # capability matrix
    ops = Capabilities.OPERATIONS
    parts.append("<h2>Capabilities</h2><p>native: the store does it itself · emulated: the adapter builds it "
                 "from other calls (e.g. a scan from a listing plus reads) · unsupported: not run</p>"
                 "<table><tr><th>store</th>" + "".join(f"<th>{E(o)}</th>" for o in ops) + "</tr>")
    for s in stores:
        caps: dict[str, Any] = next((r.get("capabilities", {}) for r in results if r["store"] == s), {})
        parts.append(f"<tr><th>{E(s)}</th>" + "".join(
            f"<td class='cap-{E(str(caps.get(o, '')))}'>{E(str(caps.get(o, '?')))}</td>" for o in ops) + "</tr>")
    parts.append("</table>")

    # problems
    problems = [r for r in results if r.get("status") != "ok" or r.get("errors")]
    if problems:
        parts.append("<h2>Problems</h2><ul>")
        for r in problems:
            msgs = "; ".join(f"{m} (x{n})" for m, n in list(r.get("errors", {}).items())[:5])
            parts.append(f"<li><b>{E(r['store'])} / {E(r['workload'])} / {E(r['phase'])}</b>: "
                         f"{E(str(r.get('status')))} {E(r.get('reason', ''))} {E(msgs)}</li>")
        parts.append("</ul>")

    # provenance
    parts.append("<h2>Provenance</h2><table><tr><th>store</th><th>server that answered</th><th>client</th>"
                 "<th>options (secrets redacted)</th></tr>")
    for s in stores:
        r = next(r for r in results if r["store"] == s)
        parts.append(f"<tr><td>{E(s)}</td><td>{E(r['server'].get('label', ''))}</td>"
                     f"<td>{E(', '.join(f'{k} {v}' for k, v in r.get('client', {}).items()) or '-')}</td>"
                     f"<td><code>{E(json.dumps(r['config'].get('store_options', {})))}</code></td></tr>")
    parts.append("</table><h3>Run configuration</h3>")
    cfg = {k: v for k, v in first.get("config", {}).items() if k not in ("store_options", "workload")}
    parts.append(f"<pre>{E(json.dumps({'config': cfg, 'machine': machine, 'harness': harness}, indent=1))}</pre>")
    parts.append("<h3>Workloads</h3>")
    seen = set()
    for r in results:
        if r["workload"] not in seen:
            seen.add(r["workload"])
            parts.append(f"<details><summary>{E(r['workload'])}</summary><pre>"
                         f"{E(json.dumps(r['config'].get('workload', {}), indent=1))}</pre></details>")

    options = {"responsive": True, "showSendToCloud": False, "showLink": False, "displaylogo": False}
    script = "\n".join(f"Plotly.newPlot({_js(cid)}, {_js(traces)}, {_js(layout)}, {_js(options)});"
                       for cid, traces, layout in charts)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{E(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }}
td.n {{ text-align: right; font-variant-numeric: tabular-nums; }} td.thin {{ color: #999; }}
th {{ background: #f4f4f4; text-align: left; }}
.meta {{ color: #555; }} .bad {{ color: #b00; }}
td.failed, td.aborted {{ background: #fdd; text-align: left; }}
td.skipped, td.na {{ background: #eee; text-align: left; }}
.cap-native {{ background: #dfd; }} .cap-emulated {{ background: #ffd; }} .cap-unsupported {{ background: #fdd; }}
.chart {{ max-width: 1100px; }}
</style>
<script>{get_plotlyjs()}</script></head>
<body>
{"".join(parts)}
<script>{script}</script>
</body></html>
"""


def write_report(run_dir: Path, output: Path | None = None) -> Path:
    results = load_results(run_dir)
    output = output or run_dir / "report.html"
    atomic_write_text(output, build_html(results, f"storagebench report — {run_dir.name}"))
    return output


def stores_and_workloads(results: list[dict[str, Any]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for r in results:
        out[r["store"]].add(r["workload"])
    return out
