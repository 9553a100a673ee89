"""The harness's own hot paths, timed by pytest-benchmark (run by scripts/nightly.sh, never in CI's tests).

    .venv/bin/python -m pytest benchmarks/harness -q --benchmark-json=harness.json

The JSON goes to ``storagebench publish --harness-benchmarks``, whose "harness health" page tracks each
path night by night like any store: a slower key chooser or timing proxy shows up there first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from storagebench.adapters.null.adapter import NullAdapter
from storagebench.workloads import generators
from storagebench.workloads.spec import resolve
from storagebench.workloads.values import Values

from storagebench.measuring.measurement import Recorder, TimedAdapter, decode, encode, new_histogram, record_many

SPEC = resolve("a", {"recordcount": 100_000})
BATCH = 1000


def test_key_generation(benchmark: Any) -> None:
    """Choose and name a batch of zipfian keys (YCSB A)."""
    rng = np.random.default_rng(1)
    chooser = generators.KeyChooser(SPEC, generators.AcknowledgedCounter(SPEC.recordcount), rng, 0, 1)
    _, names = benchmark(lambda: chooser.batch(BATCH))
    assert names is not None and len(names) == BATCH


def test_value_generation_and_check(benchmark: Any) -> None:
    """Build a record's values and verify them, as every insert and read does."""
    values = Values(SPEC, 42, writer=1)

    def one() -> Any:
        record = values.write("user123")
        return values.mismatch("user123", record, None)

    assert benchmark(one) is None


def test_timing_proxy(benchmark: Any) -> None:
    """One read through the timing proxy on the null adapter: the harness's per-operation cost."""
    adapter = NullAdapter()
    adapter.connect()
    timed = TimedAdapter(adapter, Recorder())
    benchmark(timed.read, "sbench_bench", "user1")
    assert timed.recorder.done > 0  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def encoded() -> list[str]:
    rng = np.random.default_rng(2)
    out = []
    for _ in range(8):
        hist = new_histogram()
        record_many(hist, rng.integers(1_000, 5_000_000, 10_000))
        out.append(encode(hist))
    return out


def test_histogram_merge(benchmark: Any, encoded: list[str]) -> None:
    """Decode and merge eight workers' histograms, as the runner does per operation and status."""

    def merge() -> int:
        total = new_histogram()
        for text in encoded:
            total.add(decode(text))
        return int(total.get_total_count())

    assert benchmark(merge) == 80_000
