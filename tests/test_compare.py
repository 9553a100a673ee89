"""`storagebench compare`: the decision rule (rank test, Holm, interval with its coverage, minimum effect raised to the
machine's own change), direction-aware, same machine and engine only."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from storagebench.report.compare import (
    Change,
    MachineChange,
    Side,
    decide,
    holm,
    machine_change,
    mann_whitney_greater,
    ratio_interval,
    smallest_p,
)


def test_exact_mann_whitney_matches_the_u_distribution() -> None:
    # complete separation of 3 vs 3: only 1 of C(6, 3) = 20 arrangements is as extreme
    assert mann_whitney_greater([4, 5, 6], [1, 2, 3]) == pytest.approx(1 / 20)
    assert mann_whitney_greater([1, 2, 3], [4, 5, 6]) == pytest.approx(1.0)
    assert mann_whitney_greater([1, 4, 6], [2, 3, 5]) == pytest.approx(0.5)  # U = 5: 10 of 20 at least as big
    # ties are counted exactly: 6 equal values against 6 equal values separate completely (1 of 924)
    assert mann_whitney_greater([2.0] * 6, [1.0] * 6) == pytest.approx(1 / 924)
    # big samples: the normal approximation, tie-corrected
    assert mann_whitney_greater([2.0] * 30 + [3.0] * 30, [1.0] * 30 + [2.0] * 30) < 1e-3
    assert 0.4 < mann_whitney_greater([1.0, 2.0] * 30, [2.0, 1.0] * 30) <= 0.6


def _side(values: Sequence[float], status: str = "ok", reason: str = "", machine: str = "m1",
          engine: str = "E 1") -> Side:
    return Side(tuple(values), len(values), status, reason, (machine,), (engine,), "ops/s")


def _one(a: Side, b: Side, metric: str = "throughput", min_effect: float = 0.05, alpha: float = 0.05,
         machine: MachineChange | None = None) -> Change:
    return decide({("s", "a", metric): (a, b)}, machine or MachineChange(), min_effect, alpha)[0]


BEFORE = [100, 101, 99, 100, 102, 98]


def test_direction_effect_and_significance_decide_together() -> None:
    slower = _one(_side(BEFORE), _side([80, 81, 79, 80, 82, 78]))
    assert slower.verdict == "regression" and slower.change == pytest.approx(-0.2, abs=0.01)
    assert slower.change_low is not None and slower.change_low <= slower.change <= (slower.change_high or 0)
    assert _one(_side(BEFORE), _side([120, 121, 119, 120, 122, 118])).verdict == "improvement"
    # latency: higher is worse
    small = _one(_side([10, 11, 10, 12, 11, 10]), _side([18, 19, 18, 19, 18, 19]), "p99")
    assert small.verdict == "unchanged" and "under the p99 floor of 10.0 µs" in small.why  # +7.5 µs: below 10 µs
    assert _one(_side([100, 110, 100, 120, 110, 100]), _side([200, 210, 220, 200, 210, 230]), "p99").verdict == \
        "regression"
    # significant but tiny, the whole interval inside the minimum effect: unchanged
    tiny = _one(_side(BEFORE), _side([98, 98.5, 97, 98, 99, 97.5]))
    assert tiny.verdict == "unchanged" and "minimum effect" in tiny.why
    # big but 2 vs 2 can never be significant: inconclusive, not an alarm
    assert _one(_side([100, 100]), _side([50, 50])).verdict == "inconclusive"
    # the minimum effect is a factor either way: throughput at a fifth is a 400 % effect, like 5x the latency
    fifth = _one(_side(BEFORE), _side([20, 20.2, 19.8, 20.1, 20.4, 19.9]), min_effect=3.0)
    assert fifth.verdict == "regression" and fifth.change == pytest.approx(-0.8, abs=0.01)
    assert _one(_side(BEFORE), _side([34, 34.1, 33, 34.2, 35, 33.5]), min_effect=3.0).verdict == "unchanged"


def test_small_change_with_a_wide_interval_is_inconclusive_not_unchanged() -> None:
    # issue 23's case: a change under 5 % whose interval spans -67 % .. +142 %
    wide = _one(_side([30, 100, 240]), _side([80, 103, 250]))
    assert abs(wide.change or 1) < 0.05 and wide.verdict == "inconclusive"
    assert "reaches beyond" in wide.why and f"({wide.coverage:.0%})" in wide.why
    assert wide.coverage == pytest.approx(0.9)  # 3 vs 3: the full range of the 9 ratios covers 1 - 2/20


def test_interval_coverage_is_computed_from_the_u_distribution() -> None:
    low, high, coverage = ratio_interval([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1.5, 2.5, 3.5, 4.5, 5.5, 6.5])
    assert 0.95 <= coverage < 0.97 and low < 1.1 < high  # 6 vs 6: the 95 % interval exists, its coverage exact
    assert ratio_interval([1.0, 2.0], [1.0, 2.0])[2] == pytest.approx(1 - 2 / 6)  # 2 vs 2: 67 %, said so
    assert smallest_p(6, 6) == pytest.approx(2 / 924) and smallest_p(5, 5) == pytest.approx(2 / 252)


def test_holm_adjusts_step_down() -> None:
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    # 16 series at 6 repeats: one complete separation survives, p 0.00216 x 16 = 0.035
    p = [2 / 924] + [0.5] * 15
    assert holm(p)[0] == pytest.approx(16 * 2 / 924) and holm(p)[0] < 0.05


def test_machine_change_from_the_probes_raises_the_floor() -> None:
    a = {"cpu_loops_per_sec": 2.0e7, "fsync_p50_us": 150.0, "busy_cores": 1.65}
    b = {"cpu_loops_per_sec": 1.9e7, "fsync_p50_us": 500.0, "busy_cores": 2.4}  # fsync: shown, not applied
    moved = machine_change(a, b)
    assert moved.figure == "busy_cores" and moved.factor == pytest.approx(2.4 / 1.65)
    assert "load average per core 1.65 → 2.40" in moved.describe()
    slower = _side([70, 71, 69, 70, 72, 68])  # 30 % slower, inside the machine's 1.45x
    assert _one(_side(BEFORE), slower).verdict == "regression"
    busy = _one(_side(BEFORE), slower, machine=moved)
    assert busy.verdict == "inconclusive" and "machine's own change" in busy.why
    assert busy.floor == pytest.approx(2.4 / 1.65 - 1)


def test_other_machine_or_engine_is_not_comparable_and_failure_is_a_regression() -> None:
    before = _side([100, 101, 99])
    other = _one(before, _side([50, 51, 49], machine="m2"))
    assert other.verdict == "not comparable" and "machine" in other.why
    upgraded = _one(before, _side([50, 51, 49], engine="E 2"))
    assert upgraded.verdict == "not comparable" and "engine" in upgraded.why
    failed = _one(before, _side([], status="invalid", reason="read mismatch"))
    assert failed.verdict == "regression" and "read mismatch" in failed.why
