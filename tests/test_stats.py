"""Statistics the report relies on: intervals that cover at their stated rate, ties, steady state."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from storagebench.analysis import stats


@pytest.mark.parametrize("n", [5, 6, 9, 15, 30])
def test_median_interval_covers_the_true_median_at_its_stated_rate(n: int) -> None:
    """Over many synthetic samples of a skewed distribution (lognormal, true median 1), the share of
    intervals that contain the true median matches the coverage each interval states."""
    rng = np.random.default_rng(n)
    trials = 4000
    hits = 0
    coverage = 0.0
    for _ in range(trials):
        iv = stats.median_interval(rng.lognormal(0.0, 1.0, n))
        hits += iv.lo <= 1.0 <= iv.hi
        coverage = iv.coverage
    rate = hits / trials
    tolerance = 4 * np.sqrt(coverage * (1 - coverage) / trials)
    assert abs(rate - coverage) <= tolerance, (n, rate, coverage)
    if n >= 6:
        assert coverage >= 0.95  # from 6 repeats on, the 95 % promise is kept
    else:
        assert coverage == pytest.approx(1 - 2 * 0.5**5)  # 5 repeats: [min, max], 93.75 %, said so


def test_bootstrap_interval_is_seeded_and_contains_the_point() -> None:
    values = [10.0, 12.0, 11.0, 30.0, 9.0, 10.5]
    a = stats.bootstrap_interval(values, seed=3)
    assert a == stats.bootstrap_interval(values, seed=3)
    assert a.lo <= a.median <= a.hi and a.method == "bootstrap"


def _result(store: str, ops: float, *, workload: str = "c", repeat: int = 1) -> dict[str, Any]:
    return {"kind": "storagebench.result", "store": store, "workload": workload, "phase": "run", "status": "ok",
            "repeat": {"index": repeat}, "totals": {"ops_per_sec": ops}, "operations": {}, "histograms": {}}


def test_summarise_marks_overlapping_stores_tied_and_separated_ones_not() -> None:
    results = ([_result("fast", v, repeat=i) for i, v in enumerate([1000, 1010, 990, 1005, 995, 1002])]
               + [_result("close", v, repeat=i) for i, v in enumerate([1001, 1008, 985, 1003, 990, 999])]
               + [_result("slow", v, repeat=i) for i, v in enumerate([500, 510, 490, 505, 495, 502])])
    cells = {c.store: c for c in stats.summarise(results) if c.metric == "ops_per_sec"}
    assert cells["fast"].n == 6 and cells["fast"].lo <= cells["fast"].median <= cells["fast"].hi
    assert cells["fast"].tied_with == ["close"] and cells["close"].tied_with == ["fast"]
    assert cells["slow"].tied_with == []
    assert stats.ranking(list(cells.values()), "c", "run", "ops_per_sec") == [["fast", "close"], ["slow"]]


def test_batch_loads_are_summarised_in_rows_per_second() -> None:
    load = {**_result("s", 2.0), "phase": "load", "duration_s": 4.0, "rows": {"batch_write": 10_000}}
    cells = {c.metric: c for c in stats.summarise([load])}
    assert cells["rows_per_sec"].median == 2500.0 and cells["ops_per_sec"].median == 2.0


def test_summarise_ignores_failed_results_and_uses_steady_state_throughput() -> None:
    ok = _result("s", 100.0)
    ok["steady_state"] = {"reached": True, "ops_per_sec": 150.0}
    failed = {**_result("s", 1.0), "status": "failed"}
    (cell,) = [c for c in stats.summarise([ok, failed]) if c.metric == "ops_per_sec"]
    assert cell.values == [150.0] and cell.n == 1


def test_steady_state_found_after_a_known_warm_up() -> None:
    rng = np.random.default_rng(7)
    warm = 8
    series = np.concatenate([np.linspace(100, 900, warm), rng.normal(1000, 30, 40)]).tolist()
    found = stats.steady_state(series)
    assert found.reached and warm - 1 <= (found.start_s or 0) <= warm + 3
    assert found.ops_per_sec == pytest.approx(1000, rel=0.03)


def test_steady_state_with_long_series_uses_mser5_and_respects_skip() -> None:
    rng = np.random.default_rng(8)
    series = [0, 0, *np.concatenate([np.full(20, 300.0), rng.normal(2000, 50, 100)]).tolist()]
    found = stats.steady_state(series, skip=2)
    assert found.method == "MSER-5" and found.reached and 20 <= (found.start_s or 0) <= 27


def test_a_series_that_keeps_climbing_never_reaches_steady_state() -> None:
    rng = np.random.default_rng(9)
    series = (np.linspace(100, 2000, 30) + rng.normal(0, 20, 30)).tolist()
    found = stats.steady_state(series)
    assert not found.reached and found.start_s is None
    assert not stats.steady_state([5, 6, 7]).reached  # too short to tell: flagged, not guessed
