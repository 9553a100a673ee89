"""The checks a run-phase worker makes on every answer: verification that a store cannot fool.

One :class:`Checker` per worker.  It knows what must be in the store from what the harness itself did:

* every loaded record exists while the workload has no deletes (and, with one worker, until that worker
  deletes it); records this worker inserted and got acknowledged exist too.  A NOT_FOUND for such a key
  (read, update, delete, read-modify-write) is a failed check, and so is a record read back after this
  worker deleted it (one worker).
* every value read must be one written for that key and field (:meth:`Values.check`: a CRC over key,
  field, writer, sequence and body).  Per key and field the checker remembers the sequence number of this
  worker's last acknowledged write: reading an older version of this worker's (or the load's after this
  worker wrote) is a **lost update**; with one worker any version it did not write last is one.
* a scan must return, in key order from its start key, every loaded record in the range it covers (the
  loaded keys are known, sorted once before the clock starts): fewer records than exist is a failure.
* a query (count/sum of records whose filter field equals a value) must give the loaded records' count
  and sum plus those of this worker's inserts (exactly with one worker; as a lower bound with several,
  who insert concurrently).  Filter and summed fields are never rewritten (:attr:`Values.fixed`).

An answer equal, value for value, to one this worker already verified for the same key and fields,
with no write or delete of that key by this worker since, is accepted by that comparison: every input of
the verdict is the same, so the verdict is (:attr:`Checker.verified`, bounded to about
:data:`VERIFIED_BYTES` of answers, oldest key out first).  A read of a hot key therefore costs one dict
comparison instead of a CRC per field.

A failed check never raises: the operation is moved to status UNEXPECTED (its own histogram) with a
message, and the phase ends ``invalid``.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from storagebench.adapters.base import Query, QueryResult, Record
from storagebench.measuring.measurement import NOT_FOUND, OK, Recorder
from storagebench.workloads.generators import KeyNamer
from storagebench.workloads.spec import WorkloadSpec
from storagebench.workloads.values import LOAD_WRITER, WRITER_CHARS, Values, Version, seq_chars


@dataclass(frozen=True)
class Loaded:
    """What the load phase put in the store, derived from the spec (shared by a process's workers)."""

    sorted_keys: list[str]
    group_count: np.ndarray
    group_sum: np.ndarray


#: about how many bytes of last verified answers a worker keeps (it holds the answer's strings: about
#: 1.9 KB per key for YCSB's 10 x 100 B records, so some 35 k keys); when full the oldest key goes.  A
#: limit of 8192 keys that started over when full missed 40 % of reads of 10 k zipfian records, at 15 µs
#: a miss
VERIFIED_BYTES = 64 << 20
#: never fewer keys than this, whatever the record size
VERIFIED_KEYS_MIN = 1024


def verified_capacity(spec: WorkloadSpec) -> int:
    """How many keys' answers :attr:`Checker.verified` keeps for records of ``spec``'s size."""
    per_key = 400 + spec.fieldcount * (spec.fieldlength + 90)  # dict, tuple, and one str per field
    return max(VERIFIED_KEYS_MIN, VERIFIED_BYTES // per_key)

_LOADED: dict[tuple[str, int], Loaded] = {}
_LOADED_LOCK = threading.Lock()


def loaded(spec: WorkloadSpec, seed: int, values: Values) -> Loaded:
    cache_key = (spec.model_dump_json(), seed)
    with _LOADED_LOCK:
        found = _LOADED.get(cache_key)
        if found is not None:
            return found
        first = spec.insertstart
        names = KeyNamer(spec).names(np.arange(first, first + spec.loaded_count(), dtype=np.int64))
        counts = np.zeros(spec.querygroups, dtype=np.int64)
        sums = np.zeros(spec.querygroups, dtype=np.int64)
        if values.query:
            for key in names:
                g = values.group_of(key)
                counts[g] += 1
                sums[g] += values.summand_of(key)
        names.sort()
        found = _LOADED[cache_key] = Loaded(names, counts, sums)
        return found


class Checker:
    def __init__(self, spec: WorkloadSpec, seed: int, values: Values, recorder: Recorder, worker: int,
                 workers: int, enabled: bool, update_creates: bool = False) -> None:
        self.spec, self.values, self.rec = spec, values, recorder
        self.enabled = enabled
        self.me = values.writer
        self._load_chars = values.version_chars(LOAD_WRITER, 0)
        self._writer_chars = values.version_chars(self.me, 0)[:WRITER_CHARS]
        self.workers = workers
        self.single = workers == 1
        self.deletes = spec.deleteproportion > 0
        #: the store's update is an upsert (``update_requires_existing=False``, e.g. HBase's put): an update
        #: of a deleted record creates it again with the updated fields only
        self.update_creates = update_creates
        self.partial_ok = self.deletes and update_creates
        #: records cannot vanish behind this worker's back
        self.loaded_stay = not self.deletes or self.single
        #: the key numbers this run's load phase inserted
        self.loaded_first = spec.insertstart
        self.loaded_end = spec.insertstart + spec.loaded_count()
        #: (key -> field -> sequence number) of this worker's acknowledged writes
        self.acked: dict[str, dict[str, int]] = {}
        #: keys whose last write by this worker failed: it may or may not have happened
        self.uncertain: set[str] = set()
        self.deleted: set[str] = set()
        #: key -> (fields asked, the answer) last verified for it since this worker last changed that key
        self.verified: dict[str, tuple[tuple[str, ...] | None, Mapping[str, str]]] = {}
        self.verified_capacity = verified_capacity(spec)
        #: this worker's inserts minus its deletes, per query group
        self.delta_count = np.zeros(spec.querygroups, dtype=np.int64)
        self.delta_sum = np.zeros(spec.querygroups, dtype=np.int64)
        self.expected: Loaded | None = None
        if enabled and (spec.scanproportion > 0 or spec.queryproportion > 0):
            self.expected = loaded(spec, seed, values)

    def fail(self, op: str, message: str) -> None:
        self.rec.fail_last(op, message)

    # -- existence ---------------------------------------------------------------------------------
    def must_exist(self, keynum: int, key: str) -> bool:
        if key in self.deleted or key in self.uncertain or not self.loaded_stay:
            return False
        return key in self.acked or self.loaded_first <= keynum < self.loaded_end

    def _missing(self, op: str, keynum: int, key: str, status: str) -> bool:
        """A NOT_FOUND for a key that must exist is a failure; True if the answer was such a failure."""
        if status == NOT_FOUND and self.enabled and self.must_exist(keynum, key):
            self.fail(op, f"{op} of {key}: NOT_FOUND, but the record was "
                          f"{'inserted and acknowledged' if key in self.acked else 'loaded'} and never deleted")
            return True
        return False

    # -- answers -----------------------------------------------------------------------------------
    def read(self, op: str, keynum: int, key: str, got: Record | None, fields: Sequence[str] | None,
             status: str) -> bool:
        """Check a read's answer; False if it failed a check."""
        if not self.enabled:
            return True
        if status != OK:
            return not self._missing(op, keynum, key, status)
        if self.single and key in self.deleted:
            self.fail(op, f"{op} of {key}: found, but this worker deleted it")
            return False
        problem = self.record_problem(key, got or {}, fields)
        if problem:
            self.fail(op, f"{op} returned wrong data: {problem}")
            return False
        return True

    def record_problem(self, key: str, got: Mapping[str, str], fields: Sequence[str] | None) -> str | None:
        asked = None if fields is None else tuple(fields)
        seen = self.verified.get(key)
        if seen is not None and seen[1] == got and seen[0] == asked:
            return None
        problem = self._record_problem(key, got, fields)
        if problem is None:
            verified = self.verified
            if len(verified) >= self.verified_capacity:
                del verified[next(iter(verified))]  # the key verified longest ago (insertion order)
            verified[key] = (asked, dict(got))
        return problem

    def _record_problem(self, key: str, got: Mapping[str, str], fields: Sequence[str] | None) -> str | None:
        values = self.values
        expected = fields if fields is not None else values.fields
        if len(got) != len(expected) or got.keys() != (values.field_set if fields is None else set(expected)):
            if not (self.partial_ok and got and set(got) <= set(expected)):
                return f"{key}: fields {sorted(got)} != expected {sorted(expected)}"
            expected = list(got)  # a record an upsert re-created after a delete: check what it has
        mine = self.acked.get(key)
        check_versions = key not in self.uncertain
        carries, load_chars = values.carries, self._load_chars
        for f in expected:
            value = got[f]
            # the common answers first: the load's value, or this worker's last acknowledged write
            seq = None if mine is None else mine.get(f)
            if carries(key, f, value, load_chars if seq is None else self._my_chars(seq)):
                continue
            verdict = values.check(key, f, value)
            if isinstance(verdict, str):
                return verdict
            if verdict is not None and check_versions:
                problem = self._version_problem(key, f, verdict, None if mine is None else mine.get(f))
                if problem:
                    return problem
        return None

    def _my_chars(self, seq: int) -> str:
        return self._writer_chars + seq_chars(seq)

    def _version_problem(self, key: str, field: str, got: Version, mine: int | None) -> str | None:
        writer, seq = got
        if writer == self.me:
            if mine is None:
                return f"{key}: {field} holds write #{seq} of this worker, which never wrote that field of that key"
            if seq != mine:
                return (f"{key}: {field} holds write #{seq} of this worker, but its last acknowledged write "
                        f"of that field is #{mine}" + (" (lost update)" if seq < mine else ""))
            return None
        if mine is not None and (self.single or writer == LOAD_WRITER):
            return (f"{key}: {field} holds a version by writer {writer} (#{seq}), older than this worker's "
                    f"acknowledged write #{mine} (lost update)")
        if writer == LOAD_WRITER:
            return None if seq == 0 else f"{key}: {field} holds load write #{seq}; the load writes #0 only"
        if self.single or writer > self.workers:
            return f"{key}: {field} holds a version by writer {writer}, which does not exist in this run"
        return None

    def wrote(self, op: str, keynum: int, key: str, fields: Sequence[str], seq: int, status: str) -> None:
        """After an insert or update: remember an acknowledged write; flag a NOT_FOUND that cannot be."""
        if not self.enabled:
            return
        self.verified.pop(key, None)
        if status == OK:
            versions = self.acked.get(key)
            if versions is None:
                versions = self.acked[key] = {}
            for f in fields:
                versions[f] = seq
            self.uncertain.discard(key)
            if key in self.deleted:  # an upsert re-created it, with these fields only
                self.deleted.discard(key)
                self.uncertain.add(key)
            if op == "insert":
                self.deleted.discard(key)
                if self.values.query:
                    g = self.values.group_of(key)
                    self.delta_count[g] += 1
                    self.delta_sum[g] += self.values.summand_of(key)
        elif not self._missing(op, keynum, key, status) and status != NOT_FOUND:
            self.uncertain.add(key)  # failed: it may or may not have been applied

    def deleted_key(self, keynum: int, key: str, status: str) -> None:
        if not self.enabled:
            return
        self.verified.pop(key, None)
        if status == OK:
            if self.values.query and self.must_exist(keynum, key):
                g = self.values.group_of(key)
                self.delta_count[g] -= 1
                self.delta_sum[g] -= self.values.summand_of(key)
            self.acked.pop(key, None)
            self.deleted.add(key)
        elif status == NOT_FOUND:
            self._missing("delete", keynum, key, status)
        else:
            self.uncertain.add(key)

    def scan(self, start: str, count: int, rows: list[tuple[str, Record]], fields: Sequence[str] | None,
             status: str) -> None:
        if not self.enabled or status != OK:
            return
        keys = [k for k, _ in rows]
        problem = None
        if len(rows) > count:
            problem = f"scan from {start} asked {count} rows, got {len(rows)}"
        elif keys != sorted(keys) or (keys and keys[0] < start) or len(set(keys)) != len(keys):
            problem = f"scan from {start} returned keys out of order, repeated or before the start key"
        elif self.expected is not None and not self.deletes:
            problem = self._scan_coverage(start, count, keys)
        if problem is None:
            for k, record in rows:
                problem = self.record_problem(k, record, fields)
                if problem:
                    break
        if problem:
            self.fail("scan", f"scan returned wrong data: {problem}")

    def _scan_coverage(self, start: str, count: int, keys: list[str]) -> str | None:
        assert self.expected is not None
        loaded_keys = self.expected.sorted_keys
        lo = bisect.bisect_left(loaded_keys, start)
        if len(keys) < count:
            hi = len(loaded_keys)  # a short scan must have reached the end of the table
        else:
            hi = bisect.bisect_right(loaded_keys, keys[-1], lo) if keys else lo
        if hi - lo > len(keys):
            return (f"scan from {start} asked {count} rows, got {len(keys)}, but at least "
                    f"{min(count, hi - lo)} loaded records are in that range")
        present = set(keys)
        for k in loaded_keys[lo:hi]:
            if k not in present:
                return f"scan from {start} skipped loaded record {k}"
        return None

    def query(self, group: int, query: Query, result: QueryResult | None, status: str) -> None:
        if not self.enabled or status != OK or self.expected is None or result is None:
            return
        if self.deletes and not self.single:
            return  # others delete concurrently: no bound is known
        count = int(self.expected.group_count[group] + self.delta_count[group])
        total = int(self.expected.group_sum[group] + self.delta_sum[group])
        exact = self.single
        problem = None
        if result.count < count or (exact and result.count != count):
            problem = f"count {result.count}, expected {'' if exact else 'at least '}{count}"
        elif query.aggregate == "sum" and (result.total is None or result.total < total
                                           or (exact and result.total != total)):
            problem = f"sum {result.total}, expected {'' if exact else 'at least '}{total}"
        if problem:
            self.fail("query", f"query {query.field} = {query.equals!r} returned {problem}")
