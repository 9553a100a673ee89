"""Relative scores, after ClickBench: a figure becomes ``(shift + t) / (shift + best)`` for a "lower is
better" time (1.0 = the best store, 2.0 = twice as slow), and stores are ranked by the geometric mean of
those ratios.  Throughput is turned into time per operation first, so every ratio reads the same way.

The shift keeps figures near the noise floor from exploding the ratio (ClickBench adds 10 ms to query
times); ours are per metric, in the metric's unit, below.  The weighted combination happens on the page
(the reader's weights); this module gives it the per-metric ratios with their intervals.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from storagebench.report.cells import METRICS

#: default weight per metric, as ClickBench's combined view: load time and data size 10 % each
DEFAULT_WEIGHTS: dict[str, float] = {"throughput": 4.0, "p99": 4.0, "load_time": 1.0, "footprint": 1.0}
#: shift per metric, in the "lower is better" unit: µs per op, µs of p99, seconds of load, bytes
SHIFTS: dict[str, float] = {"throughput": 1.0, "p99": 10.0, "load_time": 0.01, "footprint": 65536.0}


def as_cost(metric: str, value: float) -> float:
    """The figure as a "lower is better" cost (throughput -> µs per operation)."""
    if METRICS[metric][1]:
        return 1e6 / value if value > 0 else math.inf
    return value


def shifted_ratio(metric: str, value: float, best_cost: float) -> float:
    shift = SHIFTS[metric]
    return (shift + as_cost(metric, value)) / (shift + best_cost)


def ratios(cells: pd.DataFrame) -> list[dict[str, Any]]:
    """Per (workload, store, metric) of the cells that may be ranked: ratio to the best, with interval.

    A (store, workload) is ranked when its run phase was measured fine and passed
    :func:`storagebench.report.cells.too_short`; its load-phase figures count only then (a store whose run
    cannot be ranked does not set the best load time for the others either).

    The interval comes from the store's own interval against the best store's median (the best's own
    noise is in its row).  Higher-is-better metrics swap low/high when turned into costs.
    """
    out: list[dict[str, Any]] = []
    runs = cells[(cells["phase"] == "run") & (cells["status"] == "ok") & (cells["too_short"] == "")]
    rankable = set(zip(runs["store"], runs["workload"], strict=True))
    for metric, (phase, higher, _unit) in METRICS.items():
        rows = cells[(cells["phase"] == phase) & (cells["status"] == "ok")].dropna(subset=[metric])
        keep = [(s, w) in rankable for s, w in zip(rows["store"], rows["workload"], strict=True)]
        rows = rows.loc[pd.Series(keep, index=rows.index, dtype=bool)]
        for workload, group in rows.groupby("workload", sort=False):
            best = min(as_cost(metric, v) for v in group[metric])
            for _, row in group.iterrows():
                low_v, high_v = (row[f"{metric}_high"], row[f"{metric}_low"]) if higher else \
                    (row[f"{metric}_low"], row[f"{metric}_high"])
                out.append({
                    "workload": workload, "store": row["store"], "metric": metric,
                    "ratio": shifted_ratio(metric, row[metric], best),
                    "low": shifted_ratio(metric, low_v, best), "high": shifted_ratio(metric, high_v, best),
                    "samples": int(row["samples"]),
                })
    return out

