"""``storagebench compare A B``, and the one decision rule ``publish`` applies to each pair of nights.

A *series* is (store, workload, metric); each side holds its figures over repeats.  :func:`decide` turns
the series of one pair of runs into verdicts, the same way wherever it is called:

* **the test**: a two-sided Mann-Whitney rank test of the repeats (exact for small samples, normal
  approximation with tie correction beyond), and the distribution-free interval of the ratio B / A that
  goes with it (the order statistics of the pairwise ratios, ranks from the same U distribution), with
  its computed coverage: never a rounded-up 95 %;
* **multiplicity**: Holm's step-down correction over every series tested in the pair, so that the chance
  of any false alarm in a night stays at most alpha however many series it has;
* **the minimum effect**, a factor either way (0.05: 1.05x slower or faster; 1.0: a latency doubled or a
  throughput halved), raised to the **machine's own change** between the two runs when that is larger:
  the factor by which the noise probes recorded in the result files moved (CPU loop rate, memcpy rate,
  load average per core; fsync latency is shown, not applied: :data:`FLOOR_FIGURES`).  A night whose
  machine was 1.4x busier cannot flag a store that got 1.3x slower;
* **the metric's absolute floor** (the verdict's shift: 10 µs of p99, 10 ms of load time, 1 µs per
  operation of throughput).

Verdicts: *regression* / *improvement* when the corrected test is significant and the change is beyond
both floors; *unchanged* only when the whole interval lies within them; *inconclusive* otherwise, with
the reason.  A cell fine in A and failed in B is a regression whatever the figures; only the same
machine fingerprint and engine version are compared.

With n repeats per side the smallest two-sided p-value is 2 / C(2n, n): 5 repeats reach 0.0079, 6 reach
0.0022; with 16 series Holm asks 0.05 / 16 = 0.0031 of the strongest one, so 6 repeats are needed.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from storagebench.report.cells import METRICS, effect, find_results, format_figure, samples_frame, significant
from storagebench.report.scoring import SHIFTS, as_cost

from storagebench.analysis.stats import CONFIDENCE
from storagebench.errors import UsageError


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


#: up to this many pairs the rank test is exact (the permutation distribution, ties included) and the
#: interval's ranks come from the exact U distribution; beyond, the normal approximation
_EXACT_PAIRS = 144


def _permutation_greater(x: Sequence[float], y: Sequence[float]) -> float:
    """Exact P(rank sum of x >= observed) over every split of the pooled values into |x| and |y| (ties
    get mid-ranks, counted as they fall: HdrHistogram percentiles often tie)."""
    pooled = sorted([*x, *y])
    doubled: dict[float, int] = {}  # twice the mid-rank of each value (integers)
    i = 0
    while i < len(pooled):
        j = i
        while j < len(pooled) and pooled[j] == pooled[i]:
            j += 1
        doubled[pooled[i]] = i + 1 + j
        i = j
    n = len(x)
    by_size: list[dict[int, int]] = [{0: 1}] + [{} for _ in range(n)]  # subsets by size, then by rank sum
    for score in (doubled[v] for v in pooled):
        for size in range(n, 0, -1):
            for total, count in by_size[size - 1].items():
                by_size[size][total + score] = by_size[size].get(total + score, 0) + count
    observed = sum(doubled[v] for v in x)
    return sum(c for total, c in by_size[n].items() if total >= observed) / sum(by_size[n].values())


def mann_whitney_greater(x: Sequence[float], y: Sequence[float]) -> float:
    """One-sided p-value for "x tends to be greater than y" (exact when small, ties included)."""
    n, m = len(x), len(y)
    if not n or not m:
        return 1.0
    if n * m <= _EXACT_PAIRS:
        return _permutation_greater(x, y)
    # normal approximation, tie-corrected, with continuity correction
    u = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in x for b in y)
    values = sorted([*x, *y])
    tie_term = sum(t**3 - t for t in (values.count(v) for v in set(values)))
    var = n * m / 12 * ((n + m + 1) - tie_term / ((n + m) * (n + m - 1)))
    if var <= 0:
        return 1.0
    z = (u - n * m / 2 - 0.5) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2))


def mann_whitney_two_sided(x: Sequence[float], y: Sequence[float]) -> float:
    return min(1.0, 2 * min(mann_whitney_greater(x, y), mann_whitney_greater(y, x)))


def smallest_p(n: int, m: int) -> float:
    """The smallest two-sided p-value n against m repeats can reach (complete separation)."""
    return min(1.0, 2 / math.comb(n + m, n)) if n and m else 1.0


def _u_below(k: int, n: int, m: int) -> float:
    """P(U <= k - 1) under the null hypothesis (exact when small, else normal)."""
    if n * m <= _EXACT_PAIRS:
        counts = _u_counts(n, m)
        return sum(counts[:k]) / sum(counts)
    z = (k - 0.5 - n * m / 2) / math.sqrt(n * m * (n + m + 1) / 12)
    return 0.5 * math.erfc(-z / math.sqrt(2))


def ratio_interval(a: Sequence[float], b: Sequence[float],
                   confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Distribution-free interval of the ratio B / A (a shift on the log scale) from the order statistics
    of the n*m pairwise ratios b_j / a_i, ranks from the U distribution; returns (low, high, coverage).
    When even the full range falls short of ``confidence``, the full range and its coverage are given."""
    ratios = sorted(y / x for x in a for y in b)
    n, m = len(a), len(b)
    k, coverage = 1, 1 - 2 * _u_below(1, n, m)
    while k < len(ratios) // 2 and 1 - 2 * _u_below(k + 1, n, m) >= confidence:
        k += 1
        coverage = 1 - 2 * _u_below(k, n, m)
    return ratios[k - 1], ratios[len(ratios) - k], max(coverage, 0.0)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (reject where adjusted <= alpha: family-wise error <= alpha)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


