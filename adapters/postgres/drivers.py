"""The PostgreSQL adapter's two drivers behind one small session interface.

:class:`Psycopg` (psycopg 3) runs the prepared per-operation statements through libpq directly
(``pgconn.exec_prepared``: text parameters, text results, no Python-level row machinery) and waits for
the answer blocking in libpq, spinning on the socket, or sharing the thread with other clients
(:data:`Wait`).  :class:`Psycopg2` runs them as SQL ``EXECUTE`` through a reused cursor (sharing the
thread through psycopg2's wait callback when its clients do).  Everything else (DDL, ``PREPARE``, catalog queries,
``COPY``, server-side cursors) goes through the driver's DB-API cursor in both.
"""

from __future__ import annotations

import io
import select
import time
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from storagebench.errors import AdapterError, AlreadyExists, NotFound, Unavailable
from storagebench.running import coop

Fetch = Literal["none", "one", "all", "rowcount"]
#: how a psycopg 3 session waits for an answer: blocking in libpq's poll(), spinning on the socket, or
#: through :func:`storagebench.running.coop.wait_readable` (the clients of a process share its thread)
Wait = Literal["block", "spin", "share"]
#: how long a spinning session polls the socket before it sleeps on it (a few round trips of a point
#: read here); bounded so that a spinning client on a busy machine stops taking the server's core
SPIN_BUDGET_NS = 200_000
Param = str | int
Row = tuple[Any, ...]

#: SQLSTATEs the adapter tells apart
UNIQUE_VIOLATION, UNDEFINED_TABLE = "23505", "42P01"


class Session:
    """One connection.  ``run`` is any SQL with ``%s`` parameters; ``execute`` a prepared statement."""

    driver: str
    cursor: Any  # the DB-API cursor (also read by :func:`~storagebench.adapters.postgres.postgres_durability`)
    conn: Any

    def run(self, statement: Any, params: Sequence[Any] | None = None, fetch: Fetch = "none") -> Any:
        cur = self.cursor
        cur.execute(statement, params)
        if fetch == "one":
            return cur.fetchone()
        if fetch == "all":
            return cur.fetchall()
        if fetch == "rowcount":
            return cur.rowcount
        return None

    def execute(self, name: str, params: Sequence[Param], fetch: Fetch = "none") -> Any:
        raise NotImplementedError

    def read_record(self, name: str, key: str, columns: Sequence[str]) -> dict[str, str] | None:
        """The one row prepared statement ``name`` selects for ``key``, as ``{column: value}`` without its
        NULLs (``columns``: the statement's select list, in order), or None (the hottest path)."""
        raise NotImplementedError

    def count(self, name: str, params: Sequence[str]) -> int:
        """Rows prepared statement ``name`` changed."""
        raise NotImplementedError

    def copy_in(self, statement: Any, data: bytes) -> None:
        raise NotImplementedError

    def copy_out(self, statement: Any) -> bytes:
        raise NotImplementedError

    def cursor_rows(self, statement: Any, params: Sequence[Any], itersize: int) -> Iterator[Row]:
        """Rows of ``statement`` through a server-side (named) cursor, in a transaction of its own."""
        raise NotImplementedError

    def closed(self) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        self.conn.close()

    def client_info(self) -> dict[str, str]:
        raise NotImplementedError


class Psycopg2(Session):
    driver = "psycopg2"

    def __init__(self, kwargs: dict[str, Any]) -> None:
        import psycopg2
        import psycopg2.extras

        self.conn = psycopg2.connect(**kwargs)
        self.conn.autocommit = True
        psycopg2.extras.register_default_jsonb(self.conn, loads=lambda text: text)  # documents as their text
        self.cursor = self.conn.cursor()  # reused by every per-operation statement
        self._texts: dict[tuple[str, int], str] = {}

    def _text(self, name: str, params: int) -> str:
        text = self._texts.get((name, params))
        if text is None:
            text = self._texts[name, params] = f"EXECUTE {name} ({', '.join(['%s'] * params)})"
        return text

    def execute(self, name: str, params: Sequence[Param], fetch: Fetch = "none") -> Any:
        return self.run(self._text(name, len(params)), params, fetch)

    def read_record(self, name: str, key: str, columns: Sequence[str]) -> dict[str, str] | None:
        cur = self.cursor
        cur.execute(self._text(name, 1), (key,))
        row: Row | None = cur.fetchone()
        if row is None:
            return None
        return {c: v for c, v in zip(columns, row, strict=True) if v is not None}

    def count(self, name: str, params: Sequence[str]) -> int:
        cur = self.cursor
        cur.execute(self._text(name, len(params)), params)
        return int(cur.rowcount)

    def copy_in(self, statement: Any, data: bytes) -> None:
        with self.conn.cursor() as cur:
            cur.copy_expert(statement, io.BytesIO(data))

    def copy_out(self, statement: Any) -> bytes:
        buffer = io.BytesIO()
        with self.conn.cursor() as cur:
            cur.copy_expert(statement, buffer)
        return buffer.getvalue()

    def cursor_rows(self, statement: Any, params: Sequence[Any], itersize: int) -> Iterator[Row]:
        conn = self.conn
        conn.autocommit = False  # a named cursor needs a transaction
        try:
            with conn.cursor(name=f"sbench_scan_{id(self)}") as cur:
                cur.itersize = itersize
                cur.execute(statement, params)
                yield from cur
            conn.commit()
        finally:
            if conn.status != 1:  # not STATUS_READY: a failed transaction to roll back
                conn.rollback()
            conn.autocommit = True

    def closed(self) -> bool:
        return bool(self.conn.closed)

    def client_info(self) -> dict[str, str]:
        import psycopg2
        import psycopg2.extensions

        libpq = psycopg2.extensions.libpq_version()
        version = psycopg2.__version__.split()[0]
        return {"psycopg2": version, "libpq": f"{libpq // 10000}.{libpq % 10000}",
                "driver": f"psycopg2 {version} (SQL EXECUTE)"}


