"""How Spark reaches duckdb: the connector, its Maven coordinates and the write/read recipe."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from storagebench.spark.connectors import Access, Connector, absolute

#: Maven coordinates for spark.jars.packages (resolved from Maven Central)
#: same storage format as the Python duckdb 2.0
PACKAGES: tuple[str, ...] = ("org.duckdb:duckdb_jdbc:2.0.0.1",)


def free_duckdb_file(options: dict[str, Any]) -> AbstractContextManager[None]:
    """Let Spark's JVM open the DuckDB file (see :func:`storagebench.adapters.duckdb.adapter.lend_file`)."""
    from storagebench.adapters.duckdb import adapter as duckdb_adapter

    return duckdb_adapter.lend_file(duckdb_adapter.DuckDBAdapter.Options.model_validate(options).path)


def access(opts: Any, namespace: str, fields: list[str]) -> Access:
    url = f"jdbc:duckdb:{absolute(opts.path)}"
    options = {"url": url, "dbtable": namespace, "driver": "org.duckdb.DuckDBDriver",
               "threads": str(opts.threads)}
    # DuckDB's transactions are snapshot isolation, reported as REPEATABLE_READ (its only level)
    return Access("jdbc", options,
                  write_options={"batchsize": "1000", "numPartitions": "1", "isolationLevel": "REPEATABLE_READ"},
                  read_options={"fetchsize": "5000"})


CONNECTOR = Connector("DuckDB JDBC (Spark jdbc source)", PACKAGES, access,
                      ("writes through one partition; the harness detaches the file from its own DuckDB "
            "handle while Spark runs (one process per database file)"), release=free_duckdb_file)
