"""The published site's history pages: one chart per (workload, metric), a line per store, drawn here as
inline SVG (no chart library: the page paints at once and weighs little, on a phone too).

Every chart has the nights' dates and commits on its x axis, the metric's unit on every y tick (the same
:func:`cells.format_figure` as ``compare``), a point per night that links to that night's report, and,
from the second night on, the band around the night before within which a change does not count (the
floor of :func:`compare.decide`: the minimum effect, or the machine's own change when larger).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from storagebench.report.cells import METRICS, format_figure, significant, store_colours
from storagebench.report.compare import ORDER, PROBE_FIGURES, interval_text, machine_change, percent
from storagebench.report.html import METRIC_LABELS, environment

#: the SVG's own coordinate system (it scales to the width of its box)
WIDTH, HEIGHT = 480, 260
LEFT, RIGHT, TOP, BOTTOM = 78, 62, 12, 44
#: at most this many labelled nights on an x axis
X_LABELS = 5
#: the store name of the harness's own series
HARNESS = "harness"


@dataclass
class Point:
    x: float
    y: float
    y_low: float
    y_high: float
    href: str | None
    title: str
    verdict: str | None


@dataclass
class Line:
    store: str
    colour: str
    path: str
    points: list[Point] = field(default_factory=list)
    bands: list[tuple[float, float, float, float]] = field(default_factory=list)  # x, y, width, height
    failed: list[tuple[float, str]] = field(default_factory=list)  # x, what failed
    label_y: float = 0.0


@dataclass
class Chart:
    workload: str
    metric: str
    title: str
    lines: list[Line]
    y_ticks: list[tuple[float, str]]
    x_ticks: list[dict[str, Any]]
    log: bool


def _nice_step(span: float) -> float:
    raw = span / 5
    power = 10 ** math.floor(math.log10(raw))
    return next(f * power for f in (1, 2, 5, 10) if f * power >= raw)


class _Scale:
    """Figures -> SVG y; logarithmic when the chart spans more than 20x (stores far apart)."""

    def __init__(self, values: Sequence[float]) -> None:
        lo, hi = min(values), max(values)
        self.log = lo > 0 and hi / lo > 20
        if self.log:
            self.lo, self.hi = math.log10(lo) - 0.05, math.log10(hi) + 0.05
        else:
            pad = (hi - lo) * 0.08 or abs(hi) * 0.1 or 1.0
            self.lo, self.hi = max(0.0, lo - pad) if lo >= 0 else lo - pad, hi + pad

    def y(self, value: float) -> float:
        v = math.log10(value) if self.log else value
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - (v - self.lo) / (self.hi - self.lo))

    def ticks(self) -> list[float]:
        if self.log:
            decades = range(math.ceil(self.lo), math.floor(self.hi) + 1)
            steps = (1, 2, 5) if self.hi - self.lo < 2.5 else (1,)
            ticks = [f * 10.0**d for d in range(math.floor(self.lo), math.ceil(self.hi) + 1) for f in steps]
            inside = [t for t in ticks if self.lo <= math.log10(t) <= self.hi]
            return inside or [10.0**d for d in decades]
        step = _nice_step(self.hi - self.lo)
        first = math.ceil(self.lo / step) * step
        return [first + i * step for i in range(int((self.hi - first) / step) + 1)]


def _x(index: int, count: int) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * (index + 0.5) / count


def _short(commit: Any) -> str:
    return str(commit)[:7] if commit else "commit?"


def _when(started: str) -> str:
    return started[:16].replace("T", " ") if started else "date?"


def _tooltip(row: pd.Series, metric: str) -> str:
    fig = lambda v: format_figure(metric, v, row["unit"])  # noqa: E731
    lines = [f"{row['store']} · night {row['night']} · {_when(str(row['night_started']))} UTC · "
             f"commit {_short(row['commit'])}",
             f"{fig(row['median'])}, interval {fig(row['low'])} to {fig(row['high'])} "
             f"({row['interval_coverage']:.0%} coverage, {len(row['values'])} of {row['samples']} repeats)"]
    if row["verdict"] is not None:
        lines.append(f"vs night {row['previous']}: {row['verdict']} {percent(row['change'])}".rstrip()
                     + (f" ({row['why']})" if row["why"] else ""))
    return "\n".join(lines)


def _chart(workload: str, metric: str, rows: pd.DataFrame, nights: list[str], colours: dict[str, str],
           reports: set[str], commit_url: str | None) -> Chart:
    ok = rows[(rows["status"] == "ok") & rows["median"].notna()]
    position = {n: i for i, n in enumerate(nights)}
    values = [v for col in ("median", "low", "high") for v in ok[col] if v is not None and not math.isnan(v)]
    scale = _Scale(values or [1.0])
    lines = []
    for store, series in rows.groupby("store", sort=True):
        line = Line(str(store), colours[str(store)], "")
        previous: dict[str, float] = {}
        for _, row in series.sort_values("night", key=lambda s: s.map(position)).iterrows():
            x = _x(position[row["night"]], len(nights))
            if row["status"] != "ok" or row["median"] is None or math.isnan(row["median"]):
                line.failed.append((x, f"{store} · night {row['night']}: {row['status']} {row['reason']}".strip()))
                continue
            before = previous.get(str(row["previous"]))
            if before is not None and row["floor"] is not None and before > 0:
                top, bottom = scale.y(min(before * (1 + row["floor"]), _top(scale))), \
                    scale.y(max(before / (1 + row["floor"]), _bottom(scale)))
                x0 = _x(position[str(row["previous"])], len(nights))
                line.bands.append((x0, top, x - x0, bottom - top))
            previous[str(row["night"])] = float(row["median"])
            href = night_report(str(row["night"])) if row["night"] in reports else None
            line.points.append(Point(x, scale.y(row["median"]), scale.y(row["low"]), scale.y(row["high"]), href,
                                     _tooltip(row, metric), row["verdict"]))
        line.path = " ".join(f"{'M' if i == 0 else 'L'}{p.x:.1f},{p.y:.1f}" for i, p in enumerate(line.points))
        line.label_y = line.points[-1].y if line.points else HEIGHT - BOTTOM
        lines.append(line)
    info = rows.drop_duplicates("night").set_index("night")
    every = max(1, math.ceil(len(nights) / X_LABELS))
    x_ticks = [{"x": _x(i, len(nights)), "date": _when(str(info.loc[n, "night_started"]))[5:],
                "commit": _short(info.loc[n, "commit"]),
                "href": commit_url.format(commit=info.loc[n, "commit"]) if commit_url and info.loc[n, "commit"]
                else None, "night": n}
               for i, n in enumerate(nights) if n in info.index and (len(nights) - 1 - i) % every == 0]
    unit = rows["unit"].iloc[0]
    higher = METRICS[metric][1] if metric in METRICS else False
    title = (f"{workload} — {METRIC_LABELS.get(metric, metric)} ({unit}, "
             f"{'higher' if higher else 'lower'} is better{', log scale' if scale.log else ''})")
    return Chart(workload, metric, title, lines,
                 [(scale.y(t), format_figure(metric, t, unit)) for t in scale.ticks()], x_ticks, scale.log)


def _top(scale: _Scale) -> float:
    return 10**scale.hi if scale.log else scale.hi


def _bottom(scale: _Scale) -> float:
    return 10**scale.lo if scale.log else scale.lo


def _nights_table(rows: pd.DataFrame, nights: list[str], reports: set[str],
                  commit_url: str | None) -> list[dict[str, Any]]:
    info = rows.drop_duplicates("night").set_index("night")
    out, before = [], None
    for night in nights:
        row = info.loc[night]
        probe = json.loads(row["probe"] or "{}")
        change = machine_change(json.loads(info.loc[before, "probe"] or "{}"), probe).describe() if before else ""
        out.append({"night": night, "started": _when(str(row["night_started"])), "commit": _short(row["commit"]),
                    "commit_href": commit_url.format(commit=row["commit"]) if commit_url and row["commit"] else None,
                    "report": night_report(night) if night in reports else None,
                    "probe": [f"{PROBE_FIGURES[k][0]} {significant(v)} {PROBE_FIGURES[k][1]}".strip()
                              for k, v in probe.items() if k in PROBE_FIGURES],
                    "machine_change": change})
        before = night
    return out


def history_page(rows: pd.DataFrame, title: str, reports: set[str], commit_url: str | None, judged: bool) -> str:
    """One history page (a machine fingerprint's stores, or the harness's benchmarks)."""
    nights = night_order(rows) if judged else list(
        rows.drop_duplicates("night").sort_values(["night_started", "night"], kind="stable")["night"])
    colours = store_colours(rows["store"].unique())
    charts = [_chart(str(w), str(m), group, nights, colours, reports, commit_url)
              for (w, m), group in rows.groupby(["workload", "metric"], sort=True)]
    events = rows[rows["verdict"].isin(["regression", "improvement"])] if judged else rows.iloc[0:0]
    counts = []
    if judged:
        for night in nights[1:]:
            verdicts = rows[rows["night"] == night]["verdict"].value_counts()
            counts.append({"night": night, "previous": rows[rows["night"] == night]["previous"].iloc[0],
                           "counts": ", ".join(f"{verdicts[v]} {v}" for v in ORDER if v in verdicts)})
    return environment().get_template("history.html.j2").render(
        title=title, charts=charts, width=WIDTH, height=HEIGHT, left=LEFT, right=RIGHT, top=TOP, bottom=BOTTOM,
        colours=colours, judged=judged, nights=_nights_table(rows, nights, reports, commit_url) if judged else [],
        events=[{**{k: r[k] for k in ("night", "previous", "store", "workload", "metric", "verdict", "why")},
                 "change": percent(r["change"]),
                 "interval": interval_text(r["change_low"], r["change_high"], r["coverage"]),
                 "report": night_report(str(r["night"])) if r["night"] in reports else None,
                 "p": f"{r['p_value']:.3g} ({r['p_adjusted']:.3g})" if r["p_value"] is not None else "",
                 "floor": f"{r['floor']:.0%}" if r["floor"] is not None else ""}
                for _, r in events.iterrows()],
        counts=counts, css=static("history.css"), script=static("history.js"))


def static(name: str) -> str:
    """A file of ``templates/`` as text (the site's stylesheet and script, inlined in each page)."""
    return (Path(__file__).parent / "templates" / name).read_text()


def night_order(history: pd.DataFrame) -> list[str]:
    """The nights of the stores' history, oldest first (by start, then name)."""
    nights = history[history["store"] != HARNESS][["night", "night_started"]].drop_duplicates("night")
    return list(nights.sort_values(["night_started", "night"], kind="stable")["night"])


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:80] or "night"


def night_report(night: str) -> str:
    """Where a night's own report lives on the site (relative to the site's root)."""
    return f"nights/{_slug(night)}/report.html"


