"""Statistics over repeated measurements: medians with confidence intervals, ties, steady state.

Pure functions (numpy only, plus the result-file readers in :func:`metrics_of`).  The API the report
consumes:

* :func:`median_interval` — the median of a sample with a distribution-free confidence interval from
  order statistics (the binomial interval: for n repeats, the j-th and k-th smallest values cover the
  true median with probability ``P(j <= B < k)``, ``B ~ Binomial(n, 1/2)``).  With few repeats the
  stated confidence cannot be reached (5 repeats give at most 93.75 %); the interval is then
  ``[min, max]`` and its real ``coverage`` is given, never a rounded-up claim.
* :func:`bootstrap_interval` — percentile bootstrap of any statistic (seeded), for comparison.
* :func:`summarise` — result files of a run -> one :class:`Cell` per (store, workload, phase, metric)
  with median, lo, hi, n, coverage and ``tied_with``: the other stores whose interval overlaps on that
  metric.  Tied stores must never be ordered as if one were better.
* :func:`steady_state` — where warm-up ends in a 1-second throughput series (MSER-m), or that it never
  settled.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: the confidence asked for by default
CONFIDENCE = 0.95
#: latency percentiles summarised per cell (the names result files use)
PERCENTILE_METRICS = ("p50_us", "p90_us", "p95_us", "p99_us", "p99.9_us", "p99.99_us")
#: higher is better for throughput, lower for latency (used only to order untied stores)
HIGHER_IS_BETTER = {"ops_per_sec": True, "rows_per_sec": True}


@dataclass(frozen=True)
class Interval:
    median: float
    lo: float
    hi: float
    n: int
    #: probability that [lo, hi] covers the true median (exact for continuous data); 0 when n < 2
    coverage: float
    method: str = "order-statistic"

    def overlaps(self, other: Interval) -> bool:
        return self.lo <= other.hi and other.lo <= self.hi


def _binom_cdf_half(n: int) -> list[float]:
    """P(B <= k) for B ~ Binomial(n, 1/2), k = 0..n."""
    pmf = [math.comb(n, k) / 2.0**n for k in range(n + 1)]
    return list(np.cumsum(pmf))


def order_statistic_ranks(n: int, confidence: float = CONFIDENCE) -> tuple[int, int, float]:
    """1-based ranks (j, k) of the narrowest symmetric interval [x_(j), x_(k)] covering the median with
    at least ``confidence``, and its exact coverage.  When even [x_(1), x_(n)] falls short, that
    interval and its (lower) coverage are returned."""
    if n < 1:
        raise ValueError("need at least one value")
    cdf = _binom_cdf_half(n)
    best = (1, n, 1.0 - 2 * cdf[0] if n > 1 else 0.0)
    # coverage of [x_(j), x_(n+1-j)] = P(j <= B <= n-j) = cdf[n-j] - cdf[j-1]
    for j in range(1, n // 2 + 1):
        k = n + 1 - j
        coverage = cdf[n - j] - cdf[j - 1]
        if coverage >= confidence:
            best = (j, k, coverage)
        else:
            break
    return best


def median_interval(values: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE) -> Interval:
    """Median with an order-statistic confidence interval (distribution-free)."""
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    if n == 0:
        raise ValueError("need at least one value")
    med = float(np.median(x))
    if n == 1:
        return Interval(med, med, med, 1, 0.0)
    j, k, coverage = order_statistic_ranks(n, confidence)
    return Interval(med, float(x[j - 1]), float(x[k - 1]), n, coverage)


def bootstrap_interval(values: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE,
                       statistic: Callable[..., Any] = np.median, resamples: int = 2000,
                       seed: int = 0) -> Interval:
    """Percentile bootstrap interval of ``statistic`` (a numpy reduction taking ``axis``; seeded).  Its
    coverage is nominal only: with few values it under-covers, which is why medians default to
    :func:`median_interval`."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n == 0:
        raise ValueError("need at least one value")
    point = float(statistic(x))
    if n == 1:
        return Interval(point, point, point, 1, 0.0, "bootstrap")
    rng = np.random.default_rng(seed)
    samples = x[rng.integers(0, n, size=(resamples, n))]
    stats = np.asarray(statistic(samples, axis=1), dtype=np.float64)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(stats, [alpha, 1 - alpha])
    return Interval(point, float(lo), float(hi), n, confidence, "bootstrap")


