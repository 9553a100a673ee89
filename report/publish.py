"""``storagebench publish NIGHT… -o site/``: a static site of many nights.

* **History**, one row per (night, machine fingerprint, store, workload, metric): median, 95 % interval,
  samples, status.  Kept in ``history.parquet`` (the site's own copy is the input of the next night), so
  nothing grows as one script file; each history page embeds at most :data:`MAX_POINTS` nights per
  series (older nights thinned evenly), one page per machine fingerprint.
* **Change points** (:func:`detect`): a lookback rule in the spirit of Conbench's z-score and asv's
  step detection.  The baseline is the nights since the last change point (at most :data:`LOOKBACK`);
  a night *deviates* when its median differs from the baseline median by more than the noise band —
  the larger of the minimum effect and 3 robust standard deviations (MAD) of the baseline — and its own
  interval does not contain the baseline median.  Two deviating nights in a row in the same direction
  are a change point at the first of them; a deviating night followed by a normal one is an outlier
  (a spike that reverted) and stays out of the baseline; a deviating last night is *pending* (one night
  is not yet a change).  Moves smaller than the metric's noise floor (the verdict's shift) never count.
  Harmful change points are regressions: ``regressions.json`` and ``feed.xml``.
* **Harness health**: pytest-benchmark JSON of the harness's hot paths, tracked the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from storagebench.report.cells import METRICS, cells_frame, effect, find_results, samples_frame
from storagebench.report.html import build_html, environment
from storagebench.report.scoring import SHIFTS

from storagebench.results.files import atomic_write_text

LOOKBACK = 10
MAX_POINTS = 120
#: a night folder's pytest-benchmark JSON of the harness's hot paths (found by ``publish`` on its own)
HARNESS_FILE = "harness.json"
HISTORY_COLUMNS = ["night", "night_started", "fingerprint", "store", "workload", "metric", "median", "low",
                   "high", "samples", "status", "reason", "engine", "commit", "higher_is_better"]


@dataclass
class Event:
    kind: str  # change | outlier | pending
    night: str
    night_started: str
    before: float
    after: float
    change: float
    harmful: bool


def _median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def detect(points: Sequence[dict[str, Any]], higher_is_better: bool, min_effect: float,
           floor: float = 0.0) -> list[Event]:
    """Change points, outliers and a pending last night over one series (points in night order)."""
    events: list[Event] = []
    baseline: list[float] = []

    def deviation(i: int, ref: float) -> int:
        if not baseline or ref <= 0:
            return 0
        p = points[i]
        mad = _median([abs(x - ref) for x in baseline]) * 1.4826
        band = max(min_effect, 3 * mad / ref)
        rel = p["median"] / ref - 1
        if effect(ref, p["median"]) <= band or p["low"] <= ref <= p["high"] or abs(p["median"] - ref) < floor:
            return 0
        return 1 if rel > 0 else -1

    i = 0
    while i < len(points):
        p = points[i]
        ref = _median(baseline[-LOOKBACK:]) if baseline else math.nan
        sign = deviation(i, ref)
        if not sign:
            baseline.append(p["median"])
            i += 1
            continue
        harmful = (sign < 0) if higher_is_better else (sign > 0)
        ev = Event("pending", p["night"], p["night_started"], ref, p["median"], p["median"] / ref - 1, harmful)
        if i + 1 < len(points):
            if deviation(i + 1, ref) == sign:
                ev.kind = "change"
                baseline = [p["median"]]
            else:
                ev.kind = "outlier"
        events.append(ev)
        i += 1
    return events


def night_rows(night: Path) -> pd.DataFrame:
    """One night folder -> history rows (medians and intervals per cell and metric)."""
    results = find_results([night])
    if not results:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    samples = samples_frame(results)
    cells = cells_frame(samples)
    started = min(str(r.get("started_at", "")) for r in results)
    commit = next((s for s in samples["commit"] if s), None)
    rows = []
    for _, c in cells.iterrows():
        for metric, (phase, higher, _unit) in METRICS.items():
            if c["phase"] != phase or (metric == "footprint" and math.isnan(c["footprint"])):
                continue
            rows.append({"night": night.name, "night_started": started, "fingerprint": c["fingerprint"],
                         "store": c["store"], "workload": c["workload"], "metric": metric,
                         "median": c[metric], "low": c[f"{metric}_low"], "high": c[f"{metric}_high"],
                         "samples": int(c["samples"]), "status": c["status"], "reason": c["reason"],
                         "engine": c["engine"], "commit": commit, "higher_is_better": higher})
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def harness_rows(path: Path) -> pd.DataFrame:
    """pytest-benchmark JSON -> history rows (store = "harness", workload = benchmark name, seconds)."""
    data = json.loads(path.read_text())
    from storagebench.report.cells import machine_fingerprint

    info = data.get("machine_info", {})
    fingerprint = machine_fingerprint({"cpu": (info.get("cpu") or {}).get("brand_raw"),
                                       "cpu_count": (info.get("cpu") or {}).get("count"),
                                       "memory_gib": None, "platform": info.get("system", "")})
    night = path.parent.name if path.name == HARNESS_FILE else path.stem
    started = str(data.get("datetime", ""))
    rows = [{"night": night, "night_started": started, "fingerprint": fingerprint, "store": "harness",
             "workload": b["name"], "metric": "time per call", "median": b["stats"]["median"],
             "low": b["stats"].get("q1", b["stats"]["min"]), "high": b["stats"].get("q3", b["stats"]["max"]),
             "samples": int(b["stats"].get("rounds", 1)), "status": "ok", "reason": "", "engine": "",
             "commit": (data.get("commit_info") or {}).get("id"), "higher_is_better": False}
            for b in data.get("benchmarks", [])]
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def _merge(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """New nights replace the same nights in the history; the order is by night start."""
    if old.empty:
        return new.sort_values(["night_started", "night"], kind="stable")
    keep = old[~old["night"].isin(set(new["night"]))]
    return pd.concat([keep, new], ignore_index=True).sort_values(["night_started", "night"], kind="stable")


def _thin(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(points) <= MAX_POINTS:
        return points
    step = len(points) / MAX_POINTS
    return [points[min(len(points) - 1, int(i * step))] for i in range(MAX_POINTS - 1)] + [points[-1]]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def series(history: pd.DataFrame, min_effect: float) -> list[dict[str, Any]]:
    """Per (fingerprint, store, workload, metric): points (ok nights), failed nights, events."""
    out = []
    for (fp, store, workload, metric), group in history.groupby(
            ["fingerprint", "store", "workload", "metric"], sort=False):
        ok = group[group["status"] == "ok"].dropna(subset=["median"])
        points = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
                  for row in ok[["night", "night_started", "median", "low", "high", "samples"]].to_dict("records")]
        failed = group[group["status"] != "ok"][["night", "night_started", "status", "reason"]].to_dict("records")
        higher = bool(group["higher_is_better"].iloc[0])
        # the noise floor in the metric's own unit (throughput: the µs/op shift at the baseline's rate)
        floor = SHIFTS.get(metric, 0.0)
        if metric == "throughput" and points:
            rate = float(points[0]["median"] or 0.0)
            floor = rate - 1e6 / (1e6 / rate + floor) if rate > 0 else 0.0
        events = detect(points, higher, min_effect, floor)
        out.append({"fingerprint": fp, "store": store, "workload": workload, "metric": metric,
                    "higher_is_better": higher, "points": _thin(points), "failed": failed,
                    "events": [asdict(e) for e in events]})
    return out


def _atom(regressions: list[dict[str, Any]], updated: str) -> str:
    return environment().get_template("feed.xml.j2").render(regressions=regressions, updated=updated)


def publish(nights: Sequence[Path], output: Path, history: Path | None = None, harness: Sequence[Path] = (),
            min_effect: float = 0.05) -> Path:
    from plotly.offline import get_plotlyjs

    history_path = history or output / "history.parquet"
    old = pd.read_parquet(history_path) if history_path.exists() else pd.DataFrame(columns=HISTORY_COLUMNS)
    harness = [*harness, *(n / HARNESS_FILE for n in nights if (n / HARNESS_FILE).is_file())]
    new = pd.concat([night_rows(n) for n in nights] + [harness_rows(h) for h in harness], ignore_index=True)
    merged = _merge(old, new)
    output.mkdir(parents=True, exist_ok=True)
    merged.to_parquet(output / "history.parquet", index=False)

    all_series = series(merged, min_effect)
    stores_series = [s for s in all_series if s["store"] != "harness"]
    harness_series = [s for s in all_series if s["store"] == "harness"]
    regressions = [{**ev, "fingerprint": s["fingerprint"], "store": s["store"], "workload": s["workload"],
                    "metric": s["metric"], "page": f"history-{_slug(s['fingerprint'])}.html"}
                   for s in all_series for ev in s["events"] if ev["harmful"] and ev["kind"] in ("change", "pending")]
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    atomic_write_text(output / "regressions.json", json.dumps(
        {"kind": "storagebench.regressions", "generated": now, "min_effect": min_effect,
         "regressions": regressions}, indent=1, default=str) + "\n")
    atomic_write_text(output / "feed.xml", _atom([r for r in regressions if r["kind"] == "change"], now))
    atomic_write_text(output / "plotly.min.js", get_plotlyjs())

    env = environment()
    groups = sorted({s["fingerprint"] for s in stores_series})
    pages = []
    for fp in groups:
        page = f"history-{_slug(fp)}.html"
        mine = [s for s in stores_series if s["fingerprint"] == fp]
        atomic_write_text(output / page, env.get_template("history.html.j2").render(
            title=f"History on {fp}", series=mine, css=_css(), script=_history_js(), is_harness=False))
        pages.append({"fingerprint": fp, "page": page, "series": len(mine),
                      "nights": len({p["night"] for s in mine for p in s["points"]})})
    if harness_series:
        atomic_write_text(output / "harness.html", env.get_template("history.html.j2").render(
            title="Harness health (pytest-benchmark, seconds per call)", series=harness_series, css=_css(),
            script=_history_js(), is_harness=True))
    latest = [n for n in nights if find_results([n])]
    if latest:
        last = max(latest, key=lambda n: min(str(r.get("started_at", "")) for r in find_results([n])))
        (output / "latest").mkdir(exist_ok=True)
        atomic_write_text(output / "latest" / "report.html",
                          build_html(find_results([last]), f"storagebench report — {last.name}"))
        if (last / "compare.md").exists():
            shutil.copy(last / "compare.md", output / "latest" / "compare.md")
    atomic_write_text(output / "index.html", env.get_template("index.html.j2").render(
        title="storagebench nightly", pages=pages, regressions=regressions, css=_css(),
        has_harness=bool(harness_series), has_latest=bool(latest), generated=now,
        nights=sorted(set(merged["night"]), key=list(merged["night"]).index)))
    return output / "index.html"


def _css() -> str:
    return (Path(__file__).parent / "templates" / "report.css").read_text()


def _history_js() -> str:
    return (Path(__file__).parent / "templates" / "history.js").read_text()
