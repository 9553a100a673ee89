"""Deterministic generators with YCSB's semantics: keys, values, request distributions, op mix.

Everything derives from the seed, so a run is reproducible and any read can be checked against the
value that must be there.  Generators produce NumPy batches: the runner's hot loop then only indexes.

* key names: ``keyprefix`` + (FNV-1a-64 of the key number, as YCSB's ``Utils.fnvhash64``, when
  ``insertorder=hashed``), zero-padded to ``zeropadding`` digits.
* zipfian: YCSB's ``ZipfianGenerator`` (Gray et al.); ``requestdistribution=zipfian`` is YCSB's
  *scrambled* zipfian (item space of 10^10 with the precomputed zeta for constant 0.99, then FNV-hashed
  into the key range).
* latest: YCSB's ``SkewedLatestGenerator`` (most recent insert is most popular).
* hotspot: YCSB's ``HotspotIntegerGenerator``.
* values: ``value(key, field)`` is a slice of a seeded random pool chosen by CRC32 of key and field,
  so updates rewrite the same values (YCSB's dataintegrity idea) and every read is verifiable.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from storagebench.workloads.spec import WorkloadSpec

FNV_OFFSET_BASIS_64 = np.uint64(0xCBF29CE484222325)
FNV_PRIME_64 = np.uint64(1099511628211)

#: YCSB ScrambledZipfianGenerator constants
ZIPF_ITEM_COUNT = 10_000_000_000
ZIPF_ZETAN_099 = 26.46902820178302

OPERATIONS = ("read", "update", "insert", "scan", "read_modify_write", "delete", "query", "graph")


def fnvhash64(values: np.ndarray) -> np.ndarray:
    """YCSB ``Utils.fnvhash64`` over an int64 array (FNV-1 style: xor then multiply, 8 octets)."""
    val = values.astype(np.uint64)
    hashval = np.full(val.shape, FNV_OFFSET_BASIS_64, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for _ in range(8):
            hashval ^= val & np.uint64(0xFF)
            val >>= np.uint64(8)
            hashval *= FNV_PRIME_64
    return np.abs(hashval.view(np.int64))


def zeta(n: int, theta: float, start: int = 0, initial: float = 0.0) -> float:
    """sum_{i=start+1..n} 1/i^theta, plus ``initial`` (incremental, as YCSB's zeta)."""
    total = initial
    chunk = 10_000_000
    for lo in range(start + 1, n + 1, chunk):
        i = np.arange(lo, min(n, lo + chunk - 1) + 1, dtype=np.float64)
        total += float(np.sum(1.0 / np.power(i, theta)))
    return total


class Zipfian:
    """YCSB's ZipfianGenerator over [0, items): item 0 most popular."""

    def __init__(self, items: int, theta: float = 0.99, zetan: float | None = None) -> None:
        self.theta = theta
        self.alpha = 1.0 / (1.0 - theta)
        self.zeta2theta = zeta(2, theta)
        self.items = items
        self.zetan = zeta(items, theta) if zetan is None else zetan
        self._update_eta()

    def _update_eta(self) -> None:
        self.eta = (1 - np.power(2.0 / self.items, 1 - self.theta)) / (1 - self.zeta2theta / self.zetan)

    def grow(self, items: int) -> None:
        """Extend the item space (YCSB recomputes zeta incrementally when the count grows)."""
        if items > self.items:
            self.zetan = zeta(items, self.theta, self.items, self.zetan)
            self.items = items
            self._update_eta()

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        u = rng.random(size)
        uz = u * self.zetan
        out = (self.items * np.power(self.eta * u - self.eta + 1, self.alpha)).astype(np.int64)
        out = np.where(uz < 1.0 + np.power(0.5, self.theta), 1, out)
        out = np.where(uz < 1.0, 0, out)
        return np.minimum(out, self.items - 1)


class KeyChooser:
    """Chooses existing key numbers for reads/updates/scans/deletes per ``requestdistribution``."""

    def __init__(self, spec: WorkloadSpec, expected_new_keys: int) -> None:
        self.spec = spec
        self.count = spec.recordcount
        dist = spec.requestdistribution
        if dist == "zipfian":
            space = max(1, spec.recordcount + expected_new_keys)
            if spec.zipfianconstant == 0.99:
                self.zipf = Zipfian(ZIPF_ITEM_COUNT, 0.99, ZIPF_ZETAN_099)
            else:
                self.zipf = Zipfian(ZIPF_ITEM_COUNT // 1000, spec.zipfianconstant)
            self.space = space
        elif dist == "latest":
            self.zipf = Zipfian(max(1, spec.recordcount), spec.zipfianconstant)

    def sample(self, rng: np.random.Generator, size: int, latest: int) -> np.ndarray:
        """``latest`` is the highest key number known to be inserted."""
        spec, n = self.spec, max(1, self.count)
        dist = spec.requestdistribution
        if dist == "uniform":
            keys = rng.integers(0, n, size)
        elif dist == "zipfian":
            keys = fnvhash64(self.zipf.sample(rng, size)) % self.space
            # YCSB retries keys not inserted yet; fold them back into the loaded range instead
            keys = np.where(keys > latest, keys % n, keys)
        elif dist == "latest":
            self.zipf.grow(latest + 1)
            keys = latest - self.zipf.sample(rng, size)
        else:  # hotspot
            hot = int(n * spec.hotspotdatafraction)
            cold = n - hot
            is_hot = rng.random(size) < spec.hotspotopnfraction
            hot_keys = rng.integers(0, max(hot, 1), size)
            cold_keys = hot + rng.integers(0, max(cold, 1), size)
            keys = np.where(is_hot | (cold == 0), hot_keys, cold_keys)
        return np.clip(keys, 0, None).astype(np.int64)


class KeyNamer:
    def __init__(self, spec: WorkloadSpec) -> None:
        self.prefix = spec.keyprefix
        self.padding = spec.zeropadding
        self.hashed = spec.insertorder == "hashed"

    def names(self, keynums: np.ndarray) -> list[str]:
        nums = fnvhash64(keynums) if self.hashed else keynums
        prefix, pad = self.prefix, self.padding
        if pad <= 1:
            return [prefix + str(n) for n in nums.tolist()]
        return [prefix + str(n).zfill(pad) for n in nums.tolist()]

    def name(self, keynum: int) -> str:
        return self.names(np.array([keynum], dtype=np.int64))[0]


class ValueFactory:
    """Deterministic field values: verifiable reads without storing what was written."""

    POOL = 1 << 16

    def __init__(self, spec: WorkloadSpec, seed: int) -> None:
        rng = np.random.default_rng([seed, 0xDA7A])
        letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", dtype=np.uint8)
        self.length = spec.fieldlength
        self.pool = letters[rng.integers(0, len(letters), self.POOL + self.length)].tobytes().decode()
        self.fields = spec.field_names()
        self.query = spec.queryproportion > 0 or spec.kind == "batch"
        self.queryfield, self.sumfield, self.groups = spec.queryfield, spec.querysumfield, spec.querygroups
        self.graph = spec.graphproportion > 0
        self.links_field, self.degree = spec.links_field(), spec.graphdegree
        self.records = max(1, spec.recordcount)
        self.namer = KeyNamer(spec)

    def links(self, key: str) -> list[str]:
        """The loaded records ``key`` links to (deterministic, so a traversal can be verified)."""
        nums = [zlib.crc32(f"{key}/link{i}".encode()) % self.records for i in range(self.degree)]
        return self.namer.names(np.array(nums, dtype=np.int64))

    def reachable(self, key: str, hops: int) -> set[str]:
        """What ``Adapter.neighbors`` must answer when every loaded record is present."""
        seen, frontier = {key}, [key]
        for _ in range(hops):
            following = []
            for node in frontier:
                for target in self.links(node):
                    if target not in seen:
                        seen.add(target)
                        following.append(target)
            frontier = following
        seen.discard(key)
        return seen

    def value(self, key: str, field: str) -> str:
        if self.graph and field == self.links_field:
            return ",".join(self.links(key))
        h = zlib.crc32(f"{key}/{field}".encode())
        if self.query:
            if field == self.queryfield:
                return self.group_value(h % self.groups)
            if field == self.sumfield:
                return str(h % 1000)
        off = h % self.POOL
        return self.pool[off:off + self.length]

    def group_value(self, group: int) -> str:
        return f"g{group:04d}"

    def record(self, key: str, fields: Sequence[str] | None = None) -> dict[str, str]:
        return {f: self.value(key, f) for f in (fields or self.fields)}

    def mismatch(self, key: str, got: Mapping[str, str], fields: Sequence[str] | None) -> str | None:
        """None if ``got`` is exactly what must be stored for ``key``; else what differs."""
        expected = fields if fields is not None else self.fields
        if set(got) != set(expected):
            return f"{key}: fields {sorted(got)} != expected {sorted(expected)}"
        for f in expected:
            if got[f] != self.value(key, f):
                return f"{key}: {f} differs from the value written"
        return None


@dataclass
class OpBatch:
    ops: np.ndarray        # indexes into OPERATIONS
    keynums: np.ndarray    # key number for read/update/scan/delete/rmw; ignored for insert
    scanlens: np.ndarray


class OperationStream:
    """One worker's run-phase operations, in batches; deterministic from (seed, worker)."""

    def __init__(self, spec: WorkloadSpec, seed: int, worker: int, workers: int) -> None:
        self.spec = spec
        self.rng = np.random.default_rng([seed, 0x0B5, worker])
        props = spec.proportions()
        weights = np.array([props[op] for op in OPERATIONS], dtype=np.float64)
        self.cdf = np.cumsum(weights / weights.sum()) if weights.sum() > 0 else np.ones(len(OPERATIONS))
        expected_new = int(spec.operationcount * spec.insertproportion * 2.0)
        self.chooser = KeyChooser(spec, expected_new)
        self.worker, self.workers = worker, workers
        self.inserted = 0  # inserts by this worker so far
        if spec.scanlengthdistribution == "zipfian":
            self.scanzipf = Zipfian(spec.maxscanlength - spec.minscanlength + 1, spec.zipfianconstant)

    def next_insert_keynum(self) -> int:
        """Run-phase inserts: worker w takes recordcount + w, + workers, ... (no two workers collide)."""
        keynum = self.spec.recordcount + self.worker + self.inserted * self.workers
        self.inserted += 1
        return keynum

    def latest(self) -> int:
        """Highest key number inserted (estimated across workers from this worker's own inserts)."""
        return max(0, self.spec.recordcount - 1 + self.inserted * self.workers)

    def batch(self, size: int) -> OpBatch:
        ops = np.searchsorted(self.cdf, self.rng.random(size), side="right").clip(0, len(OPERATIONS) - 1)
        keynums = self.chooser.sample(self.rng, size, self.latest())
        spec = self.spec
        if spec.scanlengthdistribution == "uniform":
            scanlens = self.rng.integers(spec.minscanlength, spec.maxscanlength + 1, size)
        else:
            scanlens = spec.minscanlength + self.scanzipf.sample(self.rng, size)
        return OpBatch(ops, keynums, scanlens)

    def query_group(self) -> int:
        return int(self.rng.integers(0, self.spec.querygroups))


def load_range(recordcount: int, worker: int, workers: int) -> range:
    """The key numbers worker ``worker`` inserts in the load phase (contiguous slices, as YCSB's insertstart)."""
    per, extra = divmod(recordcount, workers)
    start = worker * per + min(worker, extra)
    return range(start, start + per + (1 if worker < extra else 0))
