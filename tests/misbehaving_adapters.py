"""Stores that lie, on purpose: SQLite with one thing broken each.  The harness must catch every one.

They are registered like any contributor's adapter, through the ``storagebench.adapters`` entry-point
group (``tests/test_misbehaving.py`` writes a ``.dist-info`` with their entry points and puts it and this
folder on ``PYTHONPATH``), so ``storagebench run --stores loses_inserts,...`` loads them as it would a
real store.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from storagebench.adapters.base import Query, QueryResult, Record, require_found
from storagebench.adapters.sqlite.adapter import SQLiteAdapter, SQLiteOptions

from storagebench.errors import NotFound


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
