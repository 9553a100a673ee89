"""DuckDB (embedded, columnar): see :mod:`storagebench.adapters._sql` for the data model.

DuckDB allows one writing process per database file, so this adapter declares ``multiprocess=False``;
threads in one process share the database and each opens its own cursor.  A run gets its own database
file (``duckdb-run-<token>.db`` beside the default, deleted at the end) unless ``path`` is set, so two
runs at once do not lock each other out.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import duckdb
from storagebench.adapters._sql import EmbeddedSQLAdapter
from storagebench.adapters.base import AdapterOptions, Capabilities, ServerInfo, Support, check_namespace

from storagebench.errors import AdapterError, AlreadyExists, Unavailable
from storagebench.services.base import storagebench_home

_DATABASES: dict[str, Any] = {}
_LOCK = threading.Lock()


class DuckDBOptions(AdapterOptions):
    path: Path = storagebench_home() / "data" / "embedded" / "duckdb.db"
    threads: int = 1


class DuckDBAdapter(EmbeddedSQLAdapter):
    name = "duckdb"
    _tables_sql = "SELECT table_name FROM information_schema.tables"
    description = "DuckDB file database (embedded, columnar, no server)"
    default_store = True
    Options = DuckDBOptions
    capabilities: ClassVar[Capabilities] = Capabilities(
        family="relational",
        batch_write=Support.NATIVE, batch_read=Support.NATIVE, batch_filter=Support.NATIVE, graph=Support.NATIVE,
        shortest_path=Support.NATIVE, join=Support.NATIVE, find=Support.NATIVE, find_range=Support.NATIVE,
        update_nested=Support.NATIVE, multiprocess=False)
    split_links_sql = "CROSS JOIN unnest(string_split(t.{links}, ',')) AS step(key)"
    # documents: JSON functions over the text column; DuckDB's ART indexes take columns, not expressions
    # (DuckDB 2.0.1: 'CREATE INDEX ... ((CAST(json_extract(f, '$.placed') AS BIGINT)))' is a Binder Error,
    # "Cannot use json_extract in this context"), so a find and a range query are filtered scans on the
    # engine (no index is built; EXPLAIN: Sequential Scan with the filter pushed into it)
    json_path_sql = "json_extract_string({col}, '$.{path}')"
    json_number_sql = "TRY_CAST(json_extract({col}, '$.{path}') AS BIGINT)"
    json_set_sql = "json_merge_patch({col}, json_object('{path}', ?))"
    json_index = False
    options: DuckDBOptions

    @classmethod
    def run_options(cls, options: AdapterOptions, run_token: str) -> AdapterOptions:
        """Each run gets its own database file (beside the default one) unless ``path`` was set: DuckDB
        lets one process open a file, so two runs at once would otherwise lock each other out."""
        if "path" in options.model_fields_set:
            return options
        default = DuckDBOptions().path
        return options.model_copy(update={"path": default.with_name(f"{default.stem}-run-{run_token}.db")})

    @classmethod
    def end_run(cls, options: AdapterOptions) -> None:
        """Close and delete a per-run database file (never a file the user named)."""
        path = Path(getattr(options, "path", ""))
        default = DuckDBOptions().path
        if path.parent != default.parent or not path.name.startswith(f"{default.stem}-run-"):
            return
        with _LOCK:
            database = _DATABASES.pop(str(path), None)
        if database is not None:
            database.close()
        for leftover in (path, path.with_name(path.name + ".wal")):
            leftover.unlink(missing_ok=True)

    def connect(self) -> None:
        key = str(self.options.path)
        try:
            with _LOCK:
                if key not in _DATABASES:
                    self.options.path.parent.mkdir(parents=True, exist_ok=True)
                    _DATABASES[key] = duckdb.connect(key, config={"threads": self.options.threads})
                self.conn = _DATABASES[key].cursor()
        except (OSError, duckdb.Error) as exc:
            raise Unavailable(f"duckdb: cannot open {self.options.path}: {exc}") from exc

    def _columns(self, namespace: str) -> list[str]:
        rows = self._execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                             "ORDER BY ordinal_position", [namespace]).fetchall()
        return [r[0] for r in rows if r[0] != "key"]

    def _table_exists(self, namespace: str) -> bool:
        return bool(self._execute("SELECT 1 FROM information_schema.tables WHERE table_name = ?",
                                  [namespace]).fetchone())

    def _commit(self) -> None:
        pass  # autocommit

    def _rowcount(self, cursor: Any, namespace: str, key: str) -> int:
        row = cursor.fetchone()  # DuckDB returns the affected count as a result row
        return int(row[0]) if row else 0

    def write_batch(self, namespace: str, batch: Any) -> None:
        with self.translate_errors():
            self.conn.register("sbench_incoming", batch)
            try:
                cols = ", ".join(batch.column_names)
                self.conn.execute(f"INSERT INTO {namespace} ({cols}) SELECT {cols} FROM sbench_incoming")
            finally:
                self.conn.unregister("sbench_incoming")

    def footprint(self, namespace: str) -> int | None:
        """Blocks holding the table's column segments after a checkpoint (DuckDB's storage_info); the
        primary-key index is not in it."""
        check_namespace(namespace)
        self._execute("CHECKPOINT")
        block_size = int(self._execute("SELECT block_size FROM pragma_database_size()").fetchone()[0])
        rows = self._execute(f"SELECT block_id, additional_block_ids FROM pragma_storage_info('{namespace}') "
                             "WHERE persistent AND block_id >= 0").fetchall()
        blocks = {r[0] for r in rows} | {b for r in rows for b in (r[1] or [])}
        return len(blocks) * block_size

    def server_info(self) -> ServerInfo:
        return ServerInfo("DuckDB", duckdb.__version__, {"file": str(self.options.path)})

    def client_info(self) -> dict[str, str]:
        return {"duckdb": duckdb.__version__}

    def map_error(self, exc: Exception) -> AdapterError:
        if isinstance(exc, duckdb.ConstraintException):
            return AlreadyExists(str(exc))
        if isinstance(exc, duckdb.IOException):
            return Unavailable(f"duckdb: {exc}")
        return AdapterError(f"duckdb: {type(exc).__name__}: {exc}")


#: where this process's DuckDB database points while Spark's JVM has the file
_IDLE = "sbench_spark_idle"


@contextmanager
def lend_file(path_like: Path | str) -> Iterator[None]:
    """Lend the DuckDB file to another process (e.g. Spark's JVM): detach it from this process meanwhile.

    The DuckDB adapter keeps one database per file for the whole process (``_DATABASES``)
    and DuckDB locks the file against every other process.  The file is detached (the database's default
    becomes an empty in-memory one) and attached again under the same name afterwards, so the adapters
    this process holds (their cursors) keep working.  Should the file not attach again, the cached database
    is closed instead and the next ``connect()`` opens the file afresh.
    """
    path = str(path_like)
    with _LOCK:
        database: Any = _DATABASES.get(path)

    def forget() -> None:
        with _LOCK:
            if _DATABASES.get(path) is database:
                del _DATABASES[path]
        database.close()

    if database is None:
        yield
        return
    try:
        row = database.execute("SELECT current_database()").fetchone()
        name = '"' + str(row[0] if row else "").replace('"', '""') + '"'
        database.execute(f"ATTACH ':memory:' AS {_IDLE}; USE {_IDLE}; DETACH {name}")
    except duckdb.Error:  # closed or busy: drop it from the cache, the next connect() opens the file again
        forget()
        yield
        return
    try:
        yield
    finally:
        literal = "'" + path.replace("'", "''") + "'"
        try:
            database.execute(f"ATTACH {literal} AS {name}; USE {name}; DETACH {_IDLE}")
        except duckdb.Error:
            forget()
