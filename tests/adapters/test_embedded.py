"""The conformance suite on the adapters that need no server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from storagebench.adapters.base import Adapter
from storagebench.adapters.duckdb import DuckDBAdapter
from storagebench.adapters.localdir import LocalDirAdapter
from storagebench.adapters.null import NullAdapter
from storagebench.adapters.sqlite import SQLiteAdapter

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
