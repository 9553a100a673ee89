"""``storagebench compare A B``: did anything change between two runs (or two sets of repeats)?

Per (store, workload, metric) the change of the median, with an interval, decided like ``asv compare``:
a rank test (Mann-Whitney U, one-sided in the harmful or helpful direction, exact for small samples,
normal approximation with tie correction beyond) *and* a minimum effect (default 5 %, as a factor either
way: 1.05x slower or faster, so 100 % is a latency doubled or a throughput halved).  Direction-aware:
more throughput is better, more latency, load time or footprint is worse.  Only cells measured on the
same machine fingerprint with the same engine version are compared; the rest are listed as not
comparable.  A cell that was fine in A and failed in B is a regression whatever the figures.  A change
smaller than the metric's noise floor (the verdict's shift: 10 ms of load time, 10 µs of p99, 1 µs per
operation) does not count however many percent it is.

With n repeats per side the smallest one-sided p-value is 1 / C(2n, n): 3 repeats can reach 0.05 only
when every B sample is beyond every A sample; 5 repeats reach 0.004.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from storagebench.report.cells import METRICS, effect, find_results, median_ci, samples_frame
from storagebench.report.scoring import SHIFTS, as_cost


@cache
def _u_counts(n: int, m: int) -> tuple[int, ...]:
    """Number of arrangements of n x's and m y's giving each U = #(x > y) (no ties)."""
    if n == 0 or m == 0:
        return (1,)
    # the largest element is an x (adds m to U) or a y
    with_x, with_y = _u_counts(n - 1, m), _u_counts(n, m - 1)
    out = [0] * (n * m + 1)
    for u, c in enumerate(with_x):
        out[u + m] += c
    for u, c in enumerate(with_y):
        out[u] += c
    return tuple(out)


def mann_whitney_greater(x: Sequence[float], y: Sequence[float]) -> float:
    """One-sided p-value for "x tends to be greater than y" (exact without ties when small)."""
    n, m = len(x), len(y)
    if not n or not m:
        return 1.0
    u = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in x for b in y)
    ties = len(set(x) | set(y)) < n + m
    if n * m <= 400 and not ties:
        counts = _u_counts(n, m)
        return sum(counts[math.ceil(u):]) / sum(counts)
    # normal approximation, tie-corrected, with continuity correction
    values = sorted([*x, *y])
    tie_term = sum(t**3 - t for t in (values.count(v) for v in set(values)))
    var = n * m / 12 * ((n + m + 1) - tie_term / ((n + m) * (n + m - 1)))
    if var <= 0:
        return 1.0
    z = (u - n * m / 2 - 0.5) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2))


@dataclass
class Change:
    store: str
    workload: str
    metric: str
    verdict: str  # regression | improvement | inconclusive | unchanged | not comparable | only in A | only in B
    before: float | None = None
    after: float | None = None
    change: float | None = None  # relative change of the median, after / before - 1
    change_low: float | None = None
    change_high: float | None = None
    p_value: float | None = None
    samples: tuple[int, int] = (0, 0)
    why: str = ""


def _figures(values: pd.Series) -> list[float]:
    return [float(v) for v in values if not math.isnan(v)]


def compare_cell(store: str, workload: str, metric: str, a: pd.DataFrame, b: pd.DataFrame,
                 min_effect: float, alpha: float) -> Change:
    out = Change(store, workload, metric, "unchanged", samples=(len(a), len(b)))
    if a.empty or b.empty:
        out.verdict = "only in A" if b.empty else "only in B"
        return out
    for column, label in (("fingerprint", "machine"), ("engine", "engine version")):
        if set(a[column]) != set(b[column]) or len(set(a[column])) != 1:
            out.verdict, out.why = "not comparable", \
                f"{label} differs: {', '.join(sorted(set(a[column])))} vs {', '.join(sorted(set(b[column])))}"
            return out
    a_ok, b_ok = (a["status"] == "ok").all(), (b["status"] == "ok").all()
    if not b_ok:
        bad = b[b["status"] != "ok"].iloc[0]
        out.verdict = "regression" if a_ok else "unchanged"
        out.why = f"B {bad['status']}: {bad['reason']}" + ("" if a_ok else " (A failed too)")
        return out
    if not a_ok:
        out.verdict, out.why = "improvement", "A failed, B is fine"
        return out
    xa, xb = _figures(a[metric]), _figures(b[metric])
    if not xa or not xb:
        out.verdict, out.why = "not comparable", "not measured on both sides"
        return out
    (ma, la, ha), (mb, lb, hb) = median_ci(xa), median_ci(xb)
    out.before, out.after = ma, mb
    if ma <= 0:
        out.verdict, out.why = "not comparable", "zero baseline"
        return out
    out.change, out.change_low, out.change_high = mb / ma - 1, lb / ha - 1, hb / max(la, 1e-300) - 1
    higher_is_better = METRICS[metric][1]
    worse = mann_whitney_greater(xa, xb) if higher_is_better else mann_whitney_greater(xb, xa)
    better = mann_whitney_greater(xb, xa) if higher_is_better else mann_whitney_greater(xa, xb)
    harmful = out.change < 0 if higher_is_better else out.change > 0
    out.p_value = worse if harmful else better
    if effect(ma, mb) < min_effect:
        out.why = f"change below the minimum effect {min_effect:.0%}"
    elif abs(as_cost(metric, mb) - as_cost(metric, ma)) < SHIFTS[metric]:
        unit = "µs/op" if higher_is_better else METRICS[metric][2]
        out.why = f"change below the noise floor ({SHIFTS[metric]:g} {unit})"
    elif out.p_value > alpha:
        out.verdict, out.why = "inconclusive", f"rank test not significant (p = {out.p_value:.3f} > {alpha})"
    else:
        out.verdict = "regression" if harmful else "improvement"
    return out


