"""PostgreSQL through psycopg2 (libpq).

Driver: psycopg2, the design card's client, stays the default because it measured fastest per
operation here: a prepared single-row read of ten text fields costs about 18 µs of client CPU with
psycopg2's ``EXECUTE``, against 26-35 µs with psycopg 3's ``execute(prepare=True)`` (text or binary)
and 14-22 µs with psycopg 3's raw ``pgconn.exec_prepared`` (same server, alternated runs; binary
transfer buys nothing for text columns).  psycopg 3 is not offered as a driver yet.

Data model: one table per namespace, named exactly like the namespace (``sbench_...``):
``key TEXT COLLATE "C" PRIMARY KEY`` plus one ``TEXT`` column per field (YCSB's usertable maps 1:1).
The ``C`` collation makes the primary-key index order byte order, whatever the database's locale, so
scans come back in the same key order as on every other store.

Operations (autocommit: each operation is its own transaction, as in YCSB's JDBC binding):

* insert / read / update / delete / scan / query run as server-side **prepared statements**
  (``PREPARE`` once per connection and statement shape, then ``EXECUTE`` with parameters), like a JDBC
  ``PreparedStatement``; update and delete of a missing key are told by the row count
  (:class:`NotFound`); a duplicate insert is :class:`AlreadyExists`.
* scan: ``WHERE key >= $1 ORDER BY key LIMIT $2`` on the primary-key index; scans of more than
  ``server_cursor_threshold`` rows stream through a server-side (named) cursor.
* query: ``SELECT count(*), sum(f::bigint) WHERE field = $1``, computed by the server (NATIVE).
* graph (NATIVE): k hops in one recursive CTE (``unnest(string_to_array(links, ','))`` joined on the key).
* batch write (NATIVE): ``COPY ... FROM STDIN (FORMAT csv)`` of the Arrow batch rendered as CSV by
  pyarrow; batch read (NATIVE): ``COPY (SELECT ... ORDER BY key) TO STDOUT (FORMAT csv)`` parsed back
  by pyarrow, and the filtered batch read (NATIVE) adds ``WHERE field = value`` to that SELECT.  NULL
  (field never set) and '' stay distinct in both directions.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import SecretStr
from storagebench.adapters.base import (
    Adapter,
    AdapterOptions,
    Capabilities,
    Query,
    QueryResult,
    Record,
    ServerInfo,
    Support,
    check_namespace,
    ours,
    require_found,
)

from storagebench.durability import Durability
from storagebench.errors import AdapterError, AlreadyExists, NotFound, Unavailable
from storagebench.services.ports import HOST, PORTS

if TYPE_CHECKING:
    import pyarrow as pa

_FIELD = re.compile(r"^[a-z_][a-z0-9_]*$")


def field_name(name: str) -> str:
    """Field names become column names: only plain lower-case identifiers are accepted."""
    if not _FIELD.match(name):
        raise ValueError(f"not a safe column name: {name!r}")
    return name


#: the session's synchronous_commit per durability profile (set at connect)
SYNCHRONOUS_COMMIT = {"durable": "on", "fast": "off"}
DURABILITY_SETTINGS = ("fsync", "synchronous_commit", "wal_sync_method", "full_page_writes")


def postgres_durability(cursor: Any, profile: str) -> Durability:
    """Read back what decides durability on this session (also used for FerretDB's backend)."""
    settings = {}
    for name in DURABILITY_SETTINGS:
        cursor.execute(f"SHOW {name}")
        settings[name] = str(cursor.fetchone()[0])
    flushes = settings["fsync"] == "on" and settings["synchronous_commit"] != "off"
    if profile == "durable":
        note = ("WAL flushed to disk before each commit returns" if flushes else
                "fsync or synchronous_commit is off: a commit can be lost on power loss")
        return Durability(profile, settings, True, flushes, note)
    lazy = settings["synchronous_commit"] == "off"
    note = ("commit returns before the WAL flush (synchronous_commit=off; the WAL writer flushes within "
            "3 x wal_writer_delay); no corruption, recent commits may be lost" if lazy else
            "commits still wait for the WAL flush")
    return Durability(profile, settings, True, lazy, note)


class PostgresOptions(AdapterOptions):
    host: str = HOST
    port: int = PORTS["postgres"]["sql"]
    user: str = "postgres"
    password: SecretStr | None = None
    database: str = "postgres"
    #: libpq sslmode: disable, allow, prefer, require, verify-ca, verify-full
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    sslrootcert: str | None = None
    connect_timeout: int = 10
    #: server-side statement timeout in ms (0 = none)
    statement_timeout_ms: int = 0
    #: scans longer than this many rows use a server-side cursor
    server_cursor_threshold: int = 10_000
    application_name: str = "storagebench"


class PostgresAdapter(Adapter):
    name = "postgres"
    description = "PostgreSQL (psycopg2): table per namespace, prepared statements, COPY for batches"
    Options = PostgresOptions
    capabilities: ClassVar[Capabilities] = Capabilities(
        family="relational",
        batch_write=Support.NATIVE, batch_read=Support.NATIVE, batch_filter=Support.NATIVE, graph=Support.NATIVE)
    options: PostgresOptions

    def __init__(self, options: AdapterOptions | Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.conn: Any = None
        self.cursor: Any = None
        self._prepared: dict[tuple[str, ...], str] = {}
        self._statement_ids = itertools.count()
        self._fields: dict[str, list[str]] = {}
        #: the hot paths' caches, per (namespace, fields): the EXECUTE text (and a read's column names)
        self._reads: dict[tuple[str, tuple[str, ...] | None], tuple[str, list[str]]] = {}
        self._updates: dict[tuple[str, tuple[str, ...]], str] = {}

    # -- lifecycle ---------------------------------------------------------------------------------
    def connect(self) -> None:
        import psycopg2

        o = self.options
        kwargs: dict[str, Any] = {
            "host": o.host, "port": o.port, "user": o.user, "dbname": o.database, "sslmode": o.sslmode,
            "connect_timeout": o.connect_timeout, "application_name": o.application_name,
        }
        if o.password is not None:
            kwargs["password"] = o.password.get_secret_value()
        if o.sslrootcert:
            kwargs["sslrootcert"] = o.sslrootcert
        if o.statement_timeout_ms:
            kwargs["options"] = f"-c statement_timeout={int(o.statement_timeout_ms)}"
        try:
            self.conn = psycopg2.connect(**kwargs)
        except psycopg2.Error as exc:
            raise Unavailable(f"postgres: cannot connect to {o.host}:{o.port}/{o.database}: {exc}") from exc
        self.conn.autocommit = True
        self.cursor = self.conn.cursor()  # reused by every per-operation statement
        # durable: the default (WAL flushed at commit); fast: commit returns before the WAL flush
        self.cursor.execute(f"SET synchronous_commit = {SYNCHRONOUS_COMMIT[o.durability]}")
        self._prepared.clear()
        self._reads.clear()
        self._updates.clear()

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = self.cursor = None

    def prepare(self, namespace: str, fields: Sequence[str]) -> None:
        from psycopg2 import sql

        check_namespace(namespace)
        columns = sql.SQL(", ").join(sql.SQL("{} TEXT").format(sql.Identifier(field_name(f))) for f in fields)
        statement = sql.SQL('CREATE TABLE IF NOT EXISTS {} (key TEXT COLLATE "C" PRIMARY KEY, {})').format(
            sql.Identifier(namespace), columns)
        self._run(statement)
        self._forget(namespace)

    def list_namespaces(self) -> list[str]:
        rows = self._run("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()", fetch="all")
        return ours(row[0] for row in rows)

    def drop(self, namespace: str) -> None:
        from psycopg2 import sql

        check_namespace(namespace)
        self._forget(namespace)
        self._run(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(namespace)))

    def footprint(self, namespace: str) -> int | None:
        """pg_total_relation_size: the table, its TOAST and its indexes."""
        row = self._run("SELECT pg_total_relation_size(%s::regclass)", [f'"{check_namespace(namespace)}"'],
                        fetch="one")
        return int(row[0]) if row and row[0] is not None else None

    def server_info(self) -> ServerInfo:
        row = self._run("SHOW server_version", fetch="one")
        version, _, build = str(row[0]).partition(" ")
        details = {"build": build.strip("()")} if build else {}
        return ServerInfo("PostgreSQL", version, details)

    def durability(self) -> Durability:
        return postgres_durability(self.cursor, self.options.durability)

    def client_info(self) -> dict[str, str]:
        import psycopg2
        import psycopg2.extensions

        libpq = psycopg2.extensions.libpq_version()
        version = psycopg2.__version__.split()[0]
        return {"psycopg2": version, "libpq": f"{libpq // 10000}.{libpq % 10000}", "driver": f"psycopg2 {version}"}

    # -- per operation -----------------------------------------------------------------------------
    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        names = [field_name(n) for n in values]
        self._execute(("insert", namespace, *names), lambda: self._insert_sql(namespace, names),
                      [key, *values.values()])

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        # the hottest path (YCSB C): the EXECUTE text and column names come from a per-shape cache
        shape = (namespace, None if fields is None else tuple(fields))
        hit = self._reads.get(shape)
        if hit is None:
            names = self._names(namespace, fields)
            name = self._statement(("read", namespace, *names),
                                   lambda: self._select_sql(namespace, names, "key = $1"))
            hit = self._reads[shape] = (f"EXECUTE {name} (%s)", names)
        statement, names = hit
        cur = self._cursor()
        try:
            cur.execute(statement, (key,))
            row = cur.fetchone()
        except Exception as exc:
            raise self.map_error(exc) from exc
        require_found(row is not None, namespace, key)
        return {n: v for n, v in zip(names, row, strict=True) if v is not None}

    def update(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        shape = (namespace, tuple(values))
        statement = self._updates.get(shape)
        if statement is None:
            names = [field_name(n) for n in values]

            def build() -> str:
                sets = ", ".join(f'"{n}" = ${i}' for i, n in enumerate(names, start=2))
                return f'UPDATE "{check_namespace(namespace)}" SET {sets} WHERE key = $1'

            name = self._statement(("update", namespace, *names), build)
            statement = self._updates[shape] = f"EXECUTE {name} ({', '.join(['%s'] * (len(names) + 1))})"
        cur = self._cursor()
        try:
            cur.execute(statement, (key, *values.values()))
            count = cur.rowcount
        except Exception as exc:
            raise self.map_error(exc) from exc
        require_found(count > 0, namespace, key)

    def delete(self, namespace: str, key: str) -> None:
        count = self._execute(("delete", namespace), lambda: f'DELETE FROM "{check_namespace(namespace)}" '
                                                             f"WHERE key = $1", [key], fetch="rowcount")
        require_found(count > 0, namespace, key)

    def scan(self, namespace: str, start_key: str, count: int,
             fields: Sequence[str] | None = None) -> list[tuple[str, Record]]:
        names = self._names(namespace, fields)
        if count > self.options.server_cursor_threshold:
            return self._scan_with_cursor(namespace, start_key, count, names)
        rows = self._execute(("scan", namespace, *names),
                             lambda: self._select_sql(namespace, ["key", *names], "key >= $1") +
                             " ORDER BY key LIMIT $2", [start_key, count], fetch="all")
        return [(row[0], _record(names, row[1:])) for row in rows]

    def _scan_with_cursor(self, namespace: str, start_key: str, count: int,
                          names: list[str]) -> list[tuple[str, Record]]:
        from psycopg2 import sql

        statement = sql.SQL("SELECT key, {} FROM {} WHERE key >= %s ORDER BY key LIMIT %s").format(
            sql.SQL(", ").join(map(sql.Identifier, names)), sql.Identifier(check_namespace(namespace)))
        out: list[tuple[str, Record]] = []
        with self.translate_errors():
            # a named cursor needs a transaction: leave autocommit for the duration of the scan
            self.conn.autocommit = False
            try:
                with self.conn.cursor(name=f"sbench_scan_{id(self)}") as cur:
                    cur.itersize = 2000
                    cur.execute(statement, [start_key, count])
                    for row in cur:
                        out.append((row[0], _record(names, row[1:])))
                self.conn.commit()
            finally:
                if self.conn.status != 1:  # not STATUS_READY: a failed transaction to roll back
                    self.conn.rollback()
                self.conn.autocommit = True
        return out

    def query(self, namespace: str, query: Query) -> QueryResult:
        where = field_name(query.field)
        table = check_namespace(namespace)
        if query.aggregate == "sum":
            target = field_name(query.sum_field or "")
            row = self._execute(("sum", namespace, where, target),
                                lambda: f'SELECT count(*), sum("{target}"::bigint) FROM "{table}" '
                                        f'WHERE "{where}" = $1', [query.equals], fetch="one")
            return QueryResult(int(row[0]), int(row[1] or 0))
        row = self._execute(("count", namespace, where),
                            lambda: f'SELECT count(*) FROM "{table}" WHERE "{where}" = $1',
                            [query.equals], fetch="one")
        return QueryResult(int(row[0]))

    def neighbors(self, namespace: str, key: str, hops: int, field: str) -> set[str]:
        """k hops in one recursive CTE on the server: links split with string_to_array, joined on the key."""
        links = field_name(field)
        table = check_namespace(namespace)
        rows = self._execute(
            ("graph", namespace, links),
            lambda: f'WITH RECURSIVE walk(key, depth) AS (SELECT $1::text, 0 UNION '
                    f'SELECT step.key, walk.depth + 1 FROM walk JOIN "{table}" t ON t.key = walk.key '
                    f'CROSS JOIN LATERAL unnest(string_to_array(t."{links}", \',\')) AS step(key) '
                    f'WHERE walk.depth < $2) SELECT DISTINCT key FROM walk WHERE key <> $1',
            [key, int(hops)], fetch="all")
        return {r[0] for r in rows if r[0]}

    # -- batch: COPY -------------------------------------------------------------------------------
    def write_batch(self, namespace: str, batch: pa.Table) -> None:
        import pyarrow as pa
        import pyarrow.csv as pacsv
        from psycopg2 import sql

        names = [field_name(n) for n in batch.column_names]
        buffer = io.BytesIO()
        strings = batch.cast(pa.schema([pa.field(n, pa.string()) for n in names]))
        # quote every non-null value: in PostgreSQL's CSV an unquoted empty value is NULL, "" is ''
        pacsv.write_csv(strings, buffer, pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
        buffer.seek(0)
        statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
            sql.Identifier(check_namespace(namespace)), sql.SQL(", ").join(map(sql.Identifier, names)))
        with self.translate_errors(), self.conn.cursor() as cur:
            cur.copy_expert(statement, buffer)

    def read_batch(self, namespace: str, fields: Sequence[str] | None = None) -> pa.Table:
        return self._copy_out(namespace, self._names(namespace, fields))

    def read_batch_where(self, namespace: str, fields: Sequence[str], field: str, equals: str) -> pa.Table:
        return self._copy_out(namespace, self._names(namespace, fields), (field_name(field), equals))

    def _copy_out(self, namespace: str, names: list[str], where: tuple[str, str] | None = None) -> pa.Table:
        """``COPY (SELECT key, names ... [WHERE f = v] ORDER BY key) TO STDOUT`` read into Arrow."""
        import pyarrow as pa
        import pyarrow.csv as pacsv
        from psycopg2 import sql

        columns = ["key", *names]
        condition = sql.SQL("")
        if where is not None:
            condition = sql.SQL(" WHERE {} = {}").format(sql.Identifier(where[0]), sql.Literal(where[1]))
        statement = sql.SQL("COPY (SELECT {} FROM {}{} ORDER BY key) TO STDOUT WITH (FORMAT csv)").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(check_namespace(namespace)),
            condition)
        buffer = io.BytesIO()
        with self.translate_errors(), self.conn.cursor() as cur:
            cur.copy_expert(statement, buffer)
        if buffer.tell() == 0:
            return pa.table({c: pa.array([], pa.string()) for c in columns})
        buffer.seek(0)
        return pacsv.read_csv(
            buffer,
            read_options=pacsv.ReadOptions(column_names=columns, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in columns},
                                                 strings_can_be_null=True, quoted_strings_can_be_null=False))

    # -- helpers -----------------------------------------------------------------------------------
    def _names(self, namespace: str, fields: Sequence[str] | None) -> list[str]:
        if fields is not None:
            return [field_name(f) for f in fields]
        if namespace not in self._fields:
            rows = self._run("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                             "current_schema() AND table_name = %s AND column_name <> 'key' "
                             "ORDER BY ordinal_position", [check_namespace(namespace)], fetch="all")
            if not rows:
                raise NotFound(f"postgres: no table {namespace!r}")
            self._fields[namespace] = [r[0] for r in rows]
        return list(self._fields[namespace])

    @staticmethod
    def _select_sql(namespace: str, names: Sequence[str], where: str) -> str:
        columns = ", ".join(f'"{n}"' for n in names)
        return f'SELECT {columns} FROM "{check_namespace(namespace)}" WHERE {where}'

    @staticmethod
    def _insert_sql(namespace: str, names: Sequence[str]) -> str:
        marks = ", ".join(f"${i}" for i in range(1, len(names) + 2))
        columns = ", ".join(f'"{n}"' for n in names)
        return f'INSERT INTO "{check_namespace(namespace)}" (key, {columns}) VALUES ({marks})'

    def _statement(self, shape: tuple[str, ...], build: Any) -> str:
        """The prepared statement's name for ``shape``, preparing it on first use on this connection."""
        name = self._prepared.get(shape)
        if name is None:
            name = f"sbench_p{next(self._statement_ids)}"
            self._run(f"PREPARE {name} AS {build()}")
            self._prepared[shape] = name
        return name

    def _execute(self, shape: tuple[str, ...], build: Any, params: Sequence[Any],
                 fetch: Literal["none", "one", "all", "rowcount"] = "none") -> Any:
        """EXECUTE the prepared statement for ``shape``, preparing it on first use on this connection."""
        name = self._statement(shape, build)
        marks = ", ".join("%s" for _ in params)
        return self._run(f"EXECUTE {name} ({marks})", params, fetch=fetch)

    def _cursor(self) -> Any:
        if self.cursor is None:
            raise Unavailable("postgres: not connected (call connect() first)")
        return self.cursor

    def _run(self, statement: Any, params: Sequence[Any] | None = None,
             fetch: Literal["none", "one", "all", "rowcount"] = "none") -> Any:
        cur = self._cursor()
        with self.translate_errors():
            cur.execute(statement, params)
            if fetch == "one":
                return cur.fetchone()
            if fetch == "all":
                return cur.fetchall()
            if fetch == "rowcount":
                return cur.rowcount
            return None

    def _forget(self, namespace: str) -> None:
        """Drop cached column lists and prepared statements of a namespace (its table may change)."""
        self._fields.pop(namespace, None)
        self._reads = {shape: hit for shape, hit in self._reads.items() if shape[0] != namespace}
        self._updates = {shape: st for shape, st in self._updates.items() if shape[0] != namespace}
        stale = [shape for shape in self._prepared if shape[1] == namespace]
        for shape in stale:
            name = self._prepared.pop(shape)
            if self.conn is not None and not self.conn.closed:
                self._run(f"DEALLOCATE {name}")

    def map_error(self, exc: Exception) -> AdapterError:
        import psycopg2
        from psycopg2 import errors

        if isinstance(exc, errors.UniqueViolation):
            return AlreadyExists(f"postgres: {exc.pgerror or exc}".strip())
        if isinstance(exc, errors.UndefinedTable):
            return NotFound(f"postgres: {str(exc).strip()}")
        if isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError):
            return Unavailable(f"postgres: {str(exc).strip()}")
        return AdapterError(f"postgres: {type(exc).__name__}: {str(exc).strip()}")


def _record(names: Sequence[str], row: Sequence[Any]) -> Record:
    return {n: v for n, v in zip(names, row, strict=True) if v is not None}