class Psycopg(Session):
    driver = "psycopg"

    def __init__(self, kwargs: dict[str, Any], wait: Wait) -> None:
        import psycopg
        from psycopg import pq

        self.conn = psycopg.connect(autocommit=True, **kwargs)
        self.cursor = self.conn.cursor()
        self.pgconn = self.conn.pgconn
        self.wait = wait
        self._ok = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)
        self._bad = pq.ConnStatus.BAD
        self._names: dict[str, bytes] = {}
        self._fd = self.pgconn.socket
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLIN)

    def _exec(self, name: str, params: list[bytes]) -> Any:
        pgconn = self.pgconn
        encoded = self._names.get(name)
        if encoded is None:
            encoded = self._names[name] = name.encode()
        if self.wait == "block":
            res = pgconn.exec_prepared(encoded, params)
        elif self.wait == "share":  # the thread serves the other clients until the answer is in
            pgconn.send_query_prepared(encoded, params)
            while pgconn.flush():
                coop.wait_writable(self._fd)
            pgconn.consume_input()  # look once before yielding: waiting first measured 42 k against 89 k
            while pgconn.is_busy():
                coop.wait_readable(self._fd)
                pgconn.consume_input()
            res = pgconn.get_result()
            while pgconn.get_result() is not None:
                pass
        else:  # spin: never sleep in the kernel between request and answer
            pgconn.send_query_prepared(encoded, params)
            while pgconn.flush():
                pass
            give_up = time.perf_counter_ns() + SPIN_BUDGET_NS
            while True:
                pgconn.consume_input()
                if not pgconn.is_busy():
                    break
                if time.perf_counter_ns() > give_up:  # a slow answer: sleep until the socket is readable
                    self._poll.poll()
            res = pgconn.get_result()
            while pgconn.get_result() is not None:
                pass
        if res is None or res.status not in self._ok:
            raise self._error(res)
        return res

    def _error(self, res: Any) -> Exception:
        import psycopg
        from psycopg import errors

        if res is None or self.pgconn.status == self._bad:
            return psycopg.OperationalError(
                f"connection lost: {self.pgconn.get_error_message() or 'no answer'}".strip())
        return errors.error_from_result(res, encoding="utf-8")

    @staticmethod
    def _rows(res: Any) -> list[Row]:
        value = res.get_value
        width = range(res.nfields)
        return [tuple(None if (v := value(i, j)) is None else v.decode() for j in width)
                for i in range(res.ntuples)]

    def execute(self, name: str, params: Sequence[Param], fetch: Fetch = "none") -> Any:
        res = self._exec(name, [str(p).encode() for p in params])
        if fetch == "rowcount":
            return res.command_tuples or 0
        if fetch == "one":
            rows = self._rows(res)
            return rows[0] if rows else None
        return self._rows(res) if fetch == "all" else None

    def read_record(self, name: str, key: str, columns: Sequence[str]) -> dict[str, str] | None:
        res = self._exec(name, [key.encode()])
        if not res.ntuples:
            return None
        value = res.get_value
        return {c: v.decode() for j, c in enumerate(columns) if (v := value(0, j)) is not None}

    def count(self, name: str, params: Sequence[str]) -> int:
        res = self._exec(name, [p.encode() for p in params])
        return int(res.command_tuples or 0)

    def copy_in(self, statement: Any, data: bytes) -> None:
        with self.conn.cursor() as cur, cur.copy(statement) as copy:
            copy.write(data)

    def copy_out(self, statement: Any) -> bytes:
        buffer = io.BytesIO()
        with self.conn.cursor() as cur, cur.copy(statement) as copy:
            for chunk in copy:
                buffer.write(chunk)
        return buffer.getvalue()

    def cursor_rows(self, statement: Any, params: Sequence[Any], itersize: int) -> Iterator[Row]:
        with self.conn.transaction(), self.conn.cursor(name=f"sbench_scan_{id(self)}") as cur:
            cur.itersize = itersize
            cur.execute(statement, params)
            yield from cur

    def closed(self) -> bool:
        return bool(self.conn.closed)

    def client_info(self) -> dict[str, str]:
        import psycopg
        from psycopg import pq

        libpq = pq.version()
        return {"psycopg": psycopg.__version__, "libpq": f"{libpq // 10000}.{libpq % 10000}",
                "driver": f"psycopg {psycopg.__version__} ({pq.__impl__} libpq, exec_prepared, {self.wait} wait)"}


def map_error(driver: str, exc: Exception) -> AdapterError:
    """A driver's exception as the harness's: duplicate key, missing table, connection trouble, other."""
    import importlib

    module = importlib.import_module(driver)
    state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if state == UNIQUE_VIOLATION:
        return AlreadyExists(f"postgres: {getattr(exc, 'pgerror', None) or exc}".strip())
    if state == UNDEFINED_TABLE:
        return NotFound(f"postgres: {str(exc).strip()}")
    if isinstance(exc, module.OperationalError | module.InterfaceError):
        return Unavailable(f"postgres: {str(exc).strip()}")
    return AdapterError(f"postgres: {type(exc).__name__}: {str(exc).strip()}")
