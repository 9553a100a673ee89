"""The ledger of a store's writes during one workload: shared by every worker of its load and run phases.

Every worker records in it, around each write, when the write was issued and whether and when it was
acknowledged; every reader (a worker's :class:`~storagebench.measuring.checks.Checker`, the read-back pass
after each phase) judges an answer against it.  Times are ``CLOCK_MONOTONIC`` nanoseconds (one clock for
every process of the machine) since the ledger's epoch; an *issue* time is taken before the driver call,
an *acknowledgement* time after it returns, so every comparison below errs towards accepting an answer.

What it keeps, in one block of shared memory (threads share a ``bytearray``, processes a ``RawArray``
from the pool's context, as the acknowledged insert counter does):

* per key number: when its insert was acknowledged (:data:`UNSURE` when it failed: the record may or may
  not exist), when a delete of it was first issued, when that delete was acknowledged, how many deletes of
  it were issued after the first (a later one may reach the store first and win), the latest issue
  time of a write to it, how many updates of it are in flight, and the last time any write or delete of it
  was acknowledged (a cached verdict is reused only while that stays older than the verified answer);
* per key number and field: the latest *issue* time of the acknowledged writes of that field.  A value is
  current for a read that started at ``rs`` unless a write of that field acknowledged before ``rs`` was
  issued after the value's own write was acknowledged (then the value is a **lost update**);
* per writer (0 = load, w + 1 = run worker w): its last issued sequence number, and the acknowledgement
  time of each of its writes (a ring of :attr:`ring` entries tagged with the sequence number's high bits;
  a version older than the ring is accepted unjudged, counted in ``unjudged``);
* per query group: inserts and deletes issued and acknowledged, with the summed field's total of each, so a
  count or sum is checked between the bounds the writes in flight leave (exact when none is in flight).

A run on a data set (:mod:`storagebench.running.datasets`) starts its ledger from the data set's state:
keys inserted and deleted :data:`BEFORE_RUN`, and :meth:`held` gives each field's version from before the
run (writes of this run have sequence numbers above :attr:`seq_base`).

A client host of several sharing one data set (``--host I/N``) keeps a ledger of its own writes only: it
works in the host's *local* key numbers (:func:`~storagebench.workloads.generators.host_keynums`), its
writers are ``1 + I + N * w`` (slots 1..workers here), and values of other hosts' writes are counted
(``C_FOREIGN``), not judged against this ledger (:meth:`~storagebench.measuring.checks.Checker._foreign_problem`);
with a workload that deletes, so are NOT_FOUND answers for other hosts' keys (``C_FOREIGN_ABSENT``).

Keys past :attr:`capacity` (inserts beyond the bound :func:`key_capacity` gives) are not tracked: their
checks are skipped and counted (``untracked``).  An acknowledged write takes one lock (its fields'
floors are maxima); an update of an upsert store takes it once more when issued, a delete and an insert's
group counts once each; reads take none: every other slot has one writer, or is read only as a bound.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from typing import Any

from storagebench.workloads.spec import WorkloadSpec

#: a time that never comes: the acknowledgement of a write that failed (it may have been applied, at any time)
UNSURE = (1 << 47) - 1
_TIME_BITS = 47
#: per worker, acknowledgement times of at most this many of its latest writes are kept
RING_MAX = 1 << 18
#: inserts a time-bounded run (operationcount=0) can track
TIMED_INSERTS = 1 << 18

#: the time of whatever a data set held before this run (earlier than any time of the run)
BEFORE_RUN = 1
#: WRITE_ISSUED of a data set's key that an upsert re-created after its delete in an earlier run
RECREATED = 2

#: a data set's state file holds each field's version packed as ``writer << SEQ_BITS | seq`` (values.MAX_SEQ
#: < 2**36), :data:`ABSENT` for a field the key does not have
SEQ_BITS = 36
ABSENT = -1


def pack(writer: int, seq: int) -> int:
    return (writer << SEQ_BITS) | seq


def unpack(packed: int) -> tuple[int, int] | None:
    return None if packed == ABSENT else (packed >> SEQ_BITS, packed & ((1 << SEQ_BITS) - 1))


# per-key slots
INS, DEL_ISSUED, DEL_ACK, WRITE_ISSUED, IN_FLIGHT, CHANGED, DEL_LATER = range(7)
_PER_KEY = 7
# per-group slots
G_INS_ACK, G_INS_ISSUED, G_DEL_ACK, G_DEL_ISSUED, G_UNSURE = range(5)
_PER_GROUP = 10  # the five counts, then the five sums
# counters (C_FOREIGN: values of other client hosts' writes, judged by their key and owner only;
# C_FOREIGN_ABSENT: NOT_FOUND answers for other hosts' keys, which their owner may have deleted)
C_HIGH, C_UNTRACKED, C_UNJUDGED, C_LOAD_FAILED, C_FOREIGN, C_FOREIGN_ABSENT = range(6)
_COUNTERS = 6


def key_capacity(spec: WorkloadSpec) -> int:
    """Key numbers the ledger tracks: every record the load may insert, and the run's inserts up to six
    standard deviations above their expected number (at most every operation)."""
    ops, p = spec.operationcount, spec.insertproportion
    if p <= 0:
        return spec.recordcount
    if not ops:
        return spec.recordcount + TIMED_INSERTS
    bound = ops * p + 6 * math.sqrt(ops * p * (1 - p)) + 64
    return spec.recordcount + min(ops, int(bound))


class Ledger:
    def __init__(self, spec: WorkloadSpec, workers: int, ctx: Any = None) -> None:
        self.capacity = key_capacity(spec)
        self.fields = spec.field_names()
        self.field_index = {f: i for i, f in enumerate(self.fields)}
        self.nfields = len(self.fields)
        self.groups = max(1, spec.querygroups)
        self.writers = workers + 1
        #: ``--host I/N``: run worker w of host I writes as writer ``1 + I + N * w`` (values name hosts apart);
        #: this ledger keeps this host's writers only, in slots 1..workers
        self.hostcount, self.hostindex = spec.hostcount, spec.hostindex
        writes = (spec.updateproportion + spec.insertproportion + spec.readmodifywriteproportion
                  + spec.updatenestedproportion)
        share = -(-spec.operationcount // workers) if spec.operationcount else RING_MAX
        self.ring_bits = min(RING_MAX, share + 1).bit_length() if writes > 0 else 1
        self.ring = 1 << self.ring_bits
        self._keys = 0
        self._fields = self._keys + _PER_KEY * self.capacity
        self._groups = self._fields + self.nfields * self.capacity
        self._issued = self._groups + _PER_GROUP * self.groups
        self._acks = self._issued + self.writers
        self._counters = self._acks + self.writers * self.ring
        self.size = self._counters + _COUNTERS
        self.epoch = time.monotonic_ns() - RECREATED - 1  # every time is > RECREATED: 0 means "never"
        #: a run on a data set: its state file (versions before this run) and the highest earlier sequence number
        self.dataset_state: str | None = None
        self.seq_base = 0
        self._held: Any = None
        if ctx is None:
            self._block: Any = bytearray(8 * self.size)
            self.lock: Any = threading.Lock()
        else:
            self._block = ctx.RawArray("q", self.size)
            self.lock = ctx.Lock()
        self._view()

    def _view(self) -> None:
        self.q = memoryview(self._block).cast("B").cast("q")

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["q"]
        state["_held"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._view()

    def key_slots(self) -> Any:
        """The per-key slots as a (capacity, 6) int64 array over the shared block (written in place)."""
        import numpy as np

        return np.frombuffer(self._block, dtype=np.int64, count=_PER_KEY * self.capacity,
                             offset=8 * self._keys).reshape(self.capacity, _PER_KEY)

    def set_dataset(self, state_path: str, seq_base: int) -> None:
        self.dataset_state, self.seq_base = state_path, seq_base

    def held(self, keynum: int, field: str) -> tuple[int, int] | None:
        """The version (writer, seq) ``field`` of ``keynum`` held before this run on a data set; None when
        it had no such field (or the data set no such key)."""
        if self._held is None:
            import numpy as np

            assert self.dataset_state is not None, "held() is for a run on a data set"
            self._held = np.load(self.dataset_state, mmap_mode="r")
        if keynum >= len(self._held):
            return None
        return unpack(int(self._held[keynum, self.field_index[field]]))

    def last_seq(self) -> int:
        """The highest sequence number any writer issued (at least :attr:`seq_base`)."""
        return max([self.seq_base, *self.q[self._issued:self._issued + self.writers].tolist()])

    def now(self) -> int:
        return time.monotonic_ns() - self.epoch

    @property
    def nbytes(self) -> int:
        return 8 * self.size

    # -- indices -----------------------------------------------------------------------------------
    def tracked(self, keynum: int) -> bool:
        return 0 <= keynum < self.capacity

    def slot(self, keynum: int, what: int) -> int:
        return self._keys + _PER_KEY * keynum + what

    def get(self, keynum: int, what: int) -> int:
        value: int = self.q[self._keys + _PER_KEY * keynum + what]
        return value

    def key_state(self, keynum: int) -> list[int]:
        base = self._keys + _PER_KEY * keynum
        state: list[int] = self.q[base:base + _PER_KEY].tolist()
        return state

    def field_floor(self, keynum: int, field: str) -> int:
        """Latest issue time of an acknowledged write of ``field`` of ``keynum`` (0: none)."""
        value: int = self.q[self._fields + self.nfields * keynum + self.field_index[field]]
        return value

    def field_floors(self, keynum: int) -> list[int]:
        base = self._fields + self.nfields * keynum
        floors: list[int] = self.q[base:base + self.nfields].tolist()
        return floors

    def writer_host(self, writer: int) -> int:
        """The client host whose run worker wrote as ``writer`` (>= 1)."""
        return (writer - 1) % self.hostcount

    def _w(self, writer: int) -> int:
        """The ledger slot of this host's ``writer``."""
        return writer if writer == 0 or self.hostcount == 1 else 1 + (writer - 1) // self.hostcount

    def issued(self, writer: int) -> int:
        value: int = self.q[self._issued + self._w(writer)]
        return value

    def acked_at(self, writer: int, seq: int) -> int | None:
        """When write ``seq`` of ``writer`` (>= 1) was acknowledged: 0 if not (yet), :data:`UNSURE` if it
        failed, None if it is older than the ring."""
        entry: int = self.q[self._acks + self._w(writer) * self.ring + (seq & (self.ring - 1))]
        if entry >> _TIME_BITS != seq >> self.ring_bits:
            return None
        return entry & UNSURE

    def group(self, what: int, group: int) -> int:
        value: int = self.q[self._groups + _PER_GROUP * group + what]
        return value

    def group_sum(self, what: int, group: int) -> int:
        value: int = self.q[self._groups + _PER_GROUP * group + 5 + what]
        return value

    def counter(self, what: int) -> int:
        value: int = self.q[self._counters + what]
        return value

    def count(self, what: int, n: int = 1) -> None:
        with self.lock:
            self.q[self._counters + what] += n

    # -- the load ----------------------------------------------------------------------------------
    def loaded(self, keynums: range, ok: bool, groups: list[tuple[int, int]] | None = None) -> None:
        """The load's inserts of ``keynums`` returned: acknowledged (``ok``) or failed; ``groups``: the
        query group and summand of each failed key (its count and sum become uncertain)."""
        q, at = self.q, self.now() if ok else UNSURE
        for k in keynums:
            if 0 <= k < self.capacity:
                q[self._keys + _PER_KEY * k + INS] = at
        if not ok:
            with self.lock:
                q[self._counters + C_LOAD_FAILED] += len(keynums)
                for g, summand in groups or []:
                    q[self._groups + _PER_GROUP * g + G_UNSURE] += 1
                    q[self._groups + _PER_GROUP * g + 5 + G_UNSURE] += summand

    # -- run-phase writes --------------------------------------------------------------------------
    def issue(self, writer: int, seq: int, keynum: int, upsert: bool) -> int:
        """Before an insert, or an update (``upsert``: of a store whose update may re-create a deleted
        record), of ``keynum`` as write ``seq`` of ``writer``: its issue time.  Only an upsert takes the
        lock (its key's latest write issue and writes in flight); an insert's key is new, its one writer's."""
        q = self.q
        writer = self._w(writer)
        q[self._issued + writer] = seq
        q[self._acks + writer * self.ring + (seq & (self.ring - 1))] = (seq >> self.ring_bits) << _TIME_BITS
        if not 0 <= keynum < self.capacity:
            return self.now()
        base = self._keys + _PER_KEY * keynum
        if not upsert:
            at = q[base + WRITE_ISSUED] = self.now()
            return at
        with self.lock:
            at = self.now()
            if q[base + WRITE_ISSUED] < at:
                q[base + WRITE_ISSUED] = at
            q[base + IN_FLIGHT] += 1
        return at

    def acknowledge(self, writer: int, seq: int, keynum: int, fields: Sequence[str], issued: int, ok: bool,
                    upsert: bool) -> None:
        """After that write returned: acknowledged (``ok``), or failed (it may apply at any time)."""
        q = self.q
        at = self.now() if ok else UNSURE
        writer = self._w(writer)
        q[self._acks + writer * self.ring + (seq & (self.ring - 1))] = ((seq >> self.ring_bits) << _TIME_BITS) | at
        if not 0 <= keynum < self.capacity:
            return
        base = self._keys + _PER_KEY * keynum
        fbase = self._fields + self.nfields * keynum
        with self.lock:
            if ok:
                for f in fields:
                    slot = fbase + self.field_index[f]
                    if q[slot] < issued:
                        q[slot] = issued
                q[base + CHANGED] = at
                if upsert:
                    q[base + IN_FLIGHT] -= 1  # a failed update stays in flight for ever: it may still apply

    def insert_issued(self, keynum: int, group: int, summand: int) -> None:
        if not 0 <= keynum < self.capacity:
            self.count(C_UNTRACKED)
            return
        q, g = self.q, self._groups + _PER_GROUP * group
        with self.lock:
            q[g + G_INS_ISSUED] += 1
            q[g + 5 + G_INS_ISSUED] += summand
            if q[self._counters + C_HIGH] <= keynum:
                q[self._counters + C_HIGH] = keynum + 1

    def insert_returned(self, keynum: int, ok: bool, group: int, summand: int) -> None:
        if not 0 <= keynum < self.capacity:
            return
        q = self.q
        q[self._keys + _PER_KEY * keynum + INS] = self.now() if ok else UNSURE
        if ok:
            g = self._groups + _PER_GROUP * group
            with self.lock:
                q[g + G_INS_ACK] += 1
                q[g + 5 + G_INS_ACK] += summand

    def delete_issued(self, keynum: int, group: int, summand: int) -> bool:
        """Before a delete: True when it is the key's first (the one its state and the group counts follow)."""
        if not 0 <= keynum < self.capacity:
            return False
        q = self.q
        base = self._keys + _PER_KEY * keynum
        with self.lock:
            if q[base + DEL_ISSUED]:
                q[base + DEL_LATER] += 1
                return False
            at = self.now()
            q[base + DEL_ISSUED] = at
            if q[base + IN_FLIGHT] > 0:  # an update in flight may re-create it (an upsert) after the delete
                q[base + WRITE_ISSUED] = at + 1
            g = self._groups + _PER_GROUP * group
            q[g + G_DEL_ISSUED] += 1
            q[g + 5 + G_DEL_ISSUED] += summand
            return True

    def delete_returned(self, keynum: int, first: bool, ok: bool, group: int, summand: int) -> None:
        if not 0 <= keynum < self.capacity:
            return
        q = self.q
        base = self._keys + _PER_KEY * keynum
        at = self.now()
        with self.lock:
            q[base + CHANGED] = at
            if first:
                q[base + DEL_ACK] = at if ok else UNSURE
                if ok:
                    g = self._groups + _PER_GROUP * group
                    q[g + G_DEL_ACK] += 1
                    q[g + 5 + G_DEL_ACK] += summand
