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

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from storagebench.workloads.spec import WorkloadSpec

FNV_OFFSET_BASIS_64 = np.uint64(0xCBF29CE484222325)
FNV_PRIME_64 = np.uint64(1099511628211)

#: YCSB ScrambledZipfianGenerator constants
ZIPF_ITEM_COUNT = 10_000_000_000
ZIPF_ZETAN_099 = 26.46902820178302

OPERATIONS = ("read", "update", "insert", "scan", "read_modify_write", "delete", "query", "graph",
              "shortest_path", "join", "find", "update_nested", "find_range")


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


def fnvhash64_one(value: int) -> int:
    """:func:`fnvhash64` of one number, without NumPy's per-call cost."""
    h = 0xCBF29CE484222325
    for _ in range(8):
        h = ((h ^ (value & 0xFF)) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
        value >>= 8
    if h == 1 << 63:  # Java's Math.abs(Long.MIN_VALUE), as NumPy's abs gives too
        return -h
    return (1 << 64) - h if h > 1 << 63 else h


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


WINDOW = 1 << 20  # YCSB AcknowledgedCounterGenerator.WINDOW_SIZE
_WINDOW_MASK = WINDOW - 1


class AcknowledgedCounter:
    """YCSB's ``AcknowledgedCounterGenerator``, one for every worker of a phase.

    ``next()`` hands out the key number of the next run-phase insert (YCSB: ``recordcount``, then up);
    ``acknowledge()`` is called when that insert returned; ``last()`` is the highest key number below which
    every insert has been acknowledged: what ``latest``/``zipfian``/``exponential`` may choose.  Threads share
    a plain instance; processes share one built with a multiprocessing context (state and window in shared
    memory, one lock), so a key inserted by any worker is visible to every worker's next operation.
    """

    def __init__(self, start: int, ctx: Any = None) -> None:
        self.state: Any
        self.window: Any
        if ctx is None:
            self.state, self.window, self.lock = [start, start - 1], bytearray(WINDOW), threading.Lock()
        else:
            self.state, self.window = ctx.RawArray("q", [start, start - 1]), ctx.RawArray("b", WINDOW)
            self.lock = ctx.Lock()

    def next(self) -> int:
        with self.lock:
            value = int(self.state[0])
            self.state[0] = value + 1
        return value

    def acknowledge(self, value: int) -> None:
        window = self.window
        with self.lock:
            slot = value & _WINDOW_MASK
            if window[slot]:
                raise RuntimeError("too many unacknowledged insertion keys (more than 2^20 in flight)")
            window[slot] = 1
            index = self.state[1] + 1
            while window[index & _WINDOW_MASK]:  # move the contiguous acknowledged run into the limit
                window[index & _WINDOW_MASK] = 0
                index += 1
            self.state[1] = index - 1

    def last(self) -> int:
        return int(self.state[1])


class StripedCounter:
    """Insert key numbers for workers that share no memory (``--engine spark``): worker w of W takes
    ``start + w``, ``+ W``, ...  ``last()`` is the highest key number below which every insert of every
    stripe has been acknowledged, as far as this worker knows: its own stripe it knows at once (alone, that
    is YCSB's acknowledged counter); the others' it learns from :attr:`cluster_last`, which a messenger
    sets from the acknowledged counts of every stripe (:mod:`storagebench.spark.acks`); with no messenger
    it stays at the loaded records, so reads never ask for a key that may not exist yet.

    As YCSB, an insert is acknowledged whatever its outcome, so a key below ``last()`` inserted by another
    worker may be absent (that worker's insert failed): only that worker's ledger can judge it."""

    def __init__(self, start: int, worker: int, workers: int) -> None:
        self.start, self.worker, self.workers, self.inserted = start, worker, workers, 0
        #: inserts of this stripe acknowledged (each worker has one insert in flight: they return in order)
        self.acked = 0
        #: the acknowledged prefix of every stripe, from a messenger (``start - 1``: none known)
        self.cluster_last = start - 1
        #: dynamic key choices above the load, and those of them inserted by another worker
        self.picked_inserts = self.picked_others = 0

    def next(self) -> int:
        value = self.start + self.worker + self.inserted * self.workers
        self.inserted += 1
        return value

    def acknowledge(self, value: int) -> None:
        self.acked += 1

    def last(self) -> int:
        own = self.start - 1 + self.acked if self.workers == 1 else self.start - 1
        return max(own, self.cluster_last)

    def picked(self, keynum: int) -> None:
        """A read, update, scan or delete chose ``keynum`` among the acknowledged keys (counted)."""
        if keynum >= self.start:
            self.picked_inserts += 1
            if (keynum - self.start) % self.workers != self.worker:
                self.picked_others += 1


def cluster_prefix(start: int, acked: Sequence[int]) -> int:
    """``last()`` over striped workers: the highest key number below which every stripe's inserts are
    acknowledged, given each stripe's acknowledged count (stripe w holds ``start + w + k * W``)."""
    workers = len(acked)
    return start - 1 + min(count * workers + w for w, count in enumerate(acked))


InsertCounter = AcknowledgedCounter | StripedCounter


class SkewedLatest:
    """YCSB's ``SkewedLatestGenerator``: ``last - ZipfianGenerator(items=last at start).nextLong(last)``.

    As YCSB does when the table grows: zeta is extended incrementally to the new count, and eta keeps
    the item count the generator was built with (``2.0 / items`` in ``nextLong``).
    """

    def __init__(self, last: int, theta: float = 0.99) -> None:
        self.theta, self.alpha = theta, 1.0 / (1.0 - theta)
        self.zeta2 = zeta(2, theta)
        self.threshold = 1.0 + 0.5 ** theta
        self.items = max(1, last)
        self.count = self.items
        self.zetan = zeta(self.items, theta)
        self._eta()

    def _eta(self) -> None:
        self.eta = (1 - (2.0 / self.items) ** (1 - self.theta)) / (1 - self.zeta2 / self.zetan)

    def offset(self, u: float, last: int) -> int:
        """How far below ``last`` the chosen key is, for the uniform draw ``u``."""
        if last > self.count:
            theta, total = self.theta, self.zetan
            for i in range(self.count + 1, last + 1):
                total += i ** -theta
            self.zetan, self.count = total, last
            self._eta()
        uz = u * self.zetan
        if uz < 1.0:
            return 0
        if uz < self.threshold:
            return 1
        return int(last * (self.eta * u - self.eta + 1) ** self.alpha)


def chooses_among_inserts(spec: WorkloadSpec) -> bool:
    """Whether the run phase's keys are chosen among the inserts acknowledged so far (YCSB's counter)."""
    dist = spec.requestdistribution
    return dist in ("latest", "exponential") or (dist == "zipfian" and spec.insertproportion > 0)


class KeyChooser:
    """Chooses the key numbers of reads/updates/scans/deletes/RMWs as YCSB's ``CoreWorkload.nextKeynum``.

    * uniform, hotspot, sequential: over the loaded range ``[insertstart, insertstart + insertcount)``;
    * zipfian: YCSB's scrambled zipfian over the loaded range plus ``2 * operationcount * insertproportion``
      expected inserts; a key above ``counter.last()`` (not inserted or not acknowledged yet) is redrawn;
    * latest: :class:`SkewedLatest` below ``counter.last()``;
    * exponential: ``counter.last()`` minus an exponential draw (``exponential.percentile`` of operations on
      the newest ``exponential.frac`` of ``recordcount``), redrawn while negative.

    A batch holds the draws; when the key depends on inserts acknowledged since (``dynamic``), the runner
    asks :meth:`key` at the moment of the operation, so an insert is visible to the very next operation.
    """

    def __init__(self, spec: WorkloadSpec, counter: InsertCounter, rng: np.random.Generator,
                 worker: int = 0, workers: int = 1) -> None:
        self.spec, self.counter, self.rng = spec, counter, rng
        #: a striped counter (workers sharing no memory) counts whose inserts the choices land on
        self.striped = counter if isinstance(counter, StripedCounter) else None
        self.namer = KeyNamer(spec)
        self.name = lru_cache(maxsize=1 << 16)(self.namer.name)
        self.last_keynum = 0
        self.lo, self.count = spec.insertstart, max(1, spec.loaded_count())
        self.dist = dist = spec.requestdistribution
        self.dynamic = chooses_among_inserts(spec)
        if dist == "zipfian":
            expected_new = int(spec.operationcount * spec.insertproportion * 2.0)
            self.space = spec.loaded_count() + expected_new + 1
            if spec.zipfianconstant == 0.99:
                self.zipf = Zipfian(ZIPF_ITEM_COUNT + 1, 0.99, ZIPF_ZETAN_099)
            else:  # not a YCSB property: 10^7 items instead of 10^10 keeps the set-up short
                self.zipf = Zipfian(ZIPF_ITEM_COUNT // 1000, spec.zipfianconstant)
        elif dist == "latest":
            self.latest = SkewedLatest(counter.last(), spec.zipfianconstant)
        elif dist == "exponential":
            gamma = -np.log(1.0 - spec.exponential_percentile / 100.0) / (spec.recordcount * spec.exponential_frac)
            self.gamma = float(gamma)
        elif dist == "sequential":
            self.position, self.step = worker, workers  # the shared counter's sequence, interleaved
        self.keys: list[int] = []
        self.draws: list[float] = []
        self.spare: list[int] = []

    def _scrambled(self, size: int) -> np.ndarray:
        return self.lo + fnvhash64(self.zipf.sample(self.rng, size)) % self.space

    def batch(self, size: int) -> tuple[np.ndarray, list[str] | None]:
        """Key numbers for ``size`` operations and their names (None when :meth:`key` decides per op)."""
        spec, rng, lo, n = self.spec, self.rng, self.lo, self.count
        dist = self.dist
        if dist == "uniform":
            keys = lo + rng.integers(0, n, size)
        elif dist == "zipfian":
            keys = self._scrambled(size)
            if not self.dynamic:  # nothing is inserted: the limit is fixed, redraw now
                limit = self.counter.last()
                bad = keys > limit
                while bad.any():
                    keys[bad] = self._scrambled(int(bad.sum()))
                    bad = keys > limit
        elif dist == "hotspot":
            hot = int(n * spec.hotspotdatafraction)
            cold = n - hot
            is_hot = rng.random(size) < spec.hotspotopnfraction
            hot_keys = rng.integers(0, max(hot, 1), size)
            cold_keys = hot + rng.integers(0, max(cold, 1), size)
            keys = lo + np.where(is_hot | (cold == 0), hot_keys, cold_keys)
        elif dist == "sequential":
            keys = lo + (self.position + self.step * np.arange(size, dtype=np.int64)) % n
            self.position += self.step * size
        else:  # latest, exponential: uniform draws, turned into keys when the operation runs
            self.draws = rng.random(size).tolist()
            return np.zeros(size, dtype=np.int64), None
        keys = keys.astype(np.int64)
        if self.dynamic:
            self.keys = keys.tolist()
            return keys, None
        return keys, self.namer.names(keys)

    def key(self, i: int) -> str:
        """The key of operation ``i`` of the batch, chosen now (dynamic distributions only); its number
        is left in ``last_keynum`` (the runner's checks need it)."""
        self.last_keynum = keynum = self._keynum(i)
        if self.striped is not None:
            self.striped.picked(keynum)
        return self.name(keynum)

    def _keynum(self, i: int) -> int:
        last = self.counter.last()
        if self.dist == "latest":
            return last - self.latest.offset(self.draws[i], last)
        if self.dist == "exponential":
            keynum = last - int(-np.log(self.draws[i]) / self.gamma)
            while keynum < 0:
                keynum = last - int(-np.log(self.rng.random()) / self.gamma)
            return keynum
        keynum = self.keys[i]  # zipfian: redraw a key not acknowledged yet, as YCSB
        while keynum > last:
            if not self.spare:
                self.spare = self._scrambled(256).tolist()
            keynum = self.spare.pop()
        return keynum


class FieldLengths:
    """YCSB's field length generator (``fieldlengthdistribution``), as a map from a uniform draw.

    * constant: ``fieldlength``;
    * uniform: ``[minfieldlength, fieldlength]``;
    * zipfian: YCSB's ``ZipfianGenerator(minfieldlength, fieldlength)`` (the shortest lengths most common);
    * histogram: YCSB's ``HistogramGenerator`` over the file ``fieldlengthhistogram`` (a ``BlockSize<TAB>n``
      line, then ``bucket<TAB>count`` lines), with its rule that a draw in bucket i gives (i + 1) blocks; a
      length of 0 (a one-bucket histogram) becomes 1.

    :meth:`length` turns a uniform draw in [0, 1) into a length: a value generator calls it once per value
    it writes, with its own random draw (or a hash, when the length must follow from key and field).
    """

    def __init__(self, spec: WorkloadSpec) -> None:
        self.dist = spec.fieldlengthdistribution
        lo, hi = spec.minfieldlength, spec.fieldlength
        self.lo, self.hi = (hi, hi) if self.dist == "constant" else (lo, hi)
        if self.dist == "zipfian":
            self.zipf = Zipfian(hi - lo + 1, 0.99)
        elif self.dist == "histogram":
            block, buckets = read_length_histogram(spec.fieldlengthhistogram)
            self.block, self.cum = block, np.cumsum(buckets)
            self.area = int(self.cum[-1])
            self.lo, self.hi = max(1, block), max(1, block * max(1, len(buckets) - 1))

    @property
    def constant(self) -> bool:
        return self.dist == "constant"

    @property
    def longest(self) -> int:
        return self.hi

    def length(self, u: float) -> int:
        if self.dist == "constant":
            return self.hi
        if self.dist == "uniform":
            return self.lo + int(u * (self.hi - self.lo + 1))
        if self.dist == "zipfian":
            z = self.zipf
            uz = u * z.zetan
            if uz < 1.0:
                return self.lo
            if uz < 1.0 + 0.5 ** z.theta:
                return self.lo + 1
            return self.lo + min(z.items - 1, int(z.items * (z.eta * u - z.eta + 1) ** z.alpha))
        number = int(u * self.area)  # HistogramGenerator: the first bucket i with number <= cum[i] -> i + 1
        i = int(np.searchsorted(self.cum[:-1], number, side="left"))
        blocks = i + 1 if i < len(self.cum) - 1 else len(self.cum) - 1
        return max(1, blocks * self.block)


def read_length_histogram(path: str) -> tuple[int, list[int]]:
    """(block size, counts per bucket) of a YCSB field length histogram file; ValueError if malformed."""
    from storagebench.inputs import MAX_INPUT_BYTES, InputRefused, read_bounded

    try:
        text = read_bounded(Path(path), MAX_INPUT_BYTES).decode("utf-8", errors="replace")
    except InputRefused as exc:
        raise ValueError(f"fieldlengthhistogram {path} {exc}") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or lines[0].split("\t")[0] != "BlockSize":
        raise ValueError(f"fieldlengthhistogram {path}: the first line must be BlockSize<TAB>n")
    try:
        block = int(lines[0].split("\t")[1])
        pairs = sorted((int(a), int(b)) for a, b in (ln.split("\t")[:2] for ln in lines[1:]))
    except (IndexError, ValueError):
        raise ValueError(f"fieldlengthhistogram {path}: lines must be bucket<TAB>count integers") from None
    buckets = [count for _, count in pairs]
    if [b for b, _ in pairs] != list(range(len(pairs))) or block < 1 or sum(buckets) <= 0 \
            or min(buckets, default=0) < 0:
        raise ValueError(f"fieldlengthhistogram {path}: needs BlockSize >= 1 and buckets 0, 1, 2, ... "
                         f"with non-negative counts, not all 0")
    return block, buckets


def host_keynums(spec: WorkloadSpec, local: np.ndarray) -> np.ndarray:
    """The key numbers of a client host's *local* key numbers (``run --dataset NAME --host I/N``).

    Below ``recordcount`` (every key the shared data set had when the hosts began) a local number is the
    key number itself; from there up, local numbers are this host's own inserts, striped over the hosts:
    the ``j``-th is the ``j``-th key number ``>= recordcount`` with ``n % N == I``.  So every key number has
    one owner, :func:`key_owner`, and no two hosts ever insert the same key.  One host (N = 1): identity."""
    n, rows = spec.hostcount, spec.recordcount
    if n == 1:
        return local
    first = rows + (spec.hostindex - rows) % n
    return np.where(local < rows, local, first + (local - rows) * n)


def key_owner(keynum: int | np.ndarray, hostcount: int) -> Any:
    """The host that owns key number ``keynum`` (the only one that writes it): ``keynum % hostcount``."""
    return keynum % hostcount


def owned_twin(spec: WorkloadSpec, local: int) -> int:
    """The key this host writes or deletes when its chooser picked ``local`` for an update or a delete
    (``--host I/N``): ``local`` itself when the host owns it (its own inserts always), else the key of this
    host's stripe in the same block of N."""
    n, i = spec.hostcount, spec.hostindex
    if n == 1 or local >= spec.recordcount or local % n == i:
        return local
    twin = local - local % n + i
    return twin if twin < spec.recordcount else twin - n


class KeyNamer:
    def __init__(self, spec: WorkloadSpec) -> None:
        self.prefix = spec.keyprefix
        self.padding = spec.zeropadding
        self.hashed = spec.insertorder == "hashed"
        self.spec = spec if spec.hostcount > 1 else None

    def names(self, keynums: np.ndarray) -> list[str]:
        if self.spec is not None:
            keynums = host_keynums(self.spec, np.asarray(keynums, dtype=np.int64))
        nums = fnvhash64(keynums) if self.hashed else keynums
        prefix, pad = self.prefix, self.padding
        if pad <= 1:
            return [prefix + str(n) for n in nums.tolist()]
        return [prefix + str(n).zfill(pad) for n in nums.tolist()]

    def name(self, keynum: int) -> str:
        spec = self.spec
        if spec is not None and keynum >= spec.recordcount:
            rows, n = spec.recordcount, spec.hostcount
            keynum = rows + (spec.hostindex - rows) % n + (keynum - rows) * n
        num = fnvhash64_one(keynum) if self.hashed else keynum
        return self.prefix + (str(num).zfill(self.padding) if self.padding > 1 else str(num))


@dataclass
class OpBatch:
    ops: np.ndarray        # indexes into OPERATIONS
    keynums: np.ndarray    # key number for read/update/scan/delete/rmw (0 when chosen per op); not insert
    scanlens: np.ndarray
    #: key names of ``keynums``; None when the key is chosen when the operation runs (:meth:`OperationStream.key`)
    names: list[str] | None = None


class OperationStream:
    """One worker's run-phase operations, in batches; deterministic from (seed, worker).

    ``counter`` is the phase's shared :class:`AcknowledgedCounter` (a private one when not given).
    """

    def __init__(self, spec: WorkloadSpec, seed: int, worker: int, workers: int,
                 counter: InsertCounter | None = None) -> None:
        self.spec = spec
        self.rng = np.random.default_rng([seed, 0x0B5, worker])
        props = spec.proportions()
        weights = np.array([props[op] for op in OPERATIONS], dtype=np.float64)
        self.cdf = np.cumsum(weights / weights.sum()) if weights.sum() > 0 else np.ones(len(OPERATIONS))
        self.counter = counter if counter is not None else AcknowledgedCounter(spec.recordcount)
        self.chooser = KeyChooser(spec, self.counter, self.rng, worker, workers)
        self.dynamic = self.chooser.dynamic
        self.key = self.chooser.key
        self.worker, self.workers = worker, workers
        if spec.scanlengthdistribution == "zipfian":
            self.scanzipf = Zipfian(spec.maxscanlength - spec.minscanlength + 1, spec.zipfianconstant)

    def next_insert_keynum(self) -> int:
        """The key number of a run-phase insert (YCSB: the shared counter, from recordcount up)."""
        return self.counter.next()

    def acknowledge(self, keynum: int) -> None:
        """The insert of ``keynum`` returned (YCSB acknowledges failed inserts too)."""
        self.counter.acknowledge(keynum)

    def batch(self, size: int) -> OpBatch:
        ops = np.searchsorted(self.cdf, self.rng.random(size), side="right").clip(0, len(OPERATIONS) - 1)
        keynums, names = self.chooser.batch(size)
        spec = self.spec
        if spec.scanlengthdistribution == "uniform":
            scanlens = self.rng.integers(spec.minscanlength, spec.maxscanlength + 1, size)
        else:
            scanlens = spec.minscanlength + self.scanzipf.sample(self.rng, size)
        return OpBatch(ops, keynums, scanlens, names)

    def query_group(self) -> int:
        return int(self.rng.integers(0, self.spec.querygroups))

    def join_window(self) -> int:
        """The first region of a join (it asks for ``joinwindow`` consecutive regions from there)."""
        return int(self.rng.integers(0, self.spec.joingroups - self.spec.joinwindow + 1))


def load_range(spec: WorkloadSpec, worker: int, workers: int) -> range:
    """The key numbers worker ``worker`` inserts in the load phase: its contiguous slice of
    ``[insertstart, insertstart + insertcount)`` (YCSB's load inserts exactly those, whatever the clients)."""
    total = spec.loaded_count()
    per, extra = divmod(total, workers)
    start = spec.insertstart + worker * per + min(worker, extra)
    return range(start, start + per + (1 if worker < extra else 0))
