"""The checks made on every answer a store gives: verification that a store cannot fool.

One :class:`Checker` per worker (and one for the read-back pass after each phase).  Every verdict comes
from the phase's :class:`~storagebench.measuring.ledger.Ledger`, which every worker of the phase shares,
so one worker's answer is judged against every worker's acknowledged writes.  ``rs`` is the ledger time
taken just before the operation was sent, ``re`` the time just after it returned.  The conditions, each
exact (nothing is skipped because of deletes or of several workers):

* **must exist**: a record whose insert (the load's or a run worker's) was acknowledged before ``rs``, and
  no delete of which was issued before ``re``.  NOT_FOUND for it (read, update, delete, read-modify-write,
  a scan that passes it, a traversal) is a failure.  A client host of several on one data set (``--host
  I/N``) whose workload deletes cannot know whether another host's key still exists (its owner may have
  deleted it at any time): for those keys NOT_FOUND is accepted (counted, ``C_FOREIGN_ABSENT``); for its
  own keys, which it alone writes and deletes, the rule stands.
* **must not exist**: a record whose delete was acknowledged before ``rs`` and which no update can have
  re-created (the store does not declare upserts, or no update of it was issued after, or was in flight at,
  the delete's issue); and a key in the insert range whose insert was never issued.  Found, it is a failure.
* **fields**: every field, except for a record an upsert may have re-created after a delete (a store that
  declares ``update_requires_existing=False``, the key's delete issued before ``re``): then a subset.
* **values**: each value must be one written for that key and field (:meth:`Values.check`: a CRC or digest
  over key, field, writer and sequence), by a writer of this run that had issued that write, and not a
  **lost update**: stale when a write of that field acknowledged before ``rs`` was issued after the
  value's own write was acknowledged (a read takes the fields' floors before it is sent; a scan judges a
  record's versions only when no write of that key was acknowledged while it ran, and its integrity always).
* **scan coverage**: in key order from the start key, no repeats, at most ``count``, and every record that
  must exist between the start key and the last key returned (to the end of the table for a short scan).
* **query**: count and sum between the bounds the writes in flight leave: loaded records (minus the load's
  failed inserts), plus inserts acknowledged before ``rs``, minus deletes issued before ``re`` (lower);
  loaded, plus inserts issued before ``re``, minus deletes acknowledged before ``rs`` (upper).  Equal bounds
  (no write of that group in flight) make it exact.  Filter and summed fields are never rewritten.
* **join**: per region asked for, exactly the loaded orders of its customers and the sum of their amounts (no
  other region), since a join workload neither inserts nor deletes and never rewrites the joined fields;
  when a load insert failed, at most those (the record may be missing).
* **find** (documents): exactly the loaded records whose document holds the customer asked (a function of
  the key; a document workload neither inserts nor deletes), in key order; each record checked as a scan's.
  **find_range** the same for the loaded records whose document's ``placed`` number lies in ``[lo, hi)``.
* **traversal**: contains every key reachable through records that must exist, and nothing unreachable
  through records that may exist.

An answer equal, value for value, to one already verified for the same key and fields, with no write or
delete of that key acknowledged since that answer's ``rs``, is accepted by that comparison: every input of
the verdict is the same (:attr:`Checker.verified`, bounded to about :data:`VERIFIED_BYTES`).

A failed check never raises: the operation is moved to status UNEXPECTED (its own histogram) with a
message naming the key and the difference, and the phase ends ``invalid``.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from storagebench.adapters.base import Join, JoinResult, Query, QueryResult, Record
from storagebench.measuring.ledger import (
    BEFORE_RUN,
    C_FOREIGN,
    C_FOREIGN_ABSENT,
    C_HIGH,
    C_UNJUDGED,
    CHANGED,
    DEL_ACK,
    DEL_ISSUED,
    DEL_LATER,
    G_DEL_ACK,
    G_DEL_ISSUED,
    G_INS_ACK,
    G_INS_ISSUED,
    G_UNSURE,
    INS,
    UNSURE,
    WRITE_ISSUED,
    Ledger,
)
from storagebench.measuring.measurement import NOT_FOUND, OK, Recorder
from storagebench.workloads.documents import FIND_PATH, RANGE_PATH
from storagebench.workloads.generators import KeyNamer, key_owner
from storagebench.workloads.spec import WorkloadSpec
from storagebench.workloads.values import LOAD_WRITER, Values, Version


class Loaded:
    """What the load phase puts in the store, derived from the spec (shared by a process's workers).

    The loaded keys in key order (scans, finds and traversals check against them) are made at their first
    use: sorting 10 M key names takes some 30 s of a worker's set-up, which reads and updates never need.
    :class:`Checker` asks for them before the clock when its workload has an operation that does."""

    def __init__(self, spec: WorkloadSpec, group_count: np.ndarray, group_sum: np.ndarray,
                 join_count: np.ndarray, join_sum: np.ndarray) -> None:
        self.spec = spec
        self.group_count, self.group_sum = group_count, group_sum
        #: join workloads: per region, the orders of its customers and the sum of their amounts
        self.join_count, self.join_sum = join_count, join_sum
        self._order: tuple[list[str], list[int]] | None = None
        self._lock = threading.Lock()

    @property
    def sorted_keys(self) -> list[str]:
        return self._ordered()[0]

    @property
    def sorted_nums(self) -> list[int]:
        """The key number of each of :attr:`sorted_keys`."""
        return self._ordered()[1]

    def _ordered(self) -> tuple[list[str], list[int]]:
        with self._lock:
            if self._order is None:
                nums = loaded_numbers(self.spec)
                names = KeyNamer(self.spec).names(nums)
                order = sorted(range(len(names)), key=names.__getitem__)
                self._order = [names[i] for i in order], [int(nums[i]) for i in order]
            return self._order


#: the run-phase operations whose checks look keys up in key order (:attr:`Loaded.sorted_keys`)
KEY_ORDER_OPERATIONS = ("scan", "find", "find_range", "graph", "shortest_path")


def loaded_numbers(spec: WorkloadSpec) -> np.ndarray:
    return np.arange(spec.insertstart, spec.insertstart + spec.loaded_count(), dtype=np.int64)


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
        names = KeyNamer(spec).names(loaded_numbers(spec)) if values.query or values.join_fields else []
        counts = np.zeros(spec.querygroups, dtype=np.int64)
        sums = np.zeros(spec.querygroups, dtype=np.int64)
        if values.query:
            for key in names:
                g = values.group_of(key)
                counts[g] += 1
                sums[g] += values.summand_of(key)
        join_count = np.zeros(spec.joingroups, dtype=np.int64)
        join_sum = np.zeros(spec.joingroups, dtype=np.int64)
        if values.join_fields:
            for key in names:
                _, customer, amount = values.join_row(key)
                if customer is not None:
                    region = values.join_row(customer)[0]
                    assert region is not None
                    join_count[region] += 1
                    join_sum[region] += amount
        found = _LOADED[cache_key] = Loaded(spec, counts, sums, join_count, join_sum)
        return found


#: what a read needs from before it was sent: ``rs`` and the fields' floors then
Before = tuple[int, list[int] | None]


class Checker:
    def __init__(self, spec: WorkloadSpec, seed: int, values: Values, recorder: Recorder, workers: int,
                 ledger: Ledger, enabled: bool, update_creates: bool = False, shared: bool = True) -> None:
        self.spec, self.values, self.rec, self.ledger = spec, values, recorder, ledger
        self.enabled = enabled
        self.workers = workers
        #: the ledger holds every worker's writes; False (a Spark task's own ledger): only this worker's,
        #: so what others may have written or deleted meanwhile is allowed (see :attr:`others_delete`)
        self.shared = shared
        self.others_delete = not shared and workers > 1 and spec.deleteproportion > 0
        self.others_insert = not shared and workers > 1 and spec.insertproportion > 0
        #: the store's update is an upsert (``update_requires_existing=False``, e.g. HBase's put): an update
        #: of a deleted record creates it again with the updated fields only
        self.update_creates = update_creates
        self.loaded_first = spec.insertstart
        self.loaded_end = spec.insertstart + spec.loaded_count()
        #: the run's inserts take key numbers from here up
        self.insert_first = spec.recordcount
        #: every key of the table is one this run loads or inserts: a key it cannot name is not ours
        self.owns_keys = spec.insertstart == 0 and spec.loaded_count() == spec.recordcount and spec.hostcount == 1
        #: ``--host I/N`` on a shared data set: other hosts write the keys they own (:func:`key_owner`)
        self.hosts, self.hostindex = spec.hostcount, spec.hostindex
        #: ... and delete them, when the workload deletes: a key of another host may be gone at any time
        self.hosts_delete = spec.hostcount > 1 and spec.deleteproportion > 0
        self.namer = KeyNamer(spec)
        self.field_index = ledger.field_index
        #: key -> (fields asked, the answer, its rs) last verified for it
        self.verified: dict[str, tuple[tuple[str, ...] | None, Mapping[str, str], int]] = {}
        self.verified_capacity = verified_capacity(spec)
        self.expected: Loaded | None = loaded(spec, seed, values) if enabled else None
        if self.expected is not None and any(spec.proportions()[op] > 0 for op in KEY_ORDER_OPERATIONS):
            self.expected.sorted_keys  # noqa: B018 - made now, before the clock, not at the first scan
        #: names of the run's inserted keys this checker has learnt (sorted), and their key numbers
        self._inserted: list[str] = []
        self._inserted_num: dict[str, int] = {}
        self._known_high = self.insert_first
        self._loaded_num: dict[str, int] | None = None
        #: join workloads: did any load insert fail (the join's expected answer is then an upper bound)?
        self._load_unsure = enabled and spec.joinproportion > 0 and any(
            ledger.get(k, INS) == UNSURE for k in range(self.loaded_first, self.loaded_end) if ledger.tracked(k))
        #: a document workload's loaded keys by their documents' customer, and its loaded (placed, key, key
        #: number) sorted: made now, before the clock, when the workload finds (at 10 M records, seconds)
        self._by_customer: dict[str, list[tuple[str, int]]] | None = None
        self._by_placed: list[tuple[int, str, int]] | None = None
        if self.expected is not None and spec.findproportion > 0:
            self._holding("")
        if self.expected is not None and spec.findrangeproportion > 0:
            self._placed_within(0, 0)

    def fail(self, op: str, message: str) -> None:
        self.rec.fail_last(op, message)

    # -- existence ---------------------------------------------------------------------------------
    def before(self, keynum: int) -> Before:
        """Taken just before a read is sent: its ``rs`` and the key's field floors."""
        ledger = self.ledger
        rs = ledger.now()
        return rs, (ledger.field_floors(keynum) if self.enabled and ledger.tracked(keynum) else None)

    def must_exist(self, keynum: int, rs: int, re: int) -> bool:
        if not self.ledger.tracked(keynum):
            return False
        state = self.ledger.key_state(keynum)
        issued = state[DEL_ISSUED]
        return 0 < state[INS] < rs and not (issued and issued <= re) and not self.others_delete \
            and not (self.hosts_delete and self._foreign_key(keynum))

    def _foreign_key(self, keynum: int) -> bool:
        """A shared key of the data set that another client host owns (``--host I/N``)."""
        return keynum < self.insert_first and key_owner(keynum, self.hosts) != self.hostindex

    def _origin(self, keynum: int) -> str:
        return "loaded" if self.loaded_first <= keynum < self.loaded_end else "inserted and acknowledged"

    def _missing(self, op: str, keynum: int, key: str, status: str, rs: int, re: int) -> bool:
        """A NOT_FOUND for a key that must exist is a failure; True if the answer was such a failure."""
        if status == NOT_FOUND and self.enabled and self.must_exist(keynum, rs, re):
            self.fail(op, f"{op} of {key}: NOT_FOUND, but the record was {self._origin(keynum)} before the "
                          f"{op} was sent and no delete of it had been issued")
            return True
        if status == NOT_FOUND and self.hosts_delete and self._foreign_key(keynum):
            self.ledger.count(C_FOREIGN_ABSENT)  # its owner may have deleted it: not judged
        return False

    def _found_problem(self, keynum: int, key: str, rs: int, re: int) -> tuple[str | None, bool]:
        """Why ``key`` cannot exist during [rs, re] (None if it may), and whether it may lack fields."""
        if not self.ledger.tracked(keynum):
            return None, False
        state = self.ledger.key_state(keynum)
        issued, acked = state[DEL_ISSUED], state[DEL_ACK]
        if self.update_creates and self.hosts > 1 and self._foreign_key(keynum):
            # deleted before the run, or by its owner during it (a deleting workload): its owner's update (an
            # upsert) may re-create it, with the updated fields only
            return None, issued > 0 or self.hosts_delete
        recreated = self.update_creates and issued > 0 and state[WRITE_ISSUED] > issued
        if 0 < acked < rs and not recreated:
            return f"{key}: found, but its delete was acknowledged before this was sent", False
        if keynum >= self.insert_first and state[INS] == 0 and state[WRITE_ISSUED] == 0 and not self.others_insert:
            return f"{key}: found, but no insert of it was ever issued", False
        return None, self.update_creates and 0 < issued <= re

    # -- answers -----------------------------------------------------------------------------------
    def read(self, op: str, keynum: int, key: str, got: Record | None, fields: Sequence[str] | None,
             status: str, before: Before) -> bool:
        """Check a read's answer; False if it failed a check."""
        if not self.enabled:
            return True
        rs, floors = before
        re = self.ledger.now()
        if status != OK:
            return not self._missing(op, keynum, key, status, rs, re)
        problem = self.record_problem(keynum, key, got or {}, fields, rs, re, floors)
        if problem:
            self.fail(op, f"{op} returned wrong data: {problem}")
            return False
        return True

    def record_problem(self, keynum: int, key: str, got: Mapping[str, str], fields: Sequence[str] | None,
                       rs: int, re: int, floors: list[int] | None) -> str | None:
        asked = None if fields is None else tuple(fields)
        seen = self.verified.get(key)
        ledger = self.ledger
        tracked = ledger.tracked(keynum)
        if seen is not None and seen[1] == got and seen[0] == asked and (
                not tracked or ledger.get(keynum, CHANGED) < seen[2]):
            return None
        problem = self._record_problem(keynum, key, got, fields, rs, re, floors)
        if problem is None:
            verified = self.verified
            if len(verified) >= self.verified_capacity:
                del verified[next(iter(verified))]  # the key verified longest ago (insertion order)
            verified[key] = (asked, dict(got), rs)
        return problem

    def _record_problem(self, keynum: int, key: str, got: Mapping[str, str], fields: Sequence[str] | None,
                        rs: int, re: int, floors: list[int] | None) -> str | None:
        values = self.values
        problem, partial_ok = self._found_problem(keynum, key, rs, re)
        if problem:
            return problem
        expected = fields if fields is not None else values.fields
        if len(got) != len(expected) or got.keys() != (values.field_set if fields is None else set(expected)):
            if not (partial_ok and got and set(got) <= set(expected)):
                missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
                return (f"{key}: fields differ from those asked: " + ", ".join(
                    filter(None, [f"missing {missing}" if missing else "", f"not asked {extra}" if extra else ""])))
            expected = list(got)  # a record an upsert re-created after a delete: check what it has
        for f in expected:
            verdict = values.check(key, f, got[f])
            if isinstance(verdict, str):
                return verdict
            if verdict is not None:
                problem = self._version_problem(keynum, key, f, verdict,
                                                None if floors is None else floors[self.field_index[f]])
                if problem:
                    return problem
        return None

    def _version_problem(self, keynum: int, key: str, field: str, got: Version, floor: int | None) -> str | None:
        writer, seq = got
        ledger = self.ledger
        acked: int | None
        if ledger.dataset_state is not None and (writer == LOAD_WRITER or seq <= ledger.seq_base):
            held = ledger.held(keynum, field) if ledger.tracked(keynum) else None
            if held != got:
                was = "no such field" if held is None else f"version {held[0]}/{held[1]}"
                return (f"{key}: {field} holds version {writer}/{seq}, from before this run, but the data set held "
                        f"{was} when this run began (a stale, rolled-back or misplaced value)")
            who, acked = "the data set's (before this run)", BEFORE_RUN
        elif writer == LOAD_WRITER:
            if seq != 0:
                return f"{key}: {field} holds load write #{seq}; the load writes #0 only"
            if not self.loaded_first <= keynum < self.loaded_end and keynum >= self.insert_first:
                return f"{key}: {field} holds a load value, but the load never wrote {key}"
            who = "the load"
            acked = ledger.get(keynum, INS) if ledger.tracked(keynum) else None
        elif self.hosts > 1 and ledger.writer_host(writer) != self.hostindex:
            return self._foreign_problem(keynum, key, field, writer, seq)
        else:
            if (writer - 1) // self.hosts >= self.workers:
                return f"{key}: {field} holds a version by writer {writer}, which does not exist in this run"
            if not self.shared and writer != self.values.writer:
                return None  # another task's write: this ledger does not hold it
            if seq > ledger.issued(writer):
                return (f"{key}: {field} holds write #{seq} of worker {writer - 1}, which had issued only "
                        f"{ledger.issued(writer)} writes")
            who = f"worker {writer - 1}"
            acked = ledger.acked_at(writer, seq)
            if acked is None:
                ledger.count(C_UNJUDGED)
        if floor and acked and acked < floor and acked != UNSURE:
            return (f"{key}: {field} holds {who}'s write #{seq}, but a write of that field issued "
                    f"{(floor - acked) / 1e3:,.0f} µs after that one was acknowledged had itself been "
                    f"acknowledged before this read was sent (lost update)")
        return None

    def _foreign_problem(self, keynum: int, key: str, field: str, writer: int, seq: int) -> str | None:
        """A version another client host wrote during this generation (``--host I/N``): this ledger does
        not hold that host's writes, so what is checked is that the value was written for this key and
        field (its CRC, already checked), by the host that owns the key, in this generation (``seq`` above
        ``seq_base``); counted in C_FOREIGN.  Not checked: whether it is that host's latest write."""
        host = self.ledger.writer_host(writer)
        if keynum >= self.insert_first:
            return (f"{key}: {field} holds a write of host {host}, but this host inserted {key} and writes it "
                    f"alone")
        if key_owner(keynum, self.hosts) != host:
            return (f"{key}: {field} holds a write of host {host}, but key #{keynum} is owned (written only) by "
                    f"host {key_owner(keynum, self.hosts)}")
        self.ledger.count(C_FOREIGN)
        return None

    def _foreign_record(self, key: str, got: Mapping[str, str]) -> str | None:
        """A record a scan returned that this host cannot name: another host's insert (``--host I/N``).
        Checked: each value was written for this key and field."""
        for f, value in got.items():
            verdict = self.values.check(key, f, value)
            if isinstance(verdict, str):
                return verdict
        self.ledger.count(C_FOREIGN)
        return None

    # -- writes ------------------------------------------------------------------------------------
    def issue(self, keynum: int, seq: int, insert_key: str | None = None) -> int:
        """Just before an update (or, with ``insert_key``, an insert) is sent: its issue time."""
        ledger = self.ledger
        if not self.enabled:
            return 0
        if insert_key is not None and self.values.query:
            ledger.insert_issued(keynum, self.values.group_of(insert_key), self.values.summand_of(insert_key))
        elif insert_key is not None:
            ledger.insert_issued(keynum, 0, 0)
        if insert_key is None:  # an update: its issue time, and with upserts, its key's writes in flight
            return ledger.issue(self.values.writer, seq, keynum, self.update_creates)
        return ledger.issue(self.values.writer, seq, keynum, False)

    def wrote(self, op: str, keynum: int, key: str, fields: Sequence[str], seq: int, status: str,
              issued: int) -> None:
        """After an insert or update returned: record it; flag a NOT_FOUND that cannot be."""
        if not self.enabled:
            return
        ledger = self.ledger
        ok = status == OK
        insert = op == "insert"
        ledger.acknowledge(self.values.writer, seq, keynum, fields, issued, ok, self.update_creates and not insert)
        if insert:
            group, summand = self._group(key)
            ledger.insert_returned(keynum, ok, group, summand)
        elif status == NOT_FOUND:
            self._missing(op, keynum, key, status, issued, ledger.now())

    def _group(self, key: str) -> tuple[int, int]:
        values = self.values
        return (values.group_of(key), values.summand_of(key)) if values.query else (0, 0)

    def delete_issued(self, keynum: int, key: str) -> tuple[int, bool]:
        """Just before a delete is sent: its ``rs``, and whether it is the first delete of that key."""
        rs = self.ledger.now()
        if not self.enabled:
            return rs, False
        group, summand = self._group(key)
        return rs, self.ledger.delete_issued(keynum, group, summand)

    def deleted_key(self, keynum: int, key: str, status: str, issued: tuple[int, bool]) -> None:
        rs, first = issued
        if not self.enabled:
            return
        group, summand = self._group(key)
        self.ledger.delete_returned(keynum, first, status == OK, group, summand)
        # NOT_FOUND is a lie only if no other delete of the key was issued before this one returned: a later
        # delete may reach the store first (two workers deleting one key: the first issued may lose the race)
        if status == NOT_FOUND and first and self.ledger.tracked(keynum) \
                and 0 < self.ledger.get(keynum, INS) < rs and not self.ledger.get(keynum, DEL_LATER):
            self.fail("delete", f"delete of {key}: NOT_FOUND, but the record was {self._origin(keynum)} before "
                                f"the delete was sent and no other delete of it was issued before it returned")

    # -- key names ---------------------------------------------------------------------------------
    def _learn_inserts(self) -> None:
        high = self.ledger.counter(C_HIGH)
        if high <= self._known_high:
            return
        names = self.namer.names(np.arange(self._known_high, high, dtype=np.int64))
        for num, name in zip(range(self._known_high, high), names, strict=True):
            self._inserted_num[name] = num
            bisect.insort(self._inserted, name)
        self._known_high = high

    def keynum_of(self, key: str) -> int | None:
        """The key number of a key this run loads or inserted (None for any other)."""
        if self._loaded_num is None:
            assert self.expected is not None
            self._loaded_num = dict(zip(self.expected.sorted_keys, self.expected.sorted_nums, strict=True))
        num = self._loaded_num.get(key)
        if num is None:
            self._learn_inserts()
            num = self._inserted_num.get(key)
        return num

    def _between(self, lo: str, hi: str | None) -> list[tuple[str, int]]:
        """Keys this run loads or inserted, from ``lo`` up to ``hi`` (to the end when None), in key order."""
        assert self.expected is not None
        self._learn_inserts()
        out: list[tuple[str, int]] = []
        for names, num_of in ((self.expected.sorted_keys, None), (self._inserted, self._inserted_num)):
            a = bisect.bisect_left(names, lo)
            b = len(names) if hi is None else bisect.bisect_right(names, hi, a)
            if num_of is None:
                out.extend(zip(names[a:b], self.expected.sorted_nums[a:b], strict=True))
            else:
                out.extend((n, num_of[n]) for n in names[a:b])
        out.sort()
        return out

    # -- scans, queries, traversals ----------------------------------------------------------------
    def scan(self, start: str, count: int, rows: list[tuple[str, Record]], fields: Sequence[str] | None,
             status: str, rs: int) -> None:
        if not self.enabled or status != OK:
            return
        re = self.ledger.now()
        keys = [k for k, _ in rows]
        problem = None
        if len(rows) > count:
            problem = f"scan from {start} asked {count} rows, got {len(rows)}"
        elif keys != sorted(keys) or (keys and keys[0] < start) or len(set(keys)) != len(keys):
            problem = f"scan from {start} returned keys out of order, repeated or before the start key"
        else:
            problem = self._scan_coverage(start, count, keys, rs, re)
        if problem is None:
            ledger = self.ledger
            for k, record in rows:
                num = self.keynum_of(k)
                if num is None:
                    if self.owns_keys:
                        problem = f"{k}: found, but this run never wrote that key"
                        break
                    if self.hosts > 1:
                        problem = self._foreign_record(k, record)
                        if problem:
                            break
                    continue
                quiet = ledger.tracked(num) and ledger.get(num, CHANGED) < rs
                problem = self.record_problem(num, k, record, fields, rs, re,
                                              ledger.field_floors(num) if quiet else None)
                if problem:
                    break
        if problem:
            self.fail("scan", f"scan returned wrong data: {problem}")

    def _scan_coverage(self, start: str, count: int, keys: list[str], rs: int, re: int) -> str | None:
        present = set(keys)
        end = keys[-1] if len(keys) >= count else None  # a short scan must have reached the end of the table
        for k, num in self._between(start, end):
            if k not in present and self.must_exist(num, rs, re):
                reach = f"up to {end}" if end is not None else "to the end of the table"
                return (f"scan from {start} ({count} rows asked, {len(keys)} returned, {reach}) skipped {k}, "
                        f"{self._origin(num)} before the scan was sent and never deleted")
        return None

    def find(self, equals: str, rows: list[tuple[str, Record]] | None, status: str, rs: int) -> None:
        """A find by the documents' customer: exactly the records that hold it (the customer is a function
        of the key and a document workload neither inserts nor deletes), in key order, each record checked
        as a scan's is (values always; versions against the ledger when no write of it was acknowledged
        while the find ran)."""
        if not self.enabled or status != OK or rows is None:
            return
        assert self.values.document is not None
        customer_of = self.values.document.customer_of
        problem = self._found(rows, self._holding(equals), f"holds {equals!r}", rs,
                              lambda k: None if customer_of(k) == equals
                              else f"its document's {FIND_PATH} is {customer_of(k)!r}")
        if problem:
            self.fail("find", f"find {FIND_PATH} = {equals!r} returned wrong data: {problem}")

    def find_range(self, lo: int, hi: int, rows: list[tuple[str, Record]] | None, status: str, rs: int) -> None:
        """A range query on the documents' ``placed`` number: exactly the records whose number lies in
        ``[lo, hi)`` (a function of the key, never rewritten), in key order, each checked as a find's."""
        if not self.enabled or status != OK or rows is None:
            return
        assert self.values.document is not None
        placed_of = self.values.document.placed_of
        problem = self._found(rows, self._placed_within(lo, hi), f"was placed at {RANGE_PATH} in [{lo}, {hi})",
                              rs, lambda k: None if lo <= placed_of(k) < hi
                              else f"its document's {RANGE_PATH} {placed_of(k)} is outside [{lo}, {hi})")
        if problem:
            self.fail("find_range", f"find {lo} <= {RANGE_PATH} < {hi} returned wrong data: {problem}")

    def _found(self, rows: list[tuple[str, Record]], expected: list[tuple[str, int]], holds: str, rs: int,
               wrong: Callable[[str], str | None]) -> str | None:
        """What is wrong with a find's answer ``rows`` whose expected keys are ``expected`` (None: right):
        key order, none missing that must exist, none that ``wrong`` refuses, each record as a scan's."""
        re = self.ledger.now()
        keys = [k for k, _ in rows]
        if keys != sorted(keys) or len(set(keys)) != len(keys):
            return f"keys out of order or repeated: {keys[:8]}"
        present = set(keys)
        for k, loaded in expected:
            if k not in present and self.must_exist(loaded, rs, re):
                return (f"{len(keys)} records returned without {k}, which {holds} and was "
                        f"{self._origin(loaded)} before the find was sent")
        ledger = self.ledger
        for k, record in rows:
            num = self.keynum_of(k)
            if num is None:
                return f"{k}: found, but this run never wrote that key"
            reason = wrong(k)
            if reason is not None:
                return f"{k}: returned, but {reason}"
            quiet = ledger.tracked(num) and ledger.get(num, CHANGED) < rs
            problem = self.record_problem(num, k, record, None, rs, re, ledger.field_floors(num) if quiet else None)
            if problem:
                return problem
        return None

    def _placed_within(self, lo: int, hi: int) -> list[tuple[str, int]]:
        """The loaded keys (and key numbers) whose document's ``placed`` lies in ``[lo, hi)``, in key order
        (the sorted dates are made at the first call)."""
        if self._by_placed is None:
            assert self.expected is not None and self.values.document is not None
            placed_of = self.values.document.placed_of
            self._by_placed = sorted((placed_of(k), k, num) for k, num in
                                     zip(self.expected.sorted_keys, self.expected.sorted_nums, strict=True))
        by_placed = self._by_placed
        first, last = bisect.bisect_left(by_placed, (lo,)), bisect.bisect_left(by_placed, (hi,))
        return sorted((k, num) for _, k, num in by_placed[first:last])

    def _holding(self, equals: str) -> list[tuple[str, int]]:
        """The loaded keys (and key numbers) whose document holds customer ``equals``."""
        if self._by_customer is None:
            assert self.expected is not None and self.values.document is not None
            customer_of = self.values.document.customer_of
            self._by_customer = {}
            for k, num in zip(self.expected.sorted_keys, self.expected.sorted_nums, strict=True):
                self._by_customer.setdefault(customer_of(k), []).append((k, num))
        return self._by_customer.get(equals, [])

    def query_before(self, group: int) -> tuple[int, int, int, int, int]:
        """Just before a query is sent: ``rs`` and the group's acknowledged inserts and deletes then."""
        ledger = self.ledger
        return (ledger.now(), ledger.group(G_INS_ACK, group), ledger.group_sum(G_INS_ACK, group),
                ledger.group(G_DEL_ACK, group), ledger.group_sum(G_DEL_ACK, group))

    def query(self, group: int, query: Query, result: QueryResult | None, status: str,
              before: tuple[int, int, int, int, int]) -> None:
        if not self.enabled or status != OK or self.expected is None or result is None or not self.values.query:
            return
        ledger = self.ledger
        _, ins_ack, ins_ack_sum, del_ack, del_ack_sum = before
        base_count, base_sum = int(self.expected.group_count[group]), int(self.expected.group_sum[group])
        lo = base_count - ledger.group(G_UNSURE, group) + ins_ack - ledger.group(G_DEL_ISSUED, group)
        hi = base_count + ledger.group(G_INS_ISSUED, group) - del_ack
        lo_sum = base_sum - ledger.group_sum(G_UNSURE, group) + ins_ack_sum - ledger.group_sum(G_DEL_ISSUED, group)
        hi_sum = base_sum + ledger.group_sum(G_INS_ISSUED, group) - del_ack_sum
        if self.others_delete:  # other tasks' deletes are not in this ledger
            lo, lo_sum = 0, 0
        if self.others_insert:
            hi = hi_sum = 1 << 62

        def expected(a: int, b: int) -> str:
            return f"{a}" if a == b else f"between {a} and {b} (writes of that group in flight)"

        problem = None
        if not lo <= result.count <= hi:
            problem = f"count {result.count}, expected {expected(lo, hi)}"
        elif query.aggregate == "sum" and (result.total is None or not lo_sum <= result.total <= hi_sum):
            problem = f"sum {result.total}, expected {expected(lo_sum, hi_sum)}"
        if problem:
            self.fail("query", f"query {query.field} = {query.equals!r} returned {problem}")

    def join(self, first: int, join: Join, result: JoinResult | None, status: str) -> None:
        """A join must give every region of its window with a child exactly the loaded count and sum, and no
        other region (at most those when a load insert failed)."""
        if not self.enabled or status != OK or result is None:
            return
        assert self.expected is not None
        exact = not self._load_unsure
        window = {self.values.region(g): g for g in range(first, first + self.spec.joinwindow)}
        asked = f"join of regions {join.low}..{join.high}"
        extra = sorted(set(result) - set(window))
        if extra:
            self.fail("join", f"{asked} answered region {extra[0]!r}, which is not among them")
            return
        for region, g in window.items():
            want = int(self.expected.join_count[g]), int(self.expected.join_sum[g])
            got = result.get(region, (0, 0))
            if got != want if exact else not (got[0] <= want[0] and got[1] <= want[1]):
                bound = "" if exact else "at most "
                self.fail("join", f"{asked}: region {region} has {got[0]} orders summing to {got[1]}, expected "
                                  f"{bound}{want[0]} orders summing to {bound}{want[1]}")
                return

    def _walk(self, key: str, keynum: int, hops: int, certain: bool, rs: int, re: int,
              goal: str | None = None) -> dict[str, str]:
        """Breadth-first over the harness's model of the links, up to ``hops`` steps (or until ``goal`` is
        reached): every key reached -> the key it was first reached from (the start: itself).  ``certain``:
        follow only records that must exist during the operation (``rs``..``re``); else every record that
        may exist then."""
        parent, frontier = {key: key}, [(key, keynum)]
        for _ in range(hops):
            if goal in parent:
                break
            following: list[tuple[str, int]] = []
            for node, num in frontier:
                if certain and not self.must_exist(num, rs, re):
                    continue
                if not certain and self._found_problem(num, node, rs, re)[0] is not None:
                    continue
                for target in self.values.links(node):
                    if target not in parent:
                        parent[target] = node
                        target_num = self.keynum_of(target)
                        following.append((target, -1 if target_num is None else target_num))
            frontier = following
        return parent

    def graph(self, key: str, keynum: int, hops: int, reached: set[str] | None, status: str, rs: int) -> None:
        """A traversal must reach every key reachable through records that must exist, and nothing
        beyond what records that may exist lead to."""
        if not self.enabled or status != OK or reached is None:
            return
        re = self.ledger.now()
        lower = set(self._walk(key, keynum, hops, True, rs, re)) - {key}
        missing = lower - reached
        if missing:
            self.fail("graph", f"graph from {key} reached {len(reached)} keys but not {sorted(missing)[0]} "
                               f"(and {len(missing) - 1} more), reachable through records that must exist")
            return
        extra = reached - (set(self._walk(key, keynum, hops, False, rs, re)) - {key})
        if extra:
            self.fail("graph", f"graph from {key} reached {sorted(extra)[0]} (and {len(extra) - 1} more), "
                               f"which no record that may exist links to within {hops} hops")

    def shortest_path(self, source: str, keynum: int, target: str, max_hops: int, path: list[str] | None,
                      status: str, rs: int) -> None:
        """A path must be a chain of links from ``source`` to ``target`` through records that may exist, no
        longer than the shortest chain through records that must exist; no path only when no chain of at
        most ``max_hops`` links runs through records that must exist."""
        if not self.enabled or status != OK:
            return
        re = self.ledger.now()
        parent = self._walk(source, keynum, max_hops, True, rs, re, target)
        shortest = None
        if target in parent:
            shortest, node = 0, target
            while node != source:
                shortest, node = shortest + 1, parent[node]
        if path is None:
            if shortest is not None:
                self.fail("shortest_path", f"no path from {source} to {target} answered, but {shortest} links "
                                           f"join them through records that must exist")
            return
        problem = self._broken_link(source, target, path, rs, re)
        if problem is None and shortest is not None and len(path) - 1 > shortest:
            problem = f"{len(path) - 1} links long, but {shortest} links join them through records that must exist"
        if problem is None and len(path) - 1 > max_hops:
            problem = f"{len(path) - 1} links long, more than the {max_hops} asked for"
        if problem:
            self.fail("shortest_path", f"path from {source} to {target} {path[:8]}: {problem}")

    def _broken_link(self, source: str, target: str, path: list[str], rs: int, re: int) -> str | None:
        """Why ``path`` is not a chain of links from ``source`` to ``target`` through records that may exist."""
        if not path or path[0] != source or path[-1] != target:
            return "does not run from the source to the target"
        if len(set(path)) != len(path):
            return "visits a key twice"
        for node, step in itertools.pairwise(path):
            num = self.keynum_of(node)
            if self._found_problem(-1 if num is None else num, node, rs, re)[0] is not None:
                return f"goes through {node}, which cannot exist during the operation"
            if step not in self.values.links(node):
                return f"{node} does not link to {step}"
        return None
