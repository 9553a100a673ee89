"""Measurement: percentiles from known latencies, exact merges, the timing proxy's statuses."""

from __future__ import annotations

import numpy as np
import pytest
from storagebench.adapters.null.adapter import NullAdapter
from storagebench.adapters.sqlite.adapter import SQLiteAdapter

from storagebench.measuring.measurement import (
    HIGHEST_NS,
    LOWEST_NS,
    Recorder,
    TimedAdapter,
    decode,
    encode,
    merge_exports,
    new_histogram,
    record_many,
    summarize,
)


def test_known_latencies_give_the_right_percentiles() -> None:
    rec = Recorder()
    for us in range(1, 1001):  # 1..1000 µs, once each
        rec.add("read", "OK", 0, us * 1000)
    rec.flush()
    stats = summarize(rec.histograms[("read", "OK")], 1.0)
    assert stats["count"] == 1000
    assert stats["p50_us"] == pytest.approx(500, rel=0.002)
    assert stats["p99_us"] == pytest.approx(990, rel=0.002)
    assert stats["max_us"] == pytest.approx(1000, rel=0.002)
    assert stats["mean_us"] == pytest.approx(500.5, rel=0.002)


def test_two_workers_merge_exactly() -> None:
    a, b = Recorder(), Recorder()
    for i in range(1, 5001):
        a.add("read", "OK", 0, i * 997)
        b.add("read", "OK", 0, i * 1013 + 7)
    b.add("update", "ERROR", 0, 42)
    merged = merge_exports([a.export(), b.export()])
    reads = merged["histograms"]["read|OK"]
    assert reads.get_total_count() == 10_000
    single = Recorder()
    for i in range(1, 5001):
        single.add("read", "OK", 0, i * 997)
        single.add("read", "OK", 0, i * 1013 + 7)
    single.flush()
    ref = single.histograms[("read", "OK")]
    for p in (50, 90, 99, 99.9, 100):
        assert reads.get_value_at_percentile(p) == ref.get_value_at_percentile(p)
    assert merged["histograms"]["update|ERROR"].get_total_count() == 1


def test_encoding_round_trips() -> None:
    rec = Recorder()
    rec.add("scan", "OK", 0, 123_456)
    export = rec.export()
    assert decode(export["histograms"]["scan|OK"]).get_total_count() == 1


def test_warmup_operations_are_not_measured() -> None:
    rec = Recorder(measuring=False)
    rec.add("read", "OK", 0, 10)
    rec.measuring = True
    rec.add("read", "OK", 0, 20)
    rec.flush()
    assert rec.histograms[("read", "OK")].get_total_count() == 1
    assert rec.done == 2


def test_proxy_records_statuses(tmp_path: object) -> None:
    rec = Recorder()
    adapter = SQLiteAdapter({"path": f"{tmp_path}/p.db"})
    adapter.connect()
    adapter.prepare("sbench_p", ["field0"])
    proxy = TimedAdapter(adapter, rec)
    proxy.insert("sbench_p", "k", {"field0": "v"})
    assert proxy.read("sbench_p", "k") == {"field0": "v"}
    assert proxy.read("sbench_p", "missing") is None
    proxy.insert("sbench_p", "k", {"field0": "v"})  # duplicate key: counted as an error with its reason
    rec.flush()
    counts = {k: h.get_total_count() for k, h in rec.histograms.items()}
    assert counts == {("insert", "OK"): 1, ("read", "OK"): 1, ("read", "NOT_FOUND"): 1, ("insert", "ERROR"): 1}
    assert any("insert" in m for m in rec.errors)
    adapter.close()


def test_intended_latency_includes_queueing() -> None:
    rec = Recorder(intended=True)
    proxy = TimedAdapter(NullAdapter(), rec)
    proxy.intended_ns = 1  # an operation that should have started long ago
    proxy.read("sbench_x", "k")
    rec.flush()
    actual = rec.histograms[("read", "OK")].get_max_value()
    intended = rec.intended_histograms[("read", "OK")].get_max_value()
    assert intended > actual


def test_series_counts_each_second_and_failed_checks_land_in_their_second() -> None:
    s = 1_000_000_000
    rec = Recorder()
    rec.start(10 * s)
    rec.add("read", "OK", 10 * s, 10 * s + 5)  # second 0
    rec.add("read", "NOT_FOUND", 10 * s, 10 * s + 9)  # second 0, not a failure
    rec.add("read", "OK", 12 * s, 12 * s + 1)  # second 2 (second 1 had nothing)
    rec.add("update", "ERROR", 12 * s, 12 * s + 2)  # second 2, a failure
    rec.add("read", "OK", 13 * s, 13 * s + 3)  # second 3
    rec.fail_last("read", "read of k: wrong data")  # the last read (second 3) answered wrongly
    assert rec.series_ops == [2, 0, 2, 1]
    assert rec.series_errors == [0, 0, 1, 1]
    assert (rec.done, rec.failed) == (5, 2)
    rec.flush()
    assert rec.histograms[("read", "OK")].get_total_count() == 2
    assert rec.histograms[("read", "UNEXPECTED")].get_total_count() == 1
    rec.start(20 * s)  # a new clock: seconds count from it again
    rec.add("read", "OK", 20 * s, 20 * s + 1)
    assert rec.series_ops == [3, 0, 2, 1]


def test_batched_recording_lands_in_hdrh_own_buckets() -> None:
    # the vectorised record_many against hdrh's record_value, value by value: same counts, same figures,
    # at bucket edges (powers of two), the clamps, and latencies from nanoseconds to an hour
    rng = np.random.default_rng(3)
    edges = [0, 1, 2047, 2048, 2049, 2**20 - 1, 2**20, 2**33 + 1, LOWEST_NS, HIGHEST_NS, HIGHEST_NS * 10]
    values = np.concatenate([rng.lognormal(np.log(30_000), 3, 20_000).astype(np.int64), edges])
    batched, one_by_one = new_histogram(), new_histogram()
    record_many(batched, values)
    for v in np.clip(values, LOWEST_NS, HIGHEST_NS).tolist():
        one_by_one.record_value(v)
    assert encode(batched) == encode(one_by_one)
    assert (batched.total_count, batched.min_value, batched.max_value) == \
        (one_by_one.total_count, one_by_one.min_value, one_by_one.max_value)
    for p in (50, 99, 99.99, 100):
        assert batched.get_value_at_percentile(p) == one_by_one.get_value_at_percentile(p)
