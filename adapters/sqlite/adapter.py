"""SQLite (embedded, Python's sqlite3): see :mod:`storagebench.adapters._sql` for the data model.

One database file (WAL mode, so readers and a writer in other processes proceed together); each worker
opens its own connection.  Bulk path: ``executemany`` in one transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from storagebench.adapters._sql import EmbeddedSQLAdapter
from storagebench.adapters.base import AdapterOptions, Capabilities, ServerInfo, Support, check_namespace

from storagebench.errors import AdapterError, AlreadyExists, Unavailable
from storagebench.services.base import storagebench_home


class SQLiteOptions(AdapterOptions):
    path: Path = storagebench_home() / "data" / "embedded" / "sqlite.db"
    busy_timeout_s: float = 30.0
    synchronous: str = "NORMAL"


class SQLiteAdapter(EmbeddedSQLAdapter):
    name = "sqlite"
    _tables_sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    description = "SQLite file database (embedded, no server)"
    default_store = True
    Options = SQLiteOptions
    capabilities: ClassVar[Capabilities] = Capabilities(
        family="relational",
        batch_write=Support.NATIVE, batch_read=Support.NATIVE, batch_filter=Support.NATIVE, graph=Support.NATIVE,
        shortest_path=Support.NATIVE, join=Support.NATIVE, find=Support.NATIVE, find_range=Support.NATIVE,
        update_nested=Support.NATIVE)
    # recursive CTE; the comma list becomes rows through json_each (keys never hold quotes or commas)
    split_links_sql = """JOIN json_each('["' || replace(t.{links}, ',', '","') || '"]') step"""
    split_links_column = "value"
    # the edge table's rows and the triggers that keep it in step (adapters/_sql.py create_edge_index)
    links_rows_sql = """json_each('["' || replace({links}, ',', '","') || '"]')"""
    options: SQLiteOptions

    def connect(self) -> None:
        try:
            self.options.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.options.path, timeout=self.options.busy_timeout_s,
                                        check_same_thread=False)
            self._retry_locked(lambda: self.conn.execute("PRAGMA journal_mode=WAL"))
            if self.options.synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
                raise ValueError(f"synchronous must be OFF/NORMAL/FULL/EXTRA, not {self.options.synchronous}")
            self.conn.execute(f"PRAGMA synchronous={self.options.synchronous.upper()}")
        except (OSError, sqlite3.Error, ValueError) as exc:
            raise Unavailable(f"sqlite: cannot open {self.options.path}: {exc}") from exc

    def _retry_locked(self, step: Callable[[], object]) -> None:
        """Run ``step`` again while another connection holds the lock it needs, up to ``busy_timeout_s``.

        SQLite answers "database is locked" at once, without its busy wait, when waiting could deadlock:
        two processes opening a new file together both ask for the exclusive lock that switching it to WAL
        takes (3 connections opening a fresh file at once: 27 of 200 tries failed)."""
        deadline = time.monotonic() + self.options.busy_timeout_s
        while True:
            try:
                step()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

    def _columns(self, namespace: str) -> list[str]:
        rows = self._execute(f"PRAGMA table_info({namespace})").fetchall()
        return [r[1] for r in rows if r[1] != "key"]

    def _table_exists(self, namespace: str) -> bool:
        return bool(self._execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                                  [namespace]).fetchone())

    def footprint(self, namespace: str) -> int | None:
        """Pages of the table, its indexes and its edge table, from SQLite's dbstat virtual table."""
        sql = ("SELECT SUM(pgsize) FROM dbstat WHERE name IN "
               "(SELECT name FROM sqlite_master WHERE tbl_name IN (?, ?))")  # the table, and its edge table
        row = self._execute(sql, [check_namespace(namespace), f"{namespace}$edges"]).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def index_bytes(self, namespace: str) -> int | None:
        """Pages of the table's own indexes (``sql`` is NULL for the primary key's automatic one) and of its
        edge table with its key, from dbstat."""
        sql = ("SELECT SUM(pgsize) FROM dbstat WHERE name IN (SELECT name FROM sqlite_master WHERE "
               "(tbl_name = ? AND type = 'index' AND sql IS NOT NULL) OR tbl_name = ?)")
        row = self._execute(sql, [check_namespace(namespace), f"{namespace}$edges"]).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def server_info(self) -> ServerInfo:
        return ServerInfo("SQLite", sqlite3.sqlite_version, {"file": str(self.options.path)})

    def client_info(self) -> dict[str, str]:
        return {"sqlite3 (Python)": sqlite3.sqlite_version}

    def map_error(self, exc: Exception) -> AdapterError:
        if isinstance(exc, sqlite3.IntegrityError):
            return AlreadyExists(str(exc))
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return Unavailable(f"sqlite: {exc}")
        return AdapterError(f"sqlite: {type(exc).__name__}: {exc}")