# -- the machine's own change, from the noise probes -----------------------------------------------

#: probe figure -> (what it is, unit, True when higher means a faster machine)
PROBE_FIGURES: dict[str, tuple[str, str, bool]] = {
    "cpu_loops_per_sec": ("CPU loop rate", "loops/s", True),
    "memory_copy_gb_per_sec": ("memcpy rate", "GB/s", True),
    "busy_cores": ("load average per core", "", False),
    "fsync_p50_us": ("fsync p50", "µs", False),
}
#: the figures whose change raises the floor of every series: what every store's client and server share.
#: fsync latency is shown but not applied: it moves only stores that sync, and on a shared disk it jumped
#: 2.4x to 8.9x between runs minutes apart (tests/test_nightly.py on a 2-core machine at load 10), which
#: would have hidden a 4.5x regression of a store that never syncs
FLOOR_FIGURES = ("cpu_loops_per_sec", "memory_copy_gb_per_sec", "busy_cores")


def machine_probe(results: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """One side's noise probe: per figure the median over its runs (each run probes once, at its start;
    the load average is per core, floored at 1: a load below the core count slows nothing)."""
    per_run: dict[str, dict[str, float]] = {}
    for r in results:
        noise = r.get("noise") or {}
        figures = {k: float(noise[k]) for k in PROBE_FIGURES if isinstance(noise.get(k), int | float)}
        cores = (r.get("machine") or {}).get("cpu_count")
        load = noise.get("loadavg")
        if isinstance(load, list) and load and cores:
            figures["busy_cores"] = max(1.0, float(load[0]) / int(cores))
        per_run.setdefault(f"{r.get('run_id')}|{r.get('started_at')}", figures)
    return {k: statistics.median(vals) for k in PROBE_FIGURES
            if (vals := [f[k] for f in per_run.values() if k in f])}


@dataclass(frozen=True)
class MachineChange:
    """How much the machine alone moved between A and B: the largest probe ratio, either way."""

    factor: float = 1.0
    figure: str = ""
    before: float = math.nan
    after: float = math.nan

    def describe(self) -> str:
        if not self.figure:
            return "no noise probe on both sides"
        if self.factor == 1.0:
            return "the probes are equal"
        label, unit, _ = PROBE_FIGURES[self.figure]
        return (f"{label} {significant(self.before)} → {significant(self.after)}"
                f"{' ' + unit if unit else ''} ({self.factor:.2f}x)")


def machine_change(a: Mapping[str, float], b: Mapping[str, float]) -> MachineChange:
    best = MachineChange()
    for key in FLOOR_FIGURES:
        if key in a and key in b and a[key] > 0 and b[key] > 0:
            factor = max(a[key] / b[key], b[key] / a[key])
            if factor > best.factor or not best.figure:
                best = MachineChange(factor, key, a[key], b[key])
    return best


# -- one series, both sides --------------------------------------------------------------------------

@dataclass(frozen=True)
class Side:
    """One side of a series: the ok figures over its repeats, and what else the verdict needs."""

    values: tuple[float, ...] = ()
    samples: int = 0
    status: str = "ok"  # ok, or the first other status among the samples
    reason: str = ""
    fingerprints: tuple[str, ...] = ()
    engines: tuple[str, ...] = ()
    unit: str = ""


def side_of(cell: pd.DataFrame, metric: str) -> Side:
    """The samples of one (store, workload, phase) on one side -> the side of a series."""
    bad = cell[cell["status"] != "ok"]
    return Side(values=tuple(float(v) for v in cell[metric] if not math.isnan(v)), samples=len(cell),
                status="ok" if bad.empty else str(bad["status"].iloc[0]),
                reason="" if bad.empty else str(bad["reason"].iloc[0]),
                fingerprints=tuple(sorted(set(cell["fingerprint"]))), engines=tuple(sorted(set(cell["engine"]))),
                unit=METRICS[metric][2] if metric != "throughput" or cell.empty else str(cell["unit"].iloc[0]))


def series_of(samples: pd.DataFrame) -> dict[tuple[str, str, str], Side]:
    """Every series of one side: (store, workload, metric) -> its side."""
    out: dict[tuple[str, str, str], Side] = {}
    for (store, workload, phase), cell in samples.groupby(["store", "workload", "phase"], sort=False):
        for metric, (metric_phase, _higher, _unit) in METRICS.items():
            if phase != metric_phase or (metric == "footprint" and cell["footprint"].isna().all()):
                continue  # footprint: not measured by this harness version
            out[(str(store), str(workload), metric)] = side_of(cell, metric)
    return out


@dataclass
class Change:
    store: str
    workload: str
    metric: str
    verdict: str  # regression | improvement | inconclusive | unchanged | not comparable | only in A | only in B
    unit: str = ""
    before: float | None = None  # median of A
    after: float | None = None  # median of B
    change: float | None = None  # relative change of the median, after / before - 1
    change_low: float | None = None
    change_high: float | None = None
    coverage: float | None = None  # computed coverage of [change_low, change_high]
    p_value: float | None = None  # two-sided rank test
    p_adjusted: float | None = None  # Holm over the series tested in this pair
    floor: float | None = None  # the smallest effect that counts here: min effect or the machine's change
    samples: tuple[int, int] = (0, 0)
    why: str = ""


def _measure(key: tuple[str, str, str], a: Side | None, b: Side | None) -> Change:
    """Everything about one series except the verdicts that need the whole family (multiplicity)."""
    store, workload, metric = key
    out = Change(store, workload, metric, "", unit=(b or a or Side()).unit,
                 samples=(a.samples if a else 0, b.samples if b else 0))
    if a is None or b is None:
        out.verdict = "only in A" if b is None else "only in B"
        return out
    for label, ours, theirs in (("machine", a.fingerprints, b.fingerprints), ("engine version", a.engines, b.engines)):
        if ours != theirs or len(ours) != 1:
            out.verdict, out.why = "not comparable", f"{label} differs: {', '.join(ours)} vs {', '.join(theirs)}"
            return out
    if b.status != "ok":
        out.verdict = "regression" if a.status == "ok" else "not comparable"
        out.why = f"B {b.status}: {b.reason}" + ("" if a.status == "ok" else f" (A {a.status} too)")
        return out
    if a.status != "ok":
        out.verdict, out.why = "improvement", f"A {a.status}: {a.reason}; B is fine"
        return out
    if not a.values or not b.values:
        out.verdict, out.why = "not comparable", "not measured on both sides"
        return out
    out.before, out.after = statistics.median(a.values), statistics.median(b.values)
    if out.before <= 0 or min(a.values) <= 0:
        out.verdict, out.why = "not comparable", "zero baseline"
        return out
    out.change = out.after / out.before - 1
    low, high, out.coverage = ratio_interval(a.values, b.values)
    out.change_low, out.change_high = low - 1, high - 1
    out.p_value = mann_whitney_two_sided(a.values, b.values)
    return out


def _below_floor(metric: str, before: float, ratio: float, floor: float) -> str | None:
    """Why a move by ``ratio`` from ``before`` does not count (within the relative floor, or under the
    metric's absolute shift), or None when it counts."""
    if effect(1.0, ratio) <= floor:
        return f"within {floor:.0%}"
    moved = abs(as_cost(metric, before * ratio) - as_cost(metric, before))
    if moved < SHIFTS[metric]:
        per_op = metric == "throughput"  # throughput's shift is in µs per operation
        shown = format_figure("p99" if per_op else metric, moved) + (" per operation" if per_op else "")
        limit = format_figure("p99" if per_op else metric, SHIFTS[metric])
        return f"{shown}, under the {metric} floor of {limit}"
    return None


def _ends_text(ends: Sequence[str | None], min_effect: float) -> str:
    """Why both ends of an interval are within the floor, said once when they say the same."""
    if all(e == f"within {min_effect:.0%}" for e in ends):
        return f"the minimum effect {min_effect:.0%}"
    return "; ".join(dict.fromkeys(f"{side} end {e}" for side, e in zip(("low", "high"), ends, strict=True)))


def percent(value: float | None) -> str:
    """A relative change, signed, one decimal (``+12.3%``; ``±0.0%`` for none)."""
    if value is None:
        return ""
    return "±0.0%" if abs(value) < 0.0005 else f"{value:+.1%}"


def decide(pairs: Mapping[tuple[str, str, str], tuple[Side | None, Side | None]], machine: MachineChange,
           min_effect: float, alpha: float) -> list[Change]:
    """The verdict of every series of one pair of runs (A, B): the one rule ``compare`` and ``publish``
    share (module docstring)."""
    changes = [_measure(key, a, b) for key, (a, b) in pairs.items()]
    tested = [c for c in changes if c.p_value is not None]
    for c, adjusted in zip(tested, holm([c.p_value or 1.0 for c in tested]), strict=True):
        c.p_adjusted = adjusted
    floor = max(min_effect, machine.factor - 1)
    for c in tested:
        assert c.before is not None and c.change is not None and c.p_adjusted is not None
        c.floor = floor
        ends = [_below_floor(c.metric, c.before, 1 + end, min_effect) for end in (c.change_low or 0.0,
                                                                                   c.change_high or 0.0)]
        beyond_floor = _below_floor(c.metric, c.before, 1 + c.change, floor) is None
        small = _below_floor(c.metric, c.before, 1 + c.change, min_effect)
        if all(ends) and (c.coverage or 0.0) >= 1 - 2 * alpha:  # an equivalence test (TOST) at level alpha
            c.verdict = "unchanged"
            c.why = f"the whole interval {_interval(c)} is within the floor ({_ends_text(ends, min_effect)})"
        elif c.p_adjusted <= alpha and beyond_floor:
            higher_is_better = METRICS[c.metric][1]
            c.verdict = "regression" if (c.change < 0) == higher_is_better else "improvement"
        else:
            c.verdict = "inconclusive"
            if all(ends):
                c.why = (f"the interval {_interval(c)} is within the floor ({_ends_text(ends, min_effect)}), but "
                         f"covers less than {1 - 2 * alpha:.0%}: too few repeats to call it unchanged")
            elif small:
                c.why = f"change {percent(c.change)} {small}, but the interval {_interval(c)} reaches beyond it"
            elif not beyond_floor:
                c.why = (f"change {percent(c.change)} within the machine's own change between the runs: "
                         f"{machine.describe()}")
            else:
                c.why = (f"rank test not significant after Holm over {len(tested)} series "
                         f"(p = {c.p_value:.3g}, adjusted {c.p_adjusted:.3g} > {alpha:g})")
    return changes


# -- compare two folders ---------------------------------------------------------------------------

@dataclass
class Comparison:
    a_runs: list[str]
    b_runs: list[str]
    machine: MachineChange
    min_effect: float
    alpha: float
    changes: list[Change] = field(default_factory=list)

    @property
    def tested(self) -> int:
        return sum(1 for c in self.changes if c.p_value is not None)

    def power_note(self) -> str:
        """What the design can detect: said when no change could be significant at these repeat counts."""
        tested = [c for c in self.changes if c.p_value is not None]
        if not tested:
            return ""
        best = min(smallest_p(*c.samples) for c in tested)
        if best <= self.alpha / len(tested):
            return ""
        n = min(min(c.samples) for c in tested)
        return (f"with {n} repeats per side the smallest reachable p-value is {best:.3g}, above "
                f"alpha / {len(tested)} series = {self.alpha / len(tested):.3g}: no change can be significant "
                f"here; repeat more (6 per side reach 0.0022)")

    def counts(self) -> dict[str, int]:
        return {v: sum(1 for c in self.changes if c.verdict == v) for v in ORDER}


def describe_runs(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each run folder of one side, named: folder, start, commit, repeats and stores."""
    runs: dict[str, dict[str, Any]] = {}
    for r in results:
        folder = Path(str(r.get("_file", ""))).parent
        entry = runs.setdefault(str(folder), {"started": str(r.get("started_at", "")), "commit": None,
                                               "repeats": set(), "stores": set()})
        entry["started"] = min(entry["started"], str(r.get("started_at", "")))
        commit = (r.get("harness") or {}).get("commit")
        entry["commit"] = entry["commit"] or (commit[:7] + ("+dirty" if (r.get("harness") or {}).get("dirty")
                                                             else "") if commit else None)
        entry["repeats"].add((r.get("repeat") or {}).get("index"))
        entry["stores"].add(str(r.get("store")))
    return [f"{folder} (started {e['started'][:16].replace('T', ' ')} UTC, commit {e['commit'] or 'unknown'}, "
            f"{len(e['repeats'])} repeat{'s' if len(e['repeats']) != 1 else ''}, {', '.join(sorted(e['stores']))})"
            for folder, e in sorted(runs.items())]


def compare(a_dirs: Sequence[Path], b_dirs: Sequence[Path], min_effect: float = 0.05,
            alpha: float = 0.05) -> Comparison:
    """Compare the results under ``a_dirs`` (baseline) with those under ``b_dirs``; refuses
    (:class:`UsageError`) a side without results and two sides with no series in common."""
    a_results, b_results = find_results(a_dirs), find_results(b_dirs)
    for name, dirs, results in (("A", a_dirs, a_results), ("B", b_dirs, b_results)):
        if not results:
            raise UsageError(f"no result files in {name} ({', '.join(map(str, dirs))}): nothing to compare")
    a, b = series_of(samples_frame(a_results)), series_of(samples_frame(b_results))
    cells = lambda side: {(s, w, METRICS[m][0]) for s, w, m in side}  # noqa: E731
    if not cells(a) & cells(b):
        raise UsageError("no result in A matches one in B (store, workload, phase): "
                         f"A has {_cells_text(cells(a))}; B has {_cells_text(cells(b))}")
    machine = machine_change(machine_probe(a_results), machine_probe(b_results))
    keys = list(dict.fromkeys([*a, *b]))
    changes = decide({k: (a.get(k), b.get(k)) for k in keys}, machine, min_effect, alpha)
    return Comparison(describe_runs(a_results), describe_runs(b_results), machine, min_effect, alpha, changes)


def _cells_text(cells: set[tuple[str, str, str]]) -> str:
    return ", ".join("/".join(c) for c in sorted(cells))


# -- output --------------------------------------------------------------------------------------------

ORDER = {"regression": 0, "improvement": 1, "inconclusive": 2, "not comparable": 3, "only in A": 4, "only in B": 5,
         "unchanged": 6}
HEADER = ["verdict", "store", "workload", "metric", "A (median)", "B (median)", "change", "interval (coverage)",
          "p (Holm)", "n A/B", "why"]


def interval_text(low: float | None, high: float | None, coverage: float | None) -> str:
    """The interval of a change with its computed coverage: ``-67.0% … +142.0% (90%)``."""
    if low is None or high is None or coverage is None:
        return ""
    return f"{percent(low)} … {percent(high)} ({coverage:.0%})"


def _interval(c: Change) -> str:
    return interval_text(c.change_low, c.change_high, c.coverage)


def rows(changes: Sequence[Change]) -> list[list[str]]:
    def fig(c: Change, v: float | None) -> str:
        return "" if v is None else format_figure(c.metric, v, c.unit or None)

    return [[c.verdict, c.store, c.workload, c.metric, fig(c, c.before), fig(c, c.after), percent(c.change),
             _interval(c), "" if c.p_value is None else f"{c.p_value:.3g} ({c.p_adjusted:.3g})",
             f"{c.samples[0]}/{c.samples[1]}", c.why]
            for c in sorted(changes, key=lambda c: (ORDER[c.verdict], c.store, c.workload, c.metric))]


def header_lines(cmp: Comparison) -> list[str]:
    """What was compared with what, and under which rule: the lines above every table."""
    lines = [f"A: {run}" for run in cmp.a_runs] + [f"B: {run}" for run in cmp.b_runs]
    floor = max(cmp.min_effect, cmp.machine.factor - 1)
    lines.append(f"rule: two-sided rank test, Holm over {cmp.tested} series at alpha {cmp.alpha:g}; a change counts "
                 f"beyond {floor:.0%} (minimum effect {cmp.min_effect:.0%}; machine between the runs: "
                 f"{cmp.machine.describe()})")
    if note := cmp.power_note():
        lines.append(f"note: {note}")
    return lines


def to_markdown(cmp: Comparison, title: str) -> str:
    counts = cmp.counts()

    def esc(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [f"### {esc(title)}", "", *(f"- {esc(line)}" for line in header_lines(cmp)), "",
             ", ".join(f"**{n}** {v}" for v, n in counts.items() if n) or "nothing to compare", ""]
    shown = [row for row in rows(cmp.changes) if row[0] != "unchanged"]
    if shown:
        lines += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(esc(x) for x in row) + " |" for row in shown]
    if counts["unchanged"]:
        lines += ["", f"{counts['unchanged']} unchanged (the whole interval within the floor)."]
    return "\n".join(lines) + "\n"


def _finite(value: Any) -> Any:
    """NaN and infinities -> None (JSON has neither), through dicts and lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def to_json(cmp: Comparison) -> str:
    return json.dumps(_finite({"kind": "storagebench.compare", "a": cmp.a_runs, "b": cmp.b_runs,
                               "machine": {**asdict(cmp.machine), "describe": cmp.machine.describe()},
                               "min_effect": cmp.min_effect, "alpha": cmp.alpha, "tested": cmp.tested,
                               "changes": [asdict(c) for c in cmp.changes]}), indent=1, allow_nan=False)


def print_table(cmp: Comparison, title: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(width=200)
    table = Table(*HEADER, title=escape(title))
    style = {"regression": "bold red", "improvement": "green", "not comparable": "yellow"}
    for row in rows(cmp.changes):
        table.add_row(*(escape(x) for x in row), style=style.get(row[0]))
    for line in header_lines(cmp):
        console.print(escape(line))
    console.print(table)