# -- cells over result files ---------------------------------------------------------------------------

@dataclass
class Cell:
    """One (store, workload, phase, metric) over its repeats."""

    store: str
    workload: str
    phase: str
    metric: str
    median: float
    lo: float
    hi: float
    n: int
    coverage: float
    values: list[float] = field(default_factory=list)
    #: other stores (same workload, phase, metric) whose interval overlaps this one
    tied_with: list[str] = field(default_factory=list)

    @property
    def interval(self) -> Interval:
        return Interval(self.median, self.lo, self.hi, self.n, self.coverage)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def metrics_of(result: Mapping[str, Any]) -> dict[str, float]:
    """The summarised metrics of one ok result: throughput (steady-state when it was detected) and the
    latency percentiles over all its operations, plus ``<op>.<percentile>`` per operation."""
    from storagebench.measuring.measurement import summarize
    from storagebench.results.model import ok_histogram

    out: dict[str, float] = {}
    totals = result.get("totals") or {}
    steady = result.get("steady_state") or {}
    ops_per_sec = steady.get("ops_per_sec") if steady.get("reached") else None
    if ops_per_sec is None:
        ops_per_sec = totals.get("ops_per_sec")
    if ops_per_sec is not None:
        out["ops_per_sec"] = float(ops_per_sec)
    rows = sum(int(n) for n in (result.get("rows") or {}).values())
    seconds = float(result.get("duration_s") or 0.0)
    if rows and seconds > 0:  # batch calls: one operation carries many rows
        out["rows_per_sec"] = rows / seconds
    hist = ok_histogram(result.get("histograms") or {})  # successful operations (failed ones are apart)
    if hist.get_total_count():
        combined = summarize(hist, float(result.get("duration_s") or 0.0))
        out.update({m: float(combined[m]) for m in PERCENTILE_METRICS if m in combined})
    for op, entry in (result.get("operations") or {}).items():
        lat = entry.get("latency") or {}
        if op == "verify" or not lat.get("count"):
            continue
        out.update({f"{op}.{m}": float(lat[m]) for m in PERCENTILE_METRICS if m in lat})
    return out


def summarise(results: Iterable[Mapping[str, Any]], confidence: float = CONFIDENCE,
              phases: Sequence[str] = ("load", "run")) -> list[Cell]:
    """One cell per (store, workload, phase, metric) over the ok results (each repeat one value), with
    ties marked among stores of the same (workload, phase, metric)."""
    samples: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
    for r in results:
        if r.get("status") != "ok" or r.get("phase") not in phases or "totals" not in r:
            continue
        for metric, value in metrics_of(r).items():
            samples[(r["store"], r["workload"], r["phase"], metric)].append(value)
    cells = []
    for (store, workload, phase, metric), values in samples.items():
        iv = median_interval(values, confidence)
        cells.append(Cell(store, workload, phase, metric, iv.median, iv.lo, iv.hi, iv.n, iv.coverage,
                          list(values)))
    mark_ties(cells)
    return sorted(cells, key=lambda c: (c.workload, c.phase, c.metric, c.store))


def mark_ties(cells: Sequence[Cell]) -> None:
    """Set ``tied_with`` on every cell: stores of the same (workload, phase, metric) whose intervals
    overlap.  A single measurement (n=1) has no interval and is tied with nothing it does not equal."""
    groups: dict[tuple[str, str, str], list[Cell]] = defaultdict(list)
    for c in cells:
        groups[(c.workload, c.phase, c.metric)].append(c)
    for group in groups.values():
        for c in group:
            c.tied_with = sorted(o.store for o in group if o is not c and c.interval.overlaps(o.interval))


def ranking(cells: Sequence[Cell], workload: str, phase: str, metric: str) -> list[list[str]]:
    """Stores from best to worst on one metric, as groups: stores in one group are statistically tied
    (connected by overlapping intervals) and must be shown as equals."""
    group = [c for c in cells if (c.workload, c.phase, c.metric) == (workload, phase, metric)]
    higher = HIGHER_IS_BETTER.get(metric.split(".")[-1], False)
    group.sort(key=lambda c: -c.median if higher else c.median)
    tiers: list[list[str]] = []
    reach = 0.0  # the far end of the current tier's intervals
    for c in group:
        joined = tiers and (c.hi >= reach if higher else c.lo <= reach)
        if joined:
            tiers[-1].append(c.store)
            reach = min(reach, c.lo) if higher else max(reach, c.hi)
        else:
            tiers.append([c.store])
            reach = c.lo if higher else c.hi
    return tiers


