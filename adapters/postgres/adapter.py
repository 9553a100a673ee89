"""PostgreSQL through psycopg 3 (default) or psycopg2, both on libpq.

Drivers (option ``driver``, see :mod:`storagebench.adapters.postgres.drivers`):

* ``psycopg`` (default): psycopg 3's libpq binding, prepared statements run with ``pgconn.exec_prepared``
  (no SQL ``EXECUTE`` text to build and parse, no Python cursor machinery).  It is the default because
  it measured fastest: a prepared read of ten 100-byte text fields, bare loop, 2 spawned clients on this
  2-core machine, 71-79 k reads/s at 10-11 µs of client CPU each, against 65 k at 13 µs with psycopg2's
  ``EXECUTE``; at 4 clients 66-68 k against 51-54 k.  psycopg 3's high-level ``execute(prepare=True)``
  was slower than psycopg2 (26-35 µs).  Binary transfer buys nothing for text columns.
* ``psycopg2``: the design card's client, prepared statements as SQL ``EXECUTE`` on a reused cursor.

``wait`` (psycopg only): ``block`` waits for an answer in libpq's ``poll()``; ``spin`` polls the socket
without sleeping, so the client core never goes idle between request and answer (a client costs a full
core, as Go's runtime spins before it parks), for at most ``SPIN_BUDGET_NS`` (200 µs) per answer, then
sleeps on the socket: a slow answer (a commit's WAL flush, a busy machine) is not spun through;
``share`` sends the request and waits through :func:`storagebench.running.coop.wait_readable`, so that the
other clients of the thread run meanwhile (the adapter is ``cooperative``: with more clients than
cores the default layout puts a process on each core and the clients of a process on one thread; see
:mod:`storagebench.running.coop`).  ``auto`` (default) shares when the placement's clients share a thread,
spins when every client has an interpreter of its own and the clients leave a core free
(:attr:`Placement.core_to_spare`: 1 client on 2 cores), else blocks; outside a phase it blocks.
Sharing measured best with more clients than cores: 4 clients on 2 cores, storagebench workload C
61 k reads/s as 4 processes blocking, 86 k as 2 processes x 2 sharing clients (pgbench: 95 k).  The
psycopg2 driver's calls block their thread, so its clients keep a thread each.
With one client, a sleeping client and server hand off through idle vCPUs, and the wake-ups cost more
than the query: the same bare loop did 10-13 k reads/s blocking and 30-31 k spinning; at 2 clients
spinning lost (59 k against 71-79 k).  The result file's ``client.driver`` says which driver and wait
the workers ran; with ``auto`` the choice follows from ``config.client_layout`` and the machine's cores.

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
* documents (NATIVE): a ``jsonb`` column; find by ``doc->>'customer' = $1`` and range query by
  ``(doc->>'placed')::bigint`` in ``[$1, $2)``, each through an expression B-tree built after the load.
* graph (NATIVE): k hops in one recursive CTE over the edge table ``"<namespace>$edges" (src, dst)`` that a
  graph workload's load phase builds (:meth:`PostgresAdapter.create_edge_index`, kept in step by a row
  trigger); without one, over the links field split on the server (``unnest(string_to_array(links, ','))``).
* shortest path (NATIVE): one recursive CTE enumerating chains of distinct keys up to the hop bound (no
  global visited set in SQL recursion: about degree^hops rows), the shortest ending at the target.
* batch write (NATIVE): ``COPY ... FROM STDIN (FORMAT csv)`` of the Arrow batch rendered as CSV by
  pyarrow; batch read (NATIVE): ``COPY (SELECT ... ORDER BY key) TO STDOUT (FORMAT csv)`` parsed back
  by pyarrow, and the filtered batch read (NATIVE) adds ``WHERE field = value`` to that SELECT.  NULL
  (field never set) and '' stay distinct in both directions.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import SecretStr
from storagebench.adapters._sql import index_sql, join_rows, join_sql
from storagebench.adapters.base import (
    Adapter,
    AdapterOptions,
    Capabilities,
    Join,
    JoinResult,
    Query,
    QueryResult,
    Record,
    ServerInfo,
    Support,
    check_namespace,
    ours,
    require_found,
)
from storagebench.adapters.postgres.drivers import Psycopg, Psycopg2, Session, Wait
from storagebench.adapters.postgres.drivers import map_error as driver_error
from storagebench.adapters.postgres.service import PORTS

from storagebench.durability import Durability
from storagebench.errors import AdapterError, NotFound, Unavailable
from storagebench.services.network import Route
from storagebench.services.ports import HOST

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
    port: int = PORTS["sql"]
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
    #: psycopg (psycopg 3, exec_prepared) or psycopg2 (SQL EXECUTE); see the module docstring
    driver: Literal["psycopg", "psycopg2"] = "psycopg"
    #: psycopg only: how a client waits for an answer; auto shares the thread when the clients of a
    #: process do, spins when the clients leave a core free, else blocks
    wait: Literal["auto", "block", "spin", "share"] = "auto"


def _quote(name: str) -> str:
    """A checked field name as a quoted identifier."""
    return f'"{name}"'


def _links_rows(links: str) -> str:
    """One row ``d`` per link of a links value (SQL), split on the server; empty entries left out."""
    return f"unnest(string_to_array({links}, ',')) d WHERE d <> ''"


class PostgresAdapter(Adapter):
    name = "postgres"
    description = "PostgreSQL (psycopg 3 or psycopg2): table per namespace, prepared statements, COPY for batches"
    Options = PostgresOptions
    capabilities: ClassVar[Capabilities] = Capabilities(
        family="relational", cooperative=True,
        batch_write=Support.NATIVE, batch_read=Support.NATIVE, batch_filter=Support.NATIVE, graph=Support.NATIVE,
        shortest_path=Support.NATIVE, join=Support.NATIVE, find=Support.NATIVE, find_range=Support.NATIVE,
        update_nested=Support.NATIVE)
    options: PostgresOptions

    @classmethod
    def through_proxy(cls, options: Mapping[str, Any], route: Route) -> tuple[dict[str, Any], str]:
        host, port = route(str(options["host"]), int(options["port"]))
        return {**options, "host": host, "port": port}, ""

    def __init__(self, options: AdapterOptions | Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        if self.options.driver == "psycopg2":  # its calls block the thread: a thread per client
            self.capabilities = dataclasses.replace(type(self).capabilities, cooperative=False)  # type: ignore[misc]
        self.session: Session | None = None
        self._prepared: dict[tuple[str, ...], str] = {}
        self._statement_ids = itertools.count()
        self._fields: dict[str, list[str]] = {}
        #: per namespace, whether it has an edge table (create_edge_index), asked once
        self._edges: dict[str, bool] = {}
        #: the hot paths' caches, per (namespace, fields): the EXECUTE text (and a read's column names)
        self._reads: dict[tuple[str, tuple[str, ...] | None], tuple[str, list[str]]] = {}
        self._updates: dict[tuple[str, tuple[str, ...]], str] = {}
        #: namespace -> its document field (a jsonb column)
        self._documents: dict[str, str] = {}

    # -- lifecycle ---------------------------------------------------------------------------------
    def connect(self) -> None:
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
            self.session = Psycopg2(kwargs) if o.driver == "psycopg2" else Psycopg(kwargs, self.wait())
        except ImportError as exc:
            raise Unavailable(f"postgres: driver {o.driver!r} needs {exc.name}: pip install storagebench[postgres]"
                              ) from None
        except Exception as exc:
            raise Unavailable(f"postgres: cannot connect to {o.host}:{o.port}/{o.database}: "
                              f"{str(exc).strip()}") from exc
        # durable: the default (WAL flushed at commit); fast: commit returns before the WAL flush
        self._run(f"SET synchronous_commit = {SYNCHRONOUS_COMMIT[o.durability]}")
        self._prepared.clear()
        self._reads.clear()
        self._updates.clear()

    def wait(self) -> Wait:
        """The psycopg driver's wait: ``auto`` shares the thread when the placement's clients do, spins
        when the placement leaves a core to spare, else blocks."""
        if self.options.wait != "auto":
            return self.options.wait
        if self.placement is not None and self.placement.cooperative:
            return "share"
        return "spin" if self.placement is not None and self.placement.core_to_spare else "block"

    def close(self) -> None:
        if self.session is not None:
            try:
                self.session.close()
            finally:
                self.session = None

    def prepare(self, namespace: str, fields: Sequence[str]) -> None:
        sql = self._sql()
        check_namespace(namespace)
        document = self._documents.get(namespace)
        columns = sql.SQL(", ").join(sql.SQL("{} JSONB" if f == document else "{} TEXT").format(
            sql.Identifier(field_name(f))) for f in fields)
        statement = sql.SQL('CREATE TABLE IF NOT EXISTS {} (key TEXT COLLATE "C" PRIMARY KEY, {})').format(
            sql.Identifier(namespace), columns)
        self._run(statement)
        self._forget(namespace)

    def list_namespaces(self) -> list[str]:
        rows = self._run("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()", fetch="all")
        return ours(row[0] for row in rows)

    def drop(self, namespace: str) -> None:
        sql = self._sql()
        check_namespace(namespace)
        self._forget(namespace)
        self._run(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(namespace)))
        self._run(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(f"{namespace}$edges")))
        self._run(sql.SQL("DROP FUNCTION IF EXISTS {}").format(sql.Identifier(f"{namespace}$edges_sync")))

    def footprint(self, namespace: str) -> int | None:
        """pg_total_relation_size: the table, its TOAST and its indexes, and its edge table if it has one."""
        row = self._run("SELECT pg_total_relation_size(%s::regclass) + "
                        "coalesce(pg_total_relation_size(to_regclass(%s)), 0)",
                        [f'"{check_namespace(namespace)}"', f'"{namespace}$edges"'], fetch="one")
        return int(row[0]) if row and row[0] is not None else None

    def index_bytes(self, namespace: str) -> int | None:
        """The table's indexes other than its primary key (pg_relation_size of each), and its edge table
        whole (pg_total_relation_size: rows and primary key)."""
        row = self._run("SELECT coalesce((SELECT sum(pg_relation_size(indexrelid)) FROM pg_index "
                        "WHERE indrelid = %s::regclass AND NOT indisprimary), 0) + "
                        "coalesce(pg_total_relation_size(to_regclass(%s)), 0)",
                        [f'"{check_namespace(namespace)}"', f'"{namespace}$edges"'], fetch="one")
        return int(row[0]) if row and row[0] is not None else None

    def server_info(self) -> ServerInfo:
        row = self._run("SHOW server_version", fetch="one")
        version, _, build = str(row[0]).partition(" ")
        details = {"build": build.strip("()")} if build else {}
        return ServerInfo("PostgreSQL", version, details)

    def durability(self) -> Durability:
        return postgres_durability(self._session().cursor, self.options.durability)

    def client_info(self) -> dict[str, str]:
        return self._session().client_info()

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
            hit = self._reads[shape] = (name, names)
        statement, names = hit
        session = self._session()
        try:
            record = session.read_record(statement, key, names)
        except Exception as exc:
            raise self.map_error(exc) from exc
        if record is None:
            raise NotFound(f"{namespace}/{key}")
        return record

    def update(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        shape = (namespace, tuple(values))
        statement = self._updates.get(shape)
        if statement is None:
            names = [field_name(n) for n in values]

            def build() -> str:
                sets = ", ".join(f'"{n}" = ${i}' for i, n in enumerate(names, start=2))
                return f'UPDATE "{check_namespace(namespace)}" SET {sets} WHERE key = $1'

            statement = self._updates[shape] = self._statement(("update", namespace, *names), build)
        session = self._session()
        try:
            count = session.count(statement, (key, *values.values()))
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
        sql = self._sql()
        statement = sql.SQL("SELECT key, {} FROM {} WHERE key >= %s ORDER BY key LIMIT %s").format(
            sql.SQL(", ").join(map(sql.Identifier, names)), sql.Identifier(check_namespace(namespace)))
        with self.translate_errors():
            rows = self._session().cursor_rows(statement, [start_key, count], 2000)
            return [(row[0], _record(names, row[1:])) for row in rows]

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

    def create_index(self, namespace: str, field: str) -> bool:
        table = check_namespace(namespace)
        self._run(index_sql(f'"{table}"', namespace, field_name(field)))
        self._forget(namespace)
        return True

    def join(self, namespace: str, join: Join) -> JoinResult:
        """One prepared statement: the table joined with itself on the reference field, grouped."""
        table = check_namespace(namespace)
        fields = tuple(field_name(f) for f in (join.group_field, join.ref_field, join.sum_field))
        rows = self._execute(("join", namespace, *fields), lambda: join_sql(f'"{table}"', join, "$1", "$2"),
                             [join.low, join.high], fetch="all")
        return join_rows(rows)

    def create_edge_index(self, namespace: str, field: str) -> bool:
        """The edge table ``"<namespace>$edges" (src, dst)``, primary key on both (so on the source first),
        filled from the loaded links in one statement; a row trigger keeps it in step with every later
        insert, delete and write of the links field (PL/pgSQL, dropped with the namespace)."""
        table, links = check_namespace(namespace), field_name(field)
        edges, sync = f'"{table}$edges"', f'"{table}$edges_sync"'
        self._run(f"DROP TABLE IF EXISTS {edges}")
        self._run(f'CREATE TABLE {edges} (src TEXT NOT NULL, dst TEXT NOT NULL, '
                  f"PRIMARY KEY (src, dst))")
        self._run(f'INSERT INTO {edges} SELECT DISTINCT t.key, d FROM "{table}" t '
                  f'CROSS JOIN LATERAL {_links_rows(f"t.{_quote(links)}")}')
        self._run(f"CREATE OR REPLACE FUNCTION {sync}() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN "
                  f"IF TG_OP <> 'INSERT' THEN DELETE FROM {edges} WHERE src = OLD.key; END IF; "
                  f"IF TG_OP <> 'DELETE' THEN INSERT INTO {edges} SELECT DISTINCT NEW.key, d "
                  f"FROM {_links_rows(f'NEW.{_quote(links)}')} ON CONFLICT DO NOTHING; "
                  f"END IF; RETURN NULL; END $body$")
        self._run(f'CREATE OR REPLACE TRIGGER "{table}$edges" AFTER INSERT OR DELETE OR UPDATE OF "{links}" '
                  f'ON "{table}" FOR EACH ROW EXECUTE FUNCTION {sync}()')
        self._run(f"ANALYZE {edges}")
        self._forget(namespace)
        self._edges[namespace] = True
        return True

    def _has_edges(self, namespace: str) -> bool:
        if namespace not in self._edges:
            row = self._run("SELECT to_regclass(%s) IS NOT NULL", [f'"{namespace}$edges"'], fetch="one")
            self._edges[namespace] = bool(row[0])
        return self._edges[namespace]

    def _step(self, namespace: str, field: str) -> tuple[str, str]:
        """How a walk takes one step from ``walk.key``: the join yielding the linked keys and the column holding
        one (the edge table where the namespace has one, else the links field split on the server)."""
        table = check_namespace(namespace)
        if self._has_edges(namespace):
            return f'JOIN "{table}$edges" step ON step.src = walk.key', "step.dst"
        return (f'JOIN "{table}" t ON t.key = walk.key '
                f'CROSS JOIN LATERAL unnest(string_to_array(t."{field_name(field)}", \',\')) AS step(key)', "step.key")

    def neighbors(self, namespace: str, key: str, hops: int, field: str) -> set[str]:
        """k hops in one recursive CTE on the server, over the edge table or the links field split."""
        join, step = self._step(namespace, field)
        rows = self._execute(
            ("graph", namespace, field_name(field), step),
            lambda: f"WITH RECURSIVE walk(key, depth) AS (SELECT $1::text, 0 UNION "
                    f"SELECT {step}, walk.depth + 1 FROM walk {join} "
                    f"WHERE walk.depth < $2) SELECT DISTINCT key FROM walk WHERE key <> $1",
            [key, int(hops)], fetch="all")
        return {r[0] for r in rows if r[0]}

    def shortest_path(self, namespace: str, source: str, target: str, max_hops: int, field: str) -> list[str] | None:
        """One recursive CTE: every chain of distinct keys from the source, up to ``max_hops`` links and not
        beyond the target, carried as ``,k0,k1,...,``; the shortest one that ends at the target."""
        join, step = self._step(namespace, field)
        row = self._execute(
            ("shortest_path", namespace, field_name(field), step),
            lambda: f"WITH RECURSIVE walk(key, depth, path) AS (SELECT $1::text, 0, ',' || $1::text || ',' "
                    f"UNION ALL SELECT {step}, walk.depth + 1, walk.path || {step} || ',' "
                    f"FROM walk {join} "
                    f"WHERE walk.depth < $3 AND walk.key <> $2 AND {step} <> '' "
                    f"AND strpos(walk.path, ',' || {step} || ',') = 0) "
                    f"SELECT path FROM walk WHERE key = $2 ORDER BY depth LIMIT 1",
            [source, target, int(max_hops)], fetch="one")
        return None if row is None else str(row[0]).strip(",").split(",")

    # -- documents: a jsonb column, an expression index on the nested field ------------------------------
    def declare_document(self, namespace: str, field: str) -> None:
        self._documents[namespace] = field_name(field)

    def create_document_index(self, namespace: str, field: str, path: str, numeric: bool = False) -> bool:
        """A B-tree on the nested field's text (``(doc->>'path')``), or on it cast to a number
        (``((doc->>'path')::bigint)``, for range queries) when ``numeric``, then ANALYZE so the planner
        knows it."""
        table, column = check_namespace(namespace), field_name(field)
        self._run(f'CREATE INDEX IF NOT EXISTS "{table}_{column}_{field_name(path)}" ON "{table}" '
                  f"(({self._nested(field, path, numeric)}))")
        self._run(f'ANALYZE "{table}"')
        return True

    @staticmethod
    def _nested(field: str, path: str, numeric: bool = False) -> str:
        """SQL of a document's nested field: its text, or that text cast to a number (an error on a
        document whose field is no integer: the workload writes only integers there)."""
        text = f'"{field_name(field)}"->>\'{field_name(path)}\''
        return f"({text})::bigint" if numeric else text

    def find(self, namespace: str, field: str, path: str, equals: str) -> list[tuple[str, Record]]:
        names = self._names(namespace, None)
        column, name = field_name(field), field_name(path)
        rows = self._execute(("find", namespace, column, name),
                             lambda: self._select_sql(namespace, ["key", *names], f'"{column}"->>\'{name}\' = $1')
                             + " ORDER BY key", [equals], fetch="all")
        return [(row[0], _record(names, row[1:])) for row in rows]

    def find_range(self, namespace: str, field: str, path: str, lo: int, hi: int) -> list[tuple[str, Record]]:
        """One statement on the server, ``(doc->>'path')::bigint >= $1 AND ... < $2`` (the numeric index's
        expression, so the planner can use it)."""
        names = self._names(namespace, None)
        number = self._nested(field, path, numeric=True)
        rows = self._execute(("find_range", namespace, field_name(field), field_name(path)),
                             lambda: self._select_sql(namespace, ["key", *names], f"{number} >= $1 AND {number} < $2")
                             + " ORDER BY key", [int(lo), int(hi)], fetch="all")
        return [(row[0], _record(names, row[1:])) for row in rows]

    def update_nested(self, namespace: str, key: str, field: str, path: str, value: str) -> None:
        """One statement on the server: ``jsonb_set`` of the nested field."""
        table, column, name = check_namespace(namespace), field_name(field), field_name(path)
        count = self._execute(("update_nested", namespace, column, name),
                              lambda: f'UPDATE "{table}" SET "{column}" = jsonb_set("{column}", \'{{{name}}}\', '
                                      f"to_jsonb($2::text)) WHERE key = $1", [key, value], fetch="rowcount")
        require_found(count > 0, namespace, key)

    # -- batch: COPY -------------------------------------------------------------------------------
    def write_batch(self, namespace: str, batch: pa.Table) -> None:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        sql = self._sql()
        names = [field_name(n) for n in batch.column_names]
        buffer = io.BytesIO()
        strings = batch.cast(pa.schema([pa.field(n, pa.string()) for n in names]))
        # quote every non-null value: in PostgreSQL's CSV an unquoted empty value is NULL, "" is ''
        pacsv.write_csv(strings, buffer, pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
        statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
            sql.Identifier(check_namespace(namespace)), sql.SQL(", ").join(map(sql.Identifier, names)))
        with self.translate_errors():
            self._session().copy_in(statement, buffer.getvalue())

    def read_batch(self, namespace: str, fields: Sequence[str] | None = None) -> pa.Table:
        return self._copy_out(namespace, self._names(namespace, fields))

    def read_batch_where(self, namespace: str, fields: Sequence[str], field: str, equals: str) -> pa.Table:
        return self._copy_out(namespace, self._names(namespace, fields), (field_name(field), equals))

    def _copy_out(self, namespace: str, names: list[str], where: tuple[str, str] | None = None) -> pa.Table:
        """``COPY (SELECT key, names ... [WHERE f = v] ORDER BY key) TO STDOUT`` read into Arrow."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        sql = self._sql()
        columns = ["key", *names]
        condition = sql.SQL("")
        if where is not None:
            condition = sql.SQL(" WHERE {} = {}").format(sql.Identifier(where[0]), sql.Literal(where[1]))
        statement = sql.SQL("COPY (SELECT {} FROM {}{} ORDER BY key) TO STDOUT WITH (FORMAT csv)").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(check_namespace(namespace)),
            condition)
        with self.translate_errors():
            data = self._session().copy_out(statement)
        if not data:
            return pa.table({c: pa.array([], pa.string()) for c in columns})
        return pacsv.read_csv(
            io.BytesIO(data),
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
        """Run the prepared statement for ``shape``, preparing it on first use on this connection."""
        name = self._statement(shape, build)
        with self.translate_errors():
            return self._session().execute(name, params, fetch)

    def _session(self) -> Session:
        if self.session is None:
            raise Unavailable("postgres: not connected (call connect() first)")
        return self.session

    def _sql(self) -> Any:
        """The driver's ``sql`` module (psycopg2.sql and psycopg.sql have the same composition API)."""
        import importlib

        return importlib.import_module(f"{self.options.driver}.sql")

    def _run(self, statement: Any, params: Sequence[Any] | None = None,
             fetch: Literal["none", "one", "all", "rowcount"] = "none") -> Any:
        session = self._session()
        with self.translate_errors():
            return session.run(statement, params, fetch)

    def _forget(self, namespace: str) -> None:
        """Drop cached column lists and prepared statements of a namespace (its table may change)."""
        self._fields.pop(namespace, None)
        self._edges.pop(namespace, None)
        self._reads = {shape: hit for shape, hit in self._reads.items() if shape[0] != namespace}
        self._updates = {shape: st for shape, st in self._updates.items() if shape[0] != namespace}
        stale = [shape for shape in self._prepared if shape[1] == namespace]
        for shape in stale:
            name = self._prepared.pop(shape)
            if self.session is not None and not self.session.closed():
                self._run(f"DEALLOCATE {name}")

    def map_error(self, exc: Exception) -> AdapterError:
        return driver_error(self.options.driver, exc)


def _record(names: Sequence[str], row: Sequence[Any]) -> Record:
    return {n: v for n, v in zip(names, row, strict=True) if v is not None}
