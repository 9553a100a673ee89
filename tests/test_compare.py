"""`storagebench compare`: a rank test AND a minimum effect, direction-aware, same machine and engine only."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from storagebench.report.cells import sample_row
from storagebench.report.compare import compare_cell, mann_whitney_greater, to_markdown


def test_exact_mann_whitney_matches_the_u_distribution() -> None:
    # complete separation of 3 vs 3: only 1 of C(6, 3) = 20 arrangements is as extreme
    assert mann_whitney_greater([4, 5, 6], [1, 2, 3]) == pytest.approx(1 / 20)
    assert mann_whitney_greater([1, 2, 3], [4, 5, 6]) == pytest.approx(1.0)
    assert mann_whitney_greater([1, 4, 6], [2, 3, 5]) == pytest.approx(0.5)  # U = 5: 10 of 20 at least as big
    # big samples: the normal approximation, tie-corrected
    assert mann_whitney_greater([2.0] * 30 + [3.0] * 30, [1.0] * 30 + [2.0] * 30) < 1e-3
    assert 0.4 < mann_whitney_greater([1.0, 2.0] * 30, [2.0, 1.0] * 30) <= 0.6


def _samples(values: list[float], metric: str = "throughput", **extra: Any) -> pd.DataFrame:
    base = sample_row({})
    rows = []
    for v in values:
        row = {**base, "store": "s", "workload": "a", "phase": "run", "status": "ok", "fingerprint": "m1",
               "engine": "E 1", metric: v}
        row.update(extra)
        rows.append(row)
    return pd.DataFrame(rows)


def test_direction_effect_and_significance_decide_together() -> None:
    before = _samples([100, 101, 99, 100, 102])
    slower = compare_cell("s", "a", "throughput", before, _samples([80, 81, 79, 80, 82]), 0.05, 0.05)
    assert slower.verdict == "regression" and slower.change == pytest.approx(-0.2, abs=0.01)
    assert slower.change_low is not None and slower.change_low <= slower.change <= (slower.change_high or 0)
    faster = compare_cell("s", "a", "throughput", before, _samples([120, 121, 119, 120, 122]), 0.05, 0.05)
    assert faster.verdict == "improvement"
    # latency: higher is worse
    lat = compare_cell("s", "a", "p99", _samples([10, 11, 10, 12, 11], "p99"), _samples([20, 21, 22, 20, 21], "p99"),
                       0.05, 0.05)
    assert lat.verdict == "regression"
    # significant but tiny: below the minimum effect
    tiny = compare_cell("s", "a", "throughput", before, _samples([98, 98.5, 97, 98, 99]), 0.05, 0.05)
    assert tiny.verdict == "unchanged" and "minimum effect" in tiny.why
    # big but 2 vs 2 can never be significant: inconclusive, not an alarm
    few = compare_cell("s", "a", "throughput", _samples([100, 100]), _samples([50, 50]), 0.05, 0.05)
    assert few.verdict == "inconclusive"
    # the minimum effect is a factor either way: throughput at a fifth is a 400 % effect, like 5x the latency
    fifth = compare_cell("s", "a", "throughput", before, _samples([20, 20.2, 19.8, 20.1, 20.4]), 3.0, 0.01)
    assert fifth.verdict == "regression" and fifth.change == pytest.approx(-0.8, abs=0.01)
    assert compare_cell("s", "a", "throughput", before, _samples([34, 34.1, 33, 34.2, 35]), 3.0, 0.01).verdict == \
        "unchanged"  # under 4x either way


def test_other_machine_or_engine_is_not_comparable_and_failure_is_a_regression() -> None:
    before = _samples([100, 101, 99])
    other = compare_cell("s", "a", "throughput", before, _samples([50, 51, 49], fingerprint="m2"), 0.05, 0.05)
    assert other.verdict == "not comparable" and "machine" in other.why
    upgraded = compare_cell("s", "a", "throughput", before, _samples([50, 51, 49], engine="E 2"), 0.05, 0.05)
    assert upgraded.verdict == "not comparable" and "engine" in upgraded.why
    failed = compare_cell("s", "a", "throughput", before,
                          _samples([math.nan], status="invalid", reason="read mismatch"), 0.05, 0.05)
    assert failed.verdict == "regression" and "read mismatch" in failed.why
    assert "| regression |" in to_markdown([failed], "t")


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import os

    from storagebench.cli import main

    base = tmp_path_factory.mktemp("cmp")
    os.environ["STORAGEBENCH_SQLITE_PATH"] = str(base / "s.db")
    try:
        for i in (1, 2, 3):
            assert main(["run", "--stores", "sqlite", "--workloads", "c", "--results-dir", str(base / "a"),
                         "--run-id", f"r{i}", "--no-report", "-p", "recordcount=50", "-p", "operationcount=200"]) == 0
    finally:
        del os.environ["STORAGEBENCH_SQLITE_PATH"]
    return base


def test_cli_writes_markdown_and_json_and_fails_on_regression(night: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from storagebench.cli import main

    # B: the same night with throughput divided by ten in every result file
    b = night / "b"
    for path in (night / "a").rglob("*__*__*.json"):
        data = json.loads(path.read_text())
        if data["phase"] == "run":
            data = copy.deepcopy(data)
            data["totals"]["ops_per_sec"] /= 10
        target = b / path.relative_to(night / "a")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(data))
    md, js = night / "c.md", night / "c.json"
    assert main(["compare", str(night / "a"), str(night / "a"), "--fail-on-regression"]) == 0
    assert main(["compare", str(night / "a"), str(b), "--markdown", str(md), "--json", str(js),
                 "--fail-on-regression"]) == 1
    changes = json.loads(js.read_text())["changes"]
    assert [(c["store"], c["metric"]) for c in changes if c["verdict"] == "regression"] == [("sqlite", "throughput")]
    assert "| regression | sqlite | c | throughput |" in md.read_text()
    assert main(["compare", str(night / "a"), str(night / "missing")]) == 2
    assert "no such run folder" in capsys.readouterr().err