def cell_table(cells: Sequence[Cell],
               metrics: Sequence[str] = ("ops_per_sec", "rows_per_sec", "p50_us", "p99_us")) -> list[str]:
    """Plain-text lines for the console: median [lo, hi] (n, coverage), ties named."""
    lines = []
    for c in cells:
        if c.metric not in metrics:
            continue
        tie = f"  tied with {', '.join(c.tied_with)}" if c.tied_with else ""
        lines.append(f"{c.workload:>8} {c.phase:<4} {c.store:<10} {c.metric:<12} {c.median:>12,.1f} "
                     f"[{c.lo:,.1f}, {c.hi:,.1f}] n={c.n} ({c.coverage:.1%}){tie}")
    return lines


# -- steady state ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SteadyState:
    """Where warm-up ended in a per-second series (index = seconds from the series' start)."""

    reached: bool
    #: first second of the steady part (None when never reached)
    start_s: int | None
    method: str
    #: mean ops/s over the steady part (None when never reached)
    ops_per_sec: float | None
    seconds: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def mser_truncation(series: Sequence[float] | np.ndarray, batch: int = 5) -> int:
    """MSER-m (White 1997): batch the series into means of ``batch`` points, then pick the truncation d
    (in batches) minimising ``sum((Y_i - mean(Y_d..))^2) / (n - d)^2`` over the first half (the usual
    restriction: the statistic is erratic on short tails).  Returns the truncation in points."""
    y = np.asarray(series, dtype=float)
    nb = len(y) // batch
    if nb < 2:
        return 0
    b = y[: nb * batch].reshape(nb, batch).mean(axis=1)
    scores = [((b[d:] - b[d:].mean()) ** 2).sum() / (nb - d) ** 2 for d in range(nb // 2 + 1)]
    return int(np.argmin(scores)) * batch


def drifts(series: Sequence[float] | np.ndarray, t_limit: float = 3.0, relative_limit: float = 0.1) -> bool:
    """True when a series still trends: its least-squares slope is significant (|t| > ``t_limit``) *and*
    moves the level by more than ``relative_limit`` of the mean over the series (both, so that neither
    tiny-but-significant slopes of long runs nor noise in short ones count)."""
    y = np.asarray(series, dtype=float)
    n = len(y)
    if n < 3 or not np.any(y):
        return False
    x = np.arange(n, dtype=float) - (n - 1) / 2
    slope = float((x * (y - y.mean())).sum() / (x * x).sum())
    resid = y - y.mean() - slope * x
    se = math.sqrt(float((resid**2).sum()) / (n - 2) / float((x * x).sum()))
    t = math.inf if se == 0 else abs(slope) / se
    return t > t_limit and abs(slope) * n > relative_limit * abs(float(y.mean()))


def steady_state(series: Sequence[float], skip: int = 0, min_seconds: int = 5) -> SteadyState:
    """Detect the end of warm-up in a 1-second throughput series.

    ``skip`` leading seconds (a fixed warm-up, not measured) are ignored; the series should hold complete
    seconds only.  The truncation point comes from MSER-5 with at least 50 seconds, MSER-1 below; the
    part after it must not drift (:func:`drifts`), or the run never reached steady state.  Fewer than
    ``min_seconds`` seconds are too short to say anything (flagged as not reached)."""
    y = np.asarray(series[skip:], dtype=float)
    n = len(y)
    if n < min_seconds:
        return SteadyState(False, None, "too short", None, n)
    batch = 5 if n >= 50 else 1
    cut = mser_truncation(y, batch)
    method = f"MSER-{batch}"
    if drifts(y[cut:]):
        return SteadyState(False, None, method, None, n)
    return SteadyState(True, skip + cut, method, float(y[cut:].mean()), n)


def write_summary(run_dir: Path, confidence: float = CONFIDENCE) -> list[Cell]:
    """Summarise a run folder's result files into ``summary.json`` beside them; returns the cells."""
    from storagebench.results.files import load_results, write_json

    cells = summarise(load_results(run_dir), confidence)
    write_json(run_dir / "summary.json", {"kind": "storagebench.summary", "confidence": confidence,
                                          "method": "order-statistic interval of the median",
                                          "cells": [c.as_dict() for c in cells]})
    return cells
