"""The conformance suite on the adapters that need no server."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from storagebench.adapters.base import NAMESPACE_PREFIX, Adapter
from storagebench.adapters.duckdb.adapter import DuckDBAdapter
from storagebench.adapters.localdir.adapter import LocalDirAdapter
from storagebench.adapters.null.adapter import NullAdapter
from storagebench.adapters.sqlite.adapter import SQLiteAdapter

from storagebench.testing.conformance import AdapterConformance


class TestNull(AdapterConformance):
    @pytest.fixture
    def adapter_factory(self) -> Callable[[], Adapter]:
        return NullAdapter


class TestSQLite(AdapterConformance):
    @pytest.fixture
    def adapter_factory(self, tmp_path: Path) -> Callable[[], Adapter]:
        return lambda: SQLiteAdapter({"path": tmp_path / "db.sqlite"})


class TestDuckDB(AdapterConformance):
    @pytest.fixture
    def adapter_factory(self, tmp_path: Path) -> Callable[[], Adapter]:
        return lambda: DuckDBAdapter({"path": tmp_path / "db.duckdb"})


class TestLocalDir(AdapterConformance):
    @pytest.fixture
    def adapter_factory(self, tmp_path: Path) -> Callable[[], Adapter]:
        return lambda: LocalDirAdapter({"root": tmp_path / "store"})


def test_foreign_table_survives_sqlite_drop(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    import sqlite3

    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE usertable (key TEXT PRIMARY KEY, v TEXT)")
    raw.execute("INSERT INTO usertable VALUES ('k', 'v')")
    raw.commit()
    with SQLiteAdapter({"path": path}) as adapter:
        adapter.prepare("sbench_x", ["field0"])
        adapter.insert("sbench_x", "k", {"field0": "a"})
        adapter.drop("sbench_x")
    assert raw.execute("SELECT v FROM usertable WHERE key='k'").fetchone() == ("v",)


def _open_sqlite(path: str, barrier: Any, answers: Any) -> None:
    barrier.wait()
    try:
        adapter = SQLiteAdapter({"path": Path(path)})
        adapter.connect()
        adapter.prepare(f"{NAMESPACE_PREFIX}t", ["field0"])
        adapter.close()
        answers.put("ok")
    except Exception as exc:  # the test reports what failed
        answers.put(repr(exc))


def test_processes_opening_one_new_sqlite_file_together_all_get_in(tmp_path: Path) -> None:
    # two runs at once on the default file (the embedded default, or a CI job run twice): switching a new
    # file to WAL takes an exclusive lock, and SQLite refuses the losers at once ("database is locked",
    # no busy wait: it could deadlock); without a retry, 3 processes failed 27 tries in 200
    ctx = mp.get_context("fork")
    failures = []
    for attempt in range(40):
        barrier, answers = ctx.Barrier(3), ctx.Queue()
        procs = [ctx.Process(target=_open_sqlite, args=(str(tmp_path / f"{attempt}.db"), barrier, answers))
                 for _ in range(3)]
        for p in procs:
            p.start()
        failures += [a for a in (answers.get(timeout=60) for _ in procs) if a != "ok"]
        for p in procs:
            p.join(timeout=60)
    assert failures == []
