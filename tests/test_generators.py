"""Workload generators: distribution shapes, op mix, determinism, YCSB property files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from storagebench.workloads.generators import (
    OPERATIONS,
    AcknowledgedCounter,
    KeyChooser,
    KeyNamer,
    OperationStream,
    Zipfian,
    fnvhash64,
    load_range,
)
from storagebench.workloads.spec import WorkloadSpec, builtin_names, load_file, parse_overrides, resolve

from storagebench.errors import UsageError

YCSB_WORKLOADA = """# Yahoo! Cloud System Benchmark
# Workload A: Update heavy workload
recordcount=1000
operationcount=1000
workload=site.ycsb.workloads.CoreWorkload

readallfields=true

readproportion=0.5
updateproportion=0.5
scanproportion=0
insertproportion=0

requestdistribution=zipfian
"""


def spec(**kw: object) -> WorkloadSpec:
    return WorkloadSpec.model_validate({"name": "t", **kw})


def test_fnvhash64_matches_ycsb() -> None:
    # values of YCSB's Utils.fnvhash64(0) and (1), computed with Java long arithmetic
    got = fnvhash64(np.array([0, 1], dtype=np.int64)).tolist()
    basis, prime, mask = 0xCBF29CE484222325, 1099511628211, (1 << 64) - 1

    def java(v: int) -> int:
        h = basis
        for _ in range(8):
            h = ((h ^ (v & 0xFF)) * prime) & mask
            v >>= 8
        signed = h - (1 << 64) if h >= 1 << 63 else h
        return abs(signed)

    assert got == [java(0), java(1)]


def test_zipfian_is_skewed_like_theory() -> None:
    rng = np.random.default_rng(1)
    z = Zipfian(1000, 0.99)
    draws = z.sample(rng, 200_000)
    counts = np.bincount(draws, minlength=1000)
    expected = (1 / np.arange(1, 1001) ** 0.99) / np.sum(1 / np.arange(1, 1001) ** 0.99)
    # Gray et al.'s generator (YCSB's) is exact for the two most popular items, approximate after
    for i in range(2):
        assert counts[i] / draws.size == pytest.approx(expected[i], rel=0.03)
    assert counts[:10].sum() / draws.size == pytest.approx(expected[:10].sum(), rel=0.1)
    assert counts[500:].sum() / draws.size < 0.15
    assert draws.min() >= 0 and draws.max() < 1000


def test_scrambled_zipfian_spreads_hot_keys_over_the_range() -> None:
    s = spec(recordcount=1000, requestdistribution="zipfian")
    keys, _ = KeyChooser(s, AcknowledgedCounter(1000), np.random.default_rng(2)).batch(100_000)
    counts = np.bincount(keys, minlength=1000)
    hottest = np.argsort(counts)[-10:]
    assert keys.max() < 1000
    assert counts.max() / keys.size > 0.03  # skewed
    assert np.ptp(hottest) > 100  # but the hot keys are not the first ten: scrambled


def test_latest_favours_recent_keys() -> None:
    s = spec(recordcount=1000, requestdistribution="latest", insertorder="ordered")
    counter = AcknowledgedCounter(1000)
    for _ in range(500):
        counter.acknowledge(counter.next())
    chooser = KeyChooser(s, counter, np.random.default_rng(3))
    chooser.batch(1000)
    keys = np.array([int(chooser.key(i).removeprefix("user")) for i in range(1000)])
    assert keys.max() <= 1499
    assert np.mean(keys >= 1490) > 0.3


def test_hotspot_fractions() -> None:
    s = spec(recordcount=1000, requestdistribution="hotspot", hotspotdatafraction=0.2, hotspotopnfraction=0.8)
    keys, _ = KeyChooser(s, AcknowledgedCounter(1000), np.random.default_rng(4)).batch(100_000)
    assert np.mean(keys < 200) == pytest.approx(0.8, abs=0.01)


def test_uniform_is_flat() -> None:
    keys, _ = KeyChooser(spec(recordcount=100), AcknowledgedCounter(100), np.random.default_rng(5)).batch(100_000)
    counts = np.bincount(keys, minlength=100)
    assert counts.min() > 800 and counts.max() < 1200


def test_operation_mix_follows_proportions() -> None:
    s = spec(readproportion=0.5, updateproportion=0.2, insertproportion=0.1, scanproportion=0.1,
             deleteproportion=0.1)
    ops = OperationStream(s, 7, 0, 1).batch(100_000).ops
    share = np.bincount(ops, minlength=len(OPERATIONS)) / ops.size
    for op, want in s.proportions().items():
        assert share[OPERATIONS.index(op)] == pytest.approx(want, abs=0.01)


def test_streams_are_deterministic_from_seed() -> None:
    s = resolve("a")
    a1, a2 = OperationStream(s, 42, 0, 2).batch(500), OperationStream(s, 42, 0, 2).batch(500)
    b = OperationStream(s, 43, 0, 2).batch(500)
    assert np.array_equal(a1.ops, a2.ops) and np.array_equal(a1.keynums, a2.keynums)
    assert not np.array_equal(a1.keynums, b.keynums)


def test_scan_lengths_within_bounds() -> None:
    s = spec(scanproportion=1.0, readproportion=0, updateproportion=0, minscanlength=5, maxscanlength=9)
    lens = OperationStream(s, 1, 0, 1).batch(10_000).scanlens
    assert lens.min() == 5 and lens.max() == 9


def test_hashed_and_ordered_key_names() -> None:
    hashed = KeyNamer(spec()).names(np.arange(3))
    ordered = KeyNamer(spec(insertorder="ordered", zeropadding=5)).names(np.arange(3))
    assert ordered == ["user00000", "user00001", "user00002"]
    assert all(k.startswith("user") for k in hashed) and hashed != sorted(hashed)


def test_load_ranges_partition_the_records() -> None:
    parts = [load_range(spec(recordcount=1003), w, 4) for w in range(4)]
    assert sum(len(p) for p in parts) == 1003
    assert [p.start for p in parts] == [0, 251, 502, 753] and parts[-1].stop == 1003


def test_ycsb_properties_file(tmp_path: Path) -> None:
    path = tmp_path / "workloada"
    path.write_text(YCSB_WORKLOADA)
    s = load_file(path, parse_overrides(["recordcount=5000"]))
    assert s.name == "a" and s.recordcount == 5000 and s.operationcount == 1000
    assert s.readproportion == 0.5 and s.requestdistribution == "zipfian"


def test_unknown_property_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("readproportion: 1.0\nbogusfield: 3\n")
    with pytest.raises(UsageError, match="bogusfield"):
        load_file(path)


@pytest.mark.parametrize("bad", ["recordcount=-1", "readproportion=1.5", "requestdistribution=gauss"])
def test_bad_values_are_rejected(bad: str) -> None:
    with pytest.raises(UsageError):
        resolve("a", parse_overrides([bad]))


def test_every_builtin_workload_loads() -> None:
    names = builtin_names()
    assert {"a", "b", "c", "d", "e", "f", "delete", "query"} <= set(names)
    for name in names:
        assert resolve(name).name == name
