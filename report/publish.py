"""``storagebench publish NIGHT… -o site/``: a static site of many nights.

* **History**, one row per (night, store, workload, metric): the figures of every repeat, their median
  and interval with its computed coverage, status, machine fingerprints, engine versions, the commit,
  the night's noise probe, and the night's **verdict against the night before**.  Kept in
  ``history.parquet`` (the site's own copy is the input of the next night).
* **Verdicts** (:func:`judge`): each night against the previous one by :func:`compare.decide`, the rule
  ``storagebench compare PREVIOUS NIGHT`` applies: the same rank test, Holm over the night's series, the
  minimum effect raised to the machine's own change between the two nights' noise probes.  The two
  commands give the same verdict on the same pair of nights.  Regressions go to ``regressions.json``
  and ``feed.xml``, each with what the next night said.
* **Pages**: the index, one history page per machine fingerprint (inline SVG, no chart library: dates
  and commits on the x axis, units on y, a point links to that night's report, bands where a change
  would not count), and each night's own report under ``nights/<night>/report.html``, all sharing one
  ``plotly.min.js``.
* **Harness health**: pytest-benchmark JSON of the harness's hot paths, drawn night by night but not
  judged (one process per night is one sample; its rounds are not independent repeats).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import pandas as pd
from storagebench.report.cells import METRICS, find_results, machine_fingerprint, samples_frame
from storagebench.report.compare import Change, Side, decide, machine_change, machine_probe, series_of
from storagebench.report.history import HARNESS, history_page, night_order, night_report, static
from storagebench.report.html import build_html, environment

from storagebench.analysis.stats import median_interval
from storagebench.errors import UsageError
from storagebench.results.files import atomic_write_text

#: a night folder's pytest-benchmark JSON of the harness's hot paths (found by ``publish`` on its own)
HARNESS_FILE = "harness.json"
#: the verdict columns :func:`judge` fills (a night against the night before)
VERDICT_COLUMNS = ["previous", "verdict", "why", "change", "change_low", "change_high", "coverage", "p_value",
                   "p_adjusted", "floor"]
HISTORY_COLUMNS = ["night", "night_started", "store", "workload", "metric", "unit", "values", "samples",
                   "median", "low", "high", "interval_coverage", "status", "reason", "fingerprints", "engines",
                   "commit", "probe", "higher_is_better", *VERDICT_COLUMNS]


def _interval(values: Sequence[float]) -> tuple[float, float, float, float]:
    if not values:
        return math.nan, math.nan, math.nan, math.nan
    iv = median_interval(values)
    return iv.median, iv.lo, iv.hi, iv.coverage


def night_rows(night: Path) -> pd.DataFrame:
    """One night folder -> history rows, one per series (the figures of every repeat kept)."""
    results = find_results([night])
    if not results:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    started = min(str(r.get("started_at", "")) for r in results)
    commit = next((c for r in results if (c := (r.get("harness") or {}).get("commit"))), None)
    probe = json.dumps(machine_probe(results), sort_keys=True)
    rows = []
    for (store, workload, metric), side in series_of(samples_frame(results)).items():
        median, low, high, coverage = _interval(side.values)
        rows.append({"night": night.name, "night_started": started, "store": store, "workload": workload,
                     "metric": metric, "unit": side.unit, "values": list(side.values), "samples": side.samples,
                     "median": median, "low": low, "high": high, "interval_coverage": coverage,
                     "status": side.status, "reason": side.reason, "fingerprints": list(side.fingerprints),
                     "engines": list(side.engines), "commit": commit, "probe": probe,
                     "higher_is_better": METRICS[metric][1]})
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def harness_rows(path: Path) -> pd.DataFrame:
    """pytest-benchmark JSON -> history rows (store "harness", workload = benchmark name, seconds per call)."""
    data = json.loads(path.read_text())
    info = data.get("machine_info", {})
    fingerprint = machine_fingerprint({"cpu": (info.get("cpu") or {}).get("brand_raw"),
                                       "cpu_count": (info.get("cpu") or {}).get("count"),
                                       "memory_gib": None, "platform": info.get("system", "")})
    night = path.parent.name if path.name == HARNESS_FILE else path.stem
    rows = [{"night": night, "night_started": str(data.get("datetime", "")), "store": HARNESS,
             "workload": b["name"], "metric": "time per call", "unit": "s", "values": [b["stats"]["median"]],
             "samples": 1, "median": b["stats"]["median"], "low": b["stats"].get("q1", b["stats"]["min"]),
             "high": b["stats"].get("q3", b["stats"]["max"]), "interval_coverage": 0.5, "status": "ok",
             "reason": "", "fingerprints": [fingerprint], "engines": [], "probe": "{}",
             "commit": (data.get("commit_info") or {}).get("id"), "higher_is_better": False}
            for b in data.get("benchmarks", [])]
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def _side(row: pd.Series) -> Side:
    return Side(values=tuple(float(v) for v in row["values"]), samples=int(row["samples"]),
                status=str(row["status"]), reason=str(row["reason"] or ""),
                fingerprints=tuple(row["fingerprints"]), engines=tuple(row["engines"]), unit=str(row["unit"]))


def judge(history: pd.DataFrame, min_effect: float, alpha: float) -> pd.DataFrame:
    """Each night of the stores' history against the night before, by :func:`compare.decide` (the rule of
    ``storagebench compare``); fills :data:`VERDICT_COLUMNS` (the first night's rows stay empty)."""
    history = history.copy()
    for column in VERDICT_COLUMNS:
        history[column] = None
    stores = history[history["store"] != HARNESS]
    for before, after in pairwise(night_order(history)):
        a, b = stores[stores["night"] == before], stores[stores["night"] == after]
        sides_a = {(r["store"], r["workload"], r["metric"]): _side(r) for _, r in a.iterrows()}
        sides_b = {(r["store"], r["workload"], r["metric"]): _side(r) for _, r in b.iterrows()}
        machine = machine_change(json.loads(a["probe"].iloc[0] or "{}"), json.loads(b["probe"].iloc[0] or "{}"))
        changes = decide({k: (sides_a.get(k), sides_b.get(k)) for k in dict.fromkeys([*sides_a, *sides_b])},
                         machine, min_effect, alpha)
        by_key = {(c.store, c.workload, c.metric): c for c in changes}
        for index, row in b.iterrows():
            change: Change = by_key[(row["store"], row["workload"], row["metric"])]
            history.loc[index, "previous"] = before
            for column in VERDICT_COLUMNS[1:]:
                history.at[index, column] = getattr(change, column)
    return history


def _merge(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """New nights replace the same nights in the history; the order is by night start."""
    if old.empty:
        merged = new
    else:
        for column in HISTORY_COLUMNS:  # a history written before a column existed
            if column not in old:
                old[column] = [[] for _ in range(len(old))] if column in ("values", "fingerprints", "engines") \
                    else None
        merged = pd.concat([old[~old["night"].isin(set(new["night"]))][HISTORY_COLUMNS], new], ignore_index=True)
    return merged.sort_values(["night_started", "night"], kind="stable").reset_index(drop=True)


def _page(fingerprint: str) -> str:
    return f"history-{re.sub(r'[^a-z0-9]+', '-', fingerprint.lower()).strip('-')[:60]}.html"


def regressions_of(history: pd.DataFrame) -> list[dict[str, Any]]:
    """Every regression verdict of the history, with what the next night said about the same series."""
    order = night_order(history)
    verdict = {(r["night"], r["store"], r["workload"], r["metric"]): r["verdict"]
               for _, r in history.iterrows()}
    out = []
    for _, r in history[history["verdict"] == "regression"].iterrows():
        position = order.index(r["night"])
        following = order[position + 1] if position + 1 < len(order) else None
        nxt = verdict.get((following, r["store"], r["workload"], r["metric"]), "not measured") if following \
            else "no later night yet"
        fingerprint = " + ".join(r["fingerprints"])
        out.append({k: _plain(r[k]) for k in ("night", "night_started", "previous", "store", "workload", "metric",
                                               "unit", "change", "change_low", "change_high", "coverage",
                                               "p_value", "p_adjusted", "floor", "why", "commit")}
                   | {"fingerprint": fingerprint, "page": _page(fingerprint), "next_night": following,
                      "next_verdict": nxt, "report": night_report(str(r["night"]))})
    return out


def _plain(value: Any) -> Any:
    """numpy scalars and NaN -> JSON-friendly Python values."""
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


def _share_plotly(page: str, plotly_js: str, src: str) -> str:
    """A night's report referring to the site's one ``plotly.min.js`` instead of its inlined copy."""
    return page.replace(f"<script>{plotly_js}</script>", f'<script src="{src}"></script>', 1)


def publish(nights: Sequence[Path], output: Path, history: Path | None = None, harness: Sequence[Path] = (),
            min_effect: float = 0.05, alpha: float = 0.05, commit_url: str | None = None) -> Path:
    """Write the site; refuses (:class:`UsageError`, nothing written) when no night holds a result."""
    from plotly.offline import get_plotlyjs

    with_results = [n for n in nights if find_results([n])]
    if not with_results:
        raise UsageError(f"no result files in {', '.join(map(str, nights))}: nothing to publish")
    history_path = history or output / "history.parquet"
    old = pd.read_parquet(history_path) if history_path.exists() else pd.DataFrame(columns=HISTORY_COLUMNS)
    harness = [*harness, *(n / HARNESS_FILE for n in nights if (n / HARNESS_FILE).is_file())]
    new = pd.concat([night_rows(n) for n in with_results] + [harness_rows(h) for h in harness], ignore_index=True)
    merged = judge(_merge(old, new), min_effect, alpha)
    output.mkdir(parents=True, exist_ok=True)
    merged.to_parquet(output / "history.parquet", index=False)

    plotly_js = get_plotlyjs()
    atomic_write_text(output / "plotly.min.js", plotly_js)
    for night in with_results:
        page = build_html(find_results([night]), f"storagebench report — {night.name}")
        atomic_write_text(output / night_report(night.name), _share_plotly(page, plotly_js, "../../plotly.min.js"))
    reports = {n for n in set(merged["night"]) if (output / night_report(str(n))).is_file()}
    datasets = datasets_of([r for night in with_results for r in find_results([night])])

    regressions = regressions_of(merged)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    atomic_write_text(output / "regressions.json", json.dumps(
        {"kind": "storagebench.regressions", "generated": now, "min_effect": min_effect, "alpha": alpha,
         "rule": "storagebench compare, night against the night before", "regressions": regressions},
        indent=1, default=str) + "\n")
    env = environment()
    atomic_write_text(output / "feed.xml", env.get_template("feed.xml.j2").render(
        regressions=regressions, updated=now))

    stores = merged[merged["store"] != HARNESS]
    groups = stores.assign(fingerprint=[" + ".join(f) for f in stores["fingerprints"]])
    pages = []
    for fingerprint, rows in groups.groupby("fingerprint", sort=True):
        page = _page(str(fingerprint))
        atomic_write_text(output / page, history_page(rows, f"History on {fingerprint}", reports=reports,
                                                      commit_url=commit_url, judged=True))
        pages.append({"fingerprint": fingerprint, "page": page, "series": len(rows.groupby(
            ["store", "workload", "metric"])), "nights": rows["night"].nunique()})
    harness_history = merged[merged["store"] == HARNESS]
    if not harness_history.empty:
        atomic_write_text(output / "harness.html", history_page(
            harness_history, "Harness health (pytest-benchmark, seconds per call)", reports=reports,
            commit_url=commit_url, judged=False))
    order = night_order(merged)
    latest = order[-1] if order and order[-1] in reports else None
    atomic_write_text(output / "index.html", env.get_template("index.html.j2").render(
        title="storagebench nightly", pages=pages, regressions=regressions, generated=now,
        has_harness=not harness_history.empty, latest=latest and night_report(latest), nights=order,
        min_effect=min_effect, alpha=alpha, css=static("history.css"), datasets=datasets))
    return output / "index.html"


def datasets_of(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The named data sets the nights ran on (``run --dataset``), per store: records loaded and the
    generations these nights saw, one entry per load (a data set dropped and loaded again is another), so
    the site says what size of data its figures are of."""
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in results:
        ds = r.get("dataset")
        if not isinstance(ds, dict) or not ds.get("generation"):
            continue
        load = str(ds.get("load_run_id") or "")
        entry = seen.setdefault((str(r.get("store")), str(ds.get("name")), load), {
            "store": r.get("store"), "name": ds.get("name"), "records": int(ds.get("records_loaded") or 0),
            "load": load, "generations": set()})
        entry["generations"].add(int(ds["generation"]))
    return [{**e, "first": min(e["generations"]), "last": max(e["generations"])}
            for _, e in sorted(seen.items())]

