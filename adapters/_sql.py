"""Shared logic of the embedded SQL adapters (SQLite, DuckDB): one table per namespace.

Data model: ``CREATE TABLE <namespace> (key TEXT PRIMARY KEY, field0 TEXT, ...)``; scans are
``WHERE key >= ? ORDER BY key LIMIT ?`` on the primary-key index; the query is
``SELECT count(*), sum(CAST(f AS BIGINT)) WHERE field = ?``; the join is the table joined with itself on the
reference field, grouped (:func:`join_sql`, PostgreSQL's too), with ``CREATE INDEX`` on the join key; graph
and shortest path are recursive CTEs over the edge table a graph workload's load builds where the engine
has triggers to keep it in step (SQLite: ``"<namespace>$edges" (src, dst)``), else over the links field split
(DuckDB); the shortest path enumerates chains of distinct keys up to the hop bound: about degree^hops rows,
as SQL recursion keeps no global visited set.
Identifiers are never user text: the namespace passes :func:`check_namespace` and field names are checked
against ``[a-z0-9_]+``.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from storagebench.adapters.base import (
    Adapter,
    Join,
    JoinResult,
    Query,
    QueryResult,
    Record,
    check_namespace,
    ours,
    require_found,
)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a safe identifier: {name!r}")
    return name


def join_sql(table: str, join: Join, low: str, high: str) -> str:
    """The one statement that answers a :class:`Join` (PostgreSQL, SQLite and DuckDB alike): a self-join of the
    namespace's table (parents by key, children by the reference field) with a group-by.  ``table`` is quoted
    by the caller, ``low``/``high`` are the dialect's parameter marks."""
    group, ref, summed = ident(join.group_field), ident(join.ref_field), ident(join.sum_field)
    return (f"SELECT u.{group}, count(*), sum(CAST(o.{summed} AS BIGINT)) FROM {table} u JOIN {table} o "
            f"ON o.{ref} = u.key "
            f"WHERE u.{group} >= {low} AND u.{group} <= {high} GROUP BY u.{group}")


def index_sql(table: str, namespace: str, field: str) -> str:
    """``CREATE INDEX`` on one field (the index is named after the namespace, so it goes with the table)."""
    return f"CREATE INDEX IF NOT EXISTS {check_namespace(namespace)}_{ident(field)}_idx ON {table} ({ident(field)})"


def join_rows(rows: Sequence[Sequence[Any]]) -> JoinResult:
    return {str(r[0]): (int(r[1]), int(r[2] or 0)) for r in rows}


