"""Stores that lie, on purpose: SQLite with one thing broken each.  The harness must catch every one.

They are registered like any contributor's adapter, through the ``storagebench.adapters`` entry-point
group (``tests/test_misbehaving.py`` writes a ``.dist-info`` with their entry points and puts it and this
folder on ``PYTHONPATH``), so ``storagebench run --stores loses_inserts,...`` loads them as it would a
real store.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from storagebench.adapters.base import Capabilities, Join, JoinResult, Query, QueryResult, Record, require_found
from storagebench.adapters.sqlite.adapter import SQLiteAdapter, SQLiteOptions

from storagebench.errors import AdapterError, NotFound


class LosesInserts(SQLiteAdapter):
    name = "loses_inserts"
    description = "acknowledges inserts, stores nothing"

    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        pass


class CorruptsReads(SQLiteAdapter):
    name = "corrupts_reads"
    description = "returns field values with one character changed"

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        got = super().read(namespace, key, fields)
        return {f: v[:-1] + ("A" if v[-1:] != "A" else "B") for f, v in got.items()}


class DropsUpdates(SQLiteAdapter):
    name = "drops_updates"
    description = "acknowledges updates of existing records, never applies them"

    def update(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        found = self._execute(f"SELECT 1 FROM {namespace} WHERE key = ?", [key]).fetchone()
        require_found(found is not None, namespace, key)


class EmptyScans(SQLiteAdapter):
    name = "empty_scans"
    description = "every scan returns no records"

    def scan(self, namespace: str, start_key: str, count: int,
             fields: Sequence[str] | None = None) -> list[tuple[str, Record]]:
        return []


class WrongAggregate(SQLiteAdapter):
    name = "wrong_aggregate"
    description = "counts and sums one too many"

    def query(self, namespace: str, query: Query) -> QueryResult:
        right = super().query(namespace, query)
        return QueryResult(right.count + 1, None if right.total is None else right.total + 1)


class NotFoundEverything(SQLiteAdapter):
    name = "not_found_everything"
    description = "every read answers NOT_FOUND"

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        raise NotFound(f"{namespace}/{key}")


ALL = (LosesInserts, CorruptsReads, DropsUpdates, EmptyScans, WrongAggregate, NotFoundEverything)


# -- the second round: lies that only a fresh connection, a shared ledger or a stricter check exposes --------

class UncommittedUpdates(SQLiteAdapter):
    name = "uncommitted_updates"
    description = "acknowledges updates that only its own session sees (never committed)"

    def connect(self) -> None:
        super().connect()
        self.pending: dict[str, dict[str, str]] = {}

    def update(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        found = self._execute(f"SELECT 1 FROM {namespace} WHERE key = ?", [key]).fetchone()
        require_found(found is not None, namespace, key)
        self.pending.setdefault(key, {}).update(values)

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        mine = self.pending.get(key, {})
        return {f: mine.get(f, v) for f, v in super().read(namespace, key, fields).items()}


class SwapsRecords(SQLiteAdapter):
    name = "swaps_records"
    description = "answers a read with the next key's record"

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        row = self._execute(f"SELECT key FROM {namespace} WHERE key > ? ORDER BY key LIMIT 1", [key]).fetchone()
        return super().read(namespace, row[0] if row else key, fields)


class KeepsDeleted(SQLiteAdapter):
    name = "keeps_deleted"
    description = "acknowledges deletes, deletes nothing"

    def delete(self, namespace: str, key: str) -> None:
        found = self._execute(f"SELECT 1 FROM {namespace} WHERE key = ?", [key]).fetchone()
        require_found(found is not None, namespace, key)


class PartialRecords(SQLiteAdapter):
    name = "partial_records"
    description = "declares upserts, and every record it returns lacks its last field"
    capabilities: ClassVar[Capabilities] = dataclasses.replace(SQLiteAdapter.capabilities,
                                                               update_requires_existing=False)

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        got = super().read(namespace, key, fields)
        return dict(list(got.items())[:-1]) if fields is None else got


class StaleCache(SQLiteAdapter):
    name = "stale_cache"
    description = "each connection answers from a cache of its first answers; only its own writes refresh it"

    def connect(self) -> None:
        super().connect()
        self.cache: dict[tuple[str, tuple[str, ...] | None], Record] = {}

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        slot = (key, None if fields is None else tuple(fields))
        if slot not in self.cache:
            self.cache[slot] = super().read(namespace, key, fields)
        return dict(self.cache[slot])

    def update(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        super().update(namespace, key, values)
        self.cache = {slot: r for slot, r in self.cache.items() if slot[0] != key}


class HidesOthersInserts(SQLiteAdapter):
    name = "hides_others_inserts"
    description = "records other connections inserted after it connected are NOT_FOUND and left out of scans"

    def connect(self) -> None:
        super().connect()
        self.mine: set[str] = set()
        self.seen_rowid: dict[str, int] = {}

    def _hidden(self, namespace: str) -> set[str]:
        if namespace not in self.seen_rowid:
            row = self._execute(f"SELECT max(rowid) FROM {namespace}").fetchone()
            self.seen_rowid[namespace] = int(row[0] or 0)
        rows = self._execute(f"SELECT key FROM {namespace} WHERE rowid > ?", [self.seen_rowid[namespace]])
        return {r[0] for r in rows} - self.mine

    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        self._hidden(namespace)
        super().insert(namespace, key, values)
        self.mine.add(key)

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        if key in self._hidden(namespace):
            raise NotFound(f"{namespace}/{key}")
        return super().read(namespace, key, fields)

    def scan(self, namespace: str, start_key: str, count: int,
             fields: Sequence[str] | None = None) -> list[tuple[str, Record]]:
        hidden = self._hidden(namespace)
        return [r for r in super().scan(namespace, start_key, count, fields) if r[0] not in hidden]


class FailsHalfReads(SQLiteAdapter):
    name = "fails_half_reads"
    description = "every other read fails with an error"

    def connect(self) -> None:
        super().connect()
        self.reads = 0

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        self.reads += 1
        if self.reads % 2:
            raise AdapterError("fails_half_reads: this one fails")
        return super().read(namespace, key, fields)


class UnorderedBatch(SQLiteAdapter):
    name = "unordered_batch"
    description = "batch reads return the rows in reverse key order"

    def read_batch(self, namespace: str, fields: Sequence[str] | None = None) -> Any:
        table = super().read_batch(namespace, fields)
        return table.take(list(range(table.num_rows - 1, -1, -1)))


class TinyFootprint(SQLiteAdapter):
    name = "tiny_footprint"
    description = "reports a footprint of 1 byte"

    def footprint(self, namespace: str) -> int | None:
        return 1


class OverwritesOnInsert(SQLiteAdapter):
    name = "overwrites_on_insert"
    description = "an insert of an existing key replaces the record instead of failing"

    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        names = ", ".join(values)
        marks = ", ".join("?" for _ in range(len(values) + 1))
        self._execute(f"INSERT OR REPLACE INTO {namespace} (key, {names}) VALUES ({marks})", [key, *values.values()])
        self._commit()


SECOND = (UncommittedUpdates, SwapsRecords, KeepsDeleted, PartialRecords, StaleCache, HidesOthersInserts,
          FailsHalfReads, UnorderedBatch, TinyFootprint, OverwritesOnInsert)


class PacedOptions(SQLiteOptions):
    pause_ms: float = 1.0


class Paced(SQLiteAdapter):
    """Not a liar: a healthy SQLite that sleeps ``pause_ms`` (``STORAGEBENCH_PACED_PAUSE_MS``) before each
    insert, read and update, so a test sets the store's speed exactly.  A sleep, not work: a busy machine
    barely moves it, where SQLite's own microseconds (or its fsyncs) can move 2-4x between two runs."""

    name = "paced"
    description = "SQLite that waits pause_ms before every insert, read and update"
    Options = PacedOptions
    options: PacedOptions

    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        time.sleep(self.options.pause_ms / 1e3)
        super().insert(namespace, key, values)

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        time.sleep(self.options.pause_ms / 1e3)
        return super().read(namespace, key, fields)

    def update(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        time.sleep(self.options.pause_ms / 1e3)
        super().update(namespace, key, values)


class PacedControl(Paced):
    name = "paced_control"


PACED = (Paced, PacedControl)


# -- graph lies: traversals and paths that look plausible ------------------------------------------------------

class ShallowNeighbors(SQLiteAdapter):
    name = "shallow_neighbors"
    description = "answers k-hop neighbours one hop short"

    def neighbors(self, namespace: str, key: str, hops: int, field: str) -> set[str]:
        return super().neighbors(namespace, key, hops - 1, field) if hops > 1 else set()


class DepthFirstPaths(SQLiteAdapter):
    name = "depth_first_paths"
    description = "answers a shortest path with the first chain of links a depth-first search finds (valid, longer)"

    def shortest_path(self, namespace: str, source: str, target: str, max_hops: int, field: str) -> list[str] | None:
        def search(path: list[str]) -> list[str] | None:
            if path[-1] == target:
                return path
            if len(path) > max_hops:
                return None
            for step in self._links_of(namespace, path[-1], field):
                found = search([*path, step]) if step not in path else None
                if found is not None:
                    return found
            return None

        return search([source])


class InventsShortcuts(SQLiteAdapter):
    name = "invents_shortcuts"
    description = "answers every path it finds as a direct link from the source to the target"

    def shortest_path(self, namespace: str, source: str, target: str, max_hops: int, field: str) -> list[str] | None:
        found = super().shortest_path(namespace, source, target, max_hops, field)
        return found if found is None or len(found) <= 2 else [source, target]


class StaleEdges(SQLiteAdapter):
    name = "stale_edges"
    description = "keeps a deleted record's links in its edge table (no delete trigger): walks go on through it"

    def create_edge_index(self, namespace: str, field: str) -> bool:
        built = super().create_edge_index(namespace, field)
        self._execute(f'DROP TRIGGER IF EXISTS "{namespace}$edges_del"')
        self._commit()
        return built


GRAPH = (ShallowNeighbors, DepthFirstPaths, InventsShortcuts, StaleEdges)


# -- relational lies: a join that looks plausible ----------------------------------------------------------------

class DropsAGroup(SQLiteAdapter):
    name = "drops_a_group"
    description = "answers a join of several groups without its last group"

    def join(self, namespace: str, join: Join) -> JoinResult:
        answer = super().join(namespace, join)
        if len(answer) > 1:
            answer.pop(max(answer))
        return answer


class MiscountsJoin(SQLiteAdapter):
    name = "miscounts_join"
    description = "answers a join with one order too many in its first group (the sum right)"

    def join(self, namespace: str, join: Join) -> JoinResult:
        answer = super().join(namespace, join)
        if answer:
            first = min(answer)
            answer[first] = (answer[first][0] + 1, answer[first][1])
        return answer


JOIN = (DropsAGroup, MiscountsJoin)


class FindMissesOne(SQLiteAdapter):
    name = "find_misses_one"
    description = "leaves the last matching record out of every find"

    def find(self, namespace: str, field: str, path: str, equals: str) -> list[tuple[str, Record]]:
        return super().find(namespace, field, path, equals)[:-1]


class StaleFindIndex(SQLiteAdapter):
    name = "stale_find_index"
    description = "answers finds with the documents as they were when its index was built (never refreshed)"

    def create_document_index(self, namespace: str, field: str, path: str, numeric: bool = False) -> bool:
        self._execute(f"CREATE TABLE IF NOT EXISTS {namespace}_copy AS SELECT * FROM {namespace}")
        self._commit()
        return True

    def find(self, namespace: str, field: str, path: str, equals: str) -> list[tuple[str, Record]]:
        found = super().find(namespace, field, path, equals)
        stale = dict(self._execute(f"SELECT key, {field} FROM {namespace}_copy").fetchall())
        return [(key, {**record, field: stale.get(key, record[field])}) for key, record in found]

    def drop(self, namespace: str) -> None:
        super().drop(namespace)
        self._execute(f"DROP TABLE IF EXISTS {namespace}_copy")
        self._commit()


class RangeMissesOne(SQLiteAdapter):
    name = "range_misses_one"
    description = "leaves the last record out of every range query that finds any"

    def find_range(self, namespace: str, field: str, path: str, lo: int, hi: int) -> list[tuple[str, Record]]:
        return super().find_range(namespace, field, path, lo, hi)[:-1]


class RangeOverreaches(SQLiteAdapter):
    name = "range_overreaches"
    description = "answers a range query [lo, hi) with the records of [lo, 2 hi - lo): a window too wide"

    def find_range(self, namespace: str, field: str, path: str, lo: int, hi: int) -> list[tuple[str, Record]]:
        return super().find_range(namespace, field, path, lo, 2 * hi - lo)


DOCUMENT = (FindMissesOne, StaleFindIndex, RangeMissesOne, RangeOverreaches)