def compare(a_dirs: Sequence[Path], b_dirs: Sequence[Path], min_effect: float = 0.05,
            alpha: float = 0.05) -> list[Change]:
    a, b = samples_frame(find_results(a_dirs)), samples_frame(find_results(b_dirs))
    keys = list(dict.fromkeys([*zip(a["store"], a["workload"], strict=True),
                               *zip(b["store"], b["workload"], strict=True)]))
    changes = []
    for store, workload in keys:
        for metric, (phase, _higher, _unit) in METRICS.items():
            pick = [df[(df["store"] == store) & (df["workload"] == workload) & (df["phase"] == phase)]
                    for df in (a, b)]
            if metric == "footprint" and all(p["footprint"].isna().all() for p in pick):
                continue  # not measured by this harness version
            changes.append(compare_cell(store, workload, metric, pick[0], pick[1], min_effect, alpha))
    return changes


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:+.1%}"


def _interval(c: Change) -> str:
    return "" if c.change_low is None else f"{_pct(c.change_low)} .. {_pct(c.change_high)}"


ORDER = {"regression": 0, "improvement": 1, "inconclusive": 2, "not comparable": 3, "only in A": 4, "only in B": 5,
         "unchanged": 6}


def rows(changes: Sequence[Change]) -> list[list[str]]:
    def fmt(v: float | None) -> str:
        return "" if v is None else f"{v:,.4g}"

    return [[c.verdict, c.store, c.workload, c.metric, fmt(c.before), fmt(c.after), _pct(c.change), _interval(c),
             "" if c.p_value is None else f"{c.p_value:.3f}", f"{c.samples[0]}/{c.samples[1]}", c.why]
            for c in sorted(changes, key=lambda c: (ORDER[c.verdict], c.store, c.workload, c.metric))]


HEADER = ["verdict", "store", "workload", "metric", "A (median)", "B (median)", "change", "interval", "p",
          "n A/B", "why"]


def to_markdown(changes: Sequence[Change], title: str) -> str:
    counts = {v: sum(1 for c in changes if c.verdict == v) for v in ORDER}

    def esc(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [f"### {esc(title)}", "",
             ", ".join(f"**{n}** {v}" for v, n in counts.items() if n) or "nothing to compare", ""]
    shown = [row for row in rows(changes) if row[0] != "unchanged"]
    if shown:
        lines += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(esc(x) for x in row) + " |" for row in shown]
    if counts["unchanged"]:
        lines += ["", f"{counts['unchanged']} unchanged (change below the minimum effect)."]
    return "\n".join(lines) + "\n"


def to_json(changes: Sequence[Change]) -> str:
    return json.dumps({"kind": "storagebench.compare", "changes": [asdict(c) for c in changes]}, indent=1)


def print_table(changes: Sequence[Change], title: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(*HEADER, title=escape(title))
    style = {"regression": "bold red", "improvement": "green", "not comparable": "yellow"}
    for row in rows(changes):
        table.add_row(*(escape(x) for x in row), style=style.get(row[0]))
    Console(width=200).print(table)


def summary(changes: Sequence[Change]) -> dict[str, Any]:
    return {v: sum(1 for c in changes if c.verdict == v) for v in ORDER}