class EmbeddedSQLAdapter(Adapter):
    """DB-API adapter with ``?`` parameters; subclasses open the connection and list a table's columns."""

    conn: Any = None

    @abstractmethod
    def _columns(self, namespace: str) -> list[str]:
        """Field columns of the namespace's table (without ``key``); [] when the table is absent."""

    @abstractmethod
    def _table_exists(self, namespace: str) -> bool: ...

    _field_cache: dict[str, list[str]]

    def fields_of(self, namespace: str) -> list[str]:
        cache = self.__dict__.setdefault("_field_cache", {})
        if namespace not in cache:
            cache[namespace] = self._columns(namespace)
        return list(cache[namespace])

    #: a query returning the names of the database's tables (first column)
    _tables_sql: str = ""

    def list_namespaces(self) -> list[str]:
        return ours(row[0] for row in self._execute(self._tables_sql).fetchall())

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self.translate_errors():
            return self.conn.execute(sql, params)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def prepare(self, namespace: str, fields: Sequence[str]) -> None:
        check_namespace(namespace)
        cols = ", ".join(f"{ident(f)} TEXT" for f in fields)
        self._execute(f"CREATE TABLE IF NOT EXISTS {namespace} (key TEXT PRIMARY KEY, {cols})")
        self._commit()
        self.__dict__.setdefault("_field_cache", {}).pop(namespace, None)

    def drop(self, namespace: str) -> None:
        check_namespace(namespace)
        self._execute(f"DROP TABLE IF EXISTS {namespace}")
        self._execute(f"DROP TABLE IF EXISTS {self._edges(namespace)}")
        self.__dict__.setdefault("_edge_cache", {}).pop(namespace, None)
        self._commit()
        self.__dict__.setdefault("_field_cache", {}).pop(namespace, None)

    def _commit(self) -> None:
        with self.translate_errors():
            self.conn.commit()

    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        names = [ident(n) for n in values]
        marks = ", ".join("?" for _ in range(len(names) + 1))
        self._execute(f"INSERT INTO {namespace} (key, {', '.join(names)}) VALUES ({marks})",
                      [key, *values.values()])
        self._commit()

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        names = [ident(f) for f in fields] if fields is not None else self.fields_of(namespace)
        row = self._execute(f"SELECT {', '.join(names)} FROM {namespace} WHERE key = ?", [key]).fetchone()
        require_found(row is not None, namespace, key)
        return {n: v for n, v in zip(names, row, strict=True) if v is not None}

    def update(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        sets = ", ".join(f"{ident(n)} = ?" for n in values)
        cur = self._execute(f"UPDATE {namespace} SET {sets} WHERE key = ?", [*values.values(), key])
        changed = self._rowcount(cur, namespace, key)
        self._commit()
        require_found(changed > 0, namespace, key)

    def delete(self, namespace: str, key: str) -> None:
        cur = self._execute(f"DELETE FROM {namespace} WHERE key = ?", [key])
        changed = self._rowcount(cur, namespace, key)
        self._commit()
        require_found(changed > 0, namespace, key)

    def _rowcount(self, cursor: Any, namespace: str, key: str) -> int:
        return int(cursor.rowcount)

    def scan(self, namespace: str, start_key: str, count: int,
             fields: Sequence[str] | None = None) -> list[tuple[str, Record]]:
        names = [ident(f) for f in fields] if fields is not None else self.fields_of(namespace)
        rows = self._execute(
            f"SELECT key, {', '.join(names)} FROM {namespace} WHERE key >= ? ORDER BY key LIMIT ?",
            [start_key, count]).fetchall()
        return [(row[0], {n: v for n, v in zip(names, row[1:], strict=True) if v is not None}) for row in rows]

    def query(self, namespace: str, query: Query) -> QueryResult:
        where = ident(query.field)
        if query.aggregate == "sum":
            target = ident(query.sum_field or "")
            row = self._execute(f"SELECT count(*), sum(CAST({target} AS BIGINT)) FROM {namespace} "
                                f"WHERE {where} = ?", [query.equals]).fetchone()
            return QueryResult(int(row[0]), int(row[1] or 0))
        row = self._execute(f"SELECT count(*) FROM {namespace} WHERE {where} = ?", [query.equals]).fetchone()
        return QueryResult(int(row[0]))

    def create_index(self, namespace: str, field: str) -> bool:
        self._execute(index_sql(check_namespace(namespace), namespace, field))
        self._commit()
        return True

    def join(self, namespace: str, join: Join) -> JoinResult:
        """One statement: the table joined with itself on the reference field, grouped."""
        check_namespace(namespace)
        return join_rows(self._execute(join_sql(namespace, join, "?", "?"), [join.low, join.high]).fetchall())

    # -- graph: one recursive query on the server ------------------------------------------------------
    #: SQL that turns ``t.<links>`` of a joined row into one row per linked key, as ``step(key)``;
    #: "{links}" is replaced by the column
    split_links_sql: str = ""
    #: the column of ``step`` holding a linked key
    split_links_column: str = "key"
    #: a table-valued expression of one row per link in "{links}" (a links value), the key in column
    #: ``value``, for engines that keep an edge table in step with triggers ("" where the engine has none)
    links_rows_sql: str = ""

    def _edges(self, namespace: str) -> str:
        """The edge table of a namespace: ``$`` keeps it out of :func:`ours` (a table, not a namespace)."""
        return f'"{check_namespace(namespace)}$edges"'

    def _has_edges(self, namespace: str) -> bool:
        known: dict[str, bool] = self.__dict__.setdefault("_edge_cache", {})
        if namespace not in known:
            known[namespace] = self._table_exists(f"{namespace}$edges")
        return known[namespace]

    def create_edge_index(self, namespace: str, field: str) -> bool:
        """The edge table ``(src, dst)`` with the primary key on both (so on the source first), filled from
        the loaded links in one statement; triggers keep it in step with every later insert, delete and
        write of the links field."""
        if not self.links_rows_sql:
            return False
        table, edges, links = check_namespace(namespace), self._edges(namespace), ident(field)
        self._execute(f"DROP TABLE IF EXISTS {edges}")
        self._execute(f"CREATE TABLE {edges} (src TEXT NOT NULL, dst TEXT NOT NULL, PRIMARY KEY (src, dst))")
        rows = self.links_rows_sql
        self._execute(f"INSERT OR IGNORE INTO {edges} SELECT t.key, s.value FROM {table} t, "
                      f"{rows.format(links=f't.{links}')} s WHERE s.value <> ''")
        add = (f"INSERT OR IGNORE INTO {edges} SELECT NEW.key, s.value FROM {rows.format(links=f'NEW.{links}')} s "
               f"WHERE s.value <> '';")
        for name, event, body in (("ins", f"INSERT ON {table}", add),
                                  ("del", f"DELETE ON {table}", f"DELETE FROM {edges} WHERE src = OLD.key;"),
                                  ("upd", f"UPDATE OF {links} ON {table}",
                                   f"DELETE FROM {edges} WHERE src = OLD.key; {add}")):
            self._execute(f'CREATE TRIGGER IF NOT EXISTS "{table}$edges_{name}" AFTER {event} BEGIN {body} END')
        self._commit()
        self.__dict__.setdefault("_edge_cache", {})[namespace] = True
        return True

    def _step(self, namespace: str, field: str) -> tuple[str, str]:
        """How a walk takes one step from ``walk.key``: the join that yields the linked keys, and the column
        holding one (the edge table where the namespace has one, else the links field split)."""
        if self._has_edges(namespace):
            return f"JOIN {self._edges(namespace)} step ON step.src = walk.key", "step.dst"
        split = self.split_links_sql.format(links=ident(field))
        return f"JOIN {check_namespace(namespace)} t ON t.key = walk.key {split}", f"step.{self.split_links_column}"

    def neighbors(self, namespace: str, key: str, hops: int, field: str) -> set[str]:
        join, step = self._step(namespace, field)
        rows = self._execute(
            f"WITH RECURSIVE walk(key, depth) AS (SELECT ?, 0 UNION "
            f"SELECT {step}, walk.depth + 1 FROM walk {join} WHERE walk.depth < ?) "
            f"SELECT DISTINCT key FROM walk WHERE key <> ?", [key, int(hops), key]).fetchall()
        return {r[0] for r in rows if r[0]}

    def shortest_path(self, namespace: str, source: str, target: str, max_hops: int, field: str) -> list[str] | None:
        """One recursive query: every chain of distinct keys from the source, up to ``max_hops`` links and
        not beyond the target, carried as ``,k0,k1,...,``; the shortest one that ends at the target."""
        join, step = self._step(namespace, field)
        row = self._execute(
            f"WITH RECURSIVE walk(key, depth, path) AS (SELECT CAST(? AS TEXT), 0, ',' || CAST(? AS TEXT) || ',' "
            f"UNION ALL SELECT {step}, walk.depth + 1, walk.path || {step} || ',' "
            f"FROM walk {join} "
            f"WHERE walk.depth < ? AND walk.key <> ? AND {step} <> '' "
            f"AND instr(walk.path, ',' || {step} || ',') = 0) "
            f"SELECT path FROM walk WHERE key = ? ORDER BY depth LIMIT 1",
            [source, source, int(max_hops), target, target]).fetchone()
        return None if row is None else row[0].strip(",").split(",")

    # -- bulk path: one transaction of executemany; read back in key order ---------------------------
    def write_batch(self, namespace: str, batch: Any) -> None:
        names = [ident(n) for n in batch.column_names]
        marks = ", ".join("?" for _ in names)
        rows = list(zip(*(batch.column(n).to_pylist() for n in names), strict=True))
        with self.translate_errors():
            self.conn.executemany(f"INSERT INTO {namespace} ({', '.join(names)}) VALUES ({marks})", rows)
            self.conn.commit()

    def read_batch(self, namespace: str, fields: Sequence[str] | None = None) -> Any:
        return self._select_table(namespace, fields, "", [])

    def read_batch_where(self, namespace: str, fields: Sequence[str], field: str, equals: str) -> Any:
        return self._select_table(namespace, fields, f"WHERE {ident(field)} = ?", [equals])

    def _select_table(self, namespace: str, fields: Sequence[str] | None, where: str, params: list[str]) -> Any:
        import pyarrow as pa

        names = [ident(f) for f in fields] if fields is not None else self.fields_of(namespace)
        rows = self._execute(f"SELECT key, {', '.join(names)} FROM {namespace} {where} ORDER BY key",
                             params).fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in range(len(names) + 1)]
        return pa.table({name: pa.array(list(col), pa.string())
                         for name, col in zip(["key", *names], columns, strict=True)})

    # -- documents: the engine's JSON functions over the text, an expression index where it has them ---------
    #: SQL of a document's nested field as text ("{col}" and "{path}" replaced; both checked identifiers)
    json_path_sql: str = "({col} ->> '$.{path}')"
    #: SQL of a document's nested field as a number (for range queries; NULL or not a number otherwise)
    json_number_sql: str = "({col} ->> '$.{path}')"
    #: SQL of the document with one nested field set to the statement's first parameter
    json_set_sql: str = "json_set({col}, '$.{path}', ?)"
    #: the engine indexes :attr:`json_path_sql` (an expression index)
    json_index: bool = True

    def _json_path(self, field: str, path: str) -> str:
        return self.json_path_sql.format(col=ident(field), path=ident(path))

    def _json_number(self, field: str, path: str) -> str:
        return self.json_number_sql.format(col=ident(field), path=ident(path))

    def create_document_index(self, namespace: str, field: str, path: str, numeric: bool = False) -> bool:
        if not self.json_index:
            return False
        check_namespace(namespace)
        expression = self._json_number(field, path) if numeric else self._json_path(field, path)
        self._execute(f"CREATE INDEX IF NOT EXISTS {namespace}_{ident(field)}_{ident(path)} "
                      f"ON {namespace} ({expression})")
        self._commit()
        return True

    def find(self, namespace: str, field: str, path: str, equals: str) -> list[tuple[str, Record]]:
        return self._select_where(namespace, f"{self._json_path(field, path)} = ?", [equals])

    def find_range(self, namespace: str, field: str, path: str, lo: int, hi: int) -> list[tuple[str, Record]]:
        number = self._json_number(field, path)
        return self._select_where(namespace, f"{number} >= ? AND {number} < ?", [int(lo), int(hi)])

    def _select_where(self, namespace: str, where: str, params: list[Any]) -> list[tuple[str, Record]]:
        names = self.fields_of(namespace)
        rows = self._execute(f"SELECT key, {', '.join(names)} FROM {namespace} WHERE {where} ORDER BY key",
                             params).fetchall()
        return [(row[0], {n: v for n, v in zip(names, row[1:], strict=True) if v is not None}) for row in rows]

    def update_nested(self, namespace: str, key: str, field: str, path: str, value: str) -> None:
        column = ident(field)
        document = self.json_set_sql.format(col=column, path=ident(path))
        cur = self._execute(f"UPDATE {namespace} SET {column} = {document} WHERE key = ?", [value, key])
        changed = self._rowcount(cur, namespace, key)
        self._commit()
        require_found(changed > 0, namespace, key)
