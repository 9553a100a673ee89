"""How Spark reaches a store: each store's folder has a ``spark.py`` with its :data:`CONNECTOR` (Maven
coordinates + how to write and read); :func:`connector` finds it through the store's registration.

Coordinates are resolved from Maven Central by ``spark.jars.packages`` into the Ivy cache under the
storagebench cache.  Options
come from the store's adapter options (the endpoints file that ``storagebench services up`` writes, or a
config file), validated by the adapter's own ``Options`` model, so Spark and the Python adapter talk to
the same server with the same credentials.

Data layout matches each adapter's data model where the store has a schema (PostgreSQL table, MongoDB
collection with ``_id`` = key, Kudu table, Neo4j nodes labelled with the namespace, HBase table with
family ``f``): the adapter's ``prepare`` creates the namespace, Spark writes into it.  The file stores
(S3, HDFS) get one Parquet dataset under the namespace (bucket ``sbench-...``/``spark/``,
``<root>/<namespace>/spark``).

The embedded stores need no server: SQLite and DuckDB through Spark's jdbc source against the adapter's
database file (a table created by the adapter's ``prepare``), the local directory as a Parquet dataset
under ``<root>/<namespace>/spark`` (``file://``).  SQLite and DuckDB take one writer at a time, so their
writes go through one partition (``numPartitions=1``).  DuckDB also allows only one *process* to open a
file for writing: :attr:`Connector.release` detaches the file from this process's cached DuckDB database
while Spark's JVM has it (see :func:`storagebench.spark.batch.run_spark_batch`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Access:
    """One store's write/read recipe for a namespace."""

    format: str
    options: dict[str, str] = field(default_factory=dict)
    #: extra options for the write only / the read only
    write_options: dict[str, str] = field(default_factory=dict)
    read_options: dict[str, str] = field(default_factory=dict)
    #: file sources: where the dataset goes
    path: str | None = None
    #: session settings (spark.hadoop.* for s3a credentials ...), applied when the session starts
    conf: dict[str, str] = field(default_factory=dict)
    #: environment for the Spark JVM (e.g. HADOOP_USER_NAME)
    env: dict[str, str] = field(default_factory=dict)
    #: the column that holds the record key in the store (MongoDB: _id)
    key_column: str = "key"
    write_mode: str = "append"
    #: give the reader the schema (all strings) instead of letting the connector infer it
    schema_on_read: bool = False


@dataclass(frozen=True)
class Connector:
    name: str
    #: Maven coordinates for spark.jars.packages (empty: built into Spark)
    packages: tuple[str, ...]
    access: Callable[[Any, str, list[str]], Access]
    note: str = ""
    #: frees the store's file in *this* process while the context lasts (plain adapter options in), so
    #: another process (Spark's JVM) can open it for writing.  None: nothing to free.
    release: Callable[[dict[str, Any]], AbstractContextManager[None]] | None = None

    @property
    def version(self) -> str:
        return ", ".join(p.split(":", 2)[2] for p in self.packages) if self.packages else "built into Spark"


def secret(value: Any) -> str:
    if value is None:
        return ""
    return str(value.get_secret_value() if hasattr(value, "get_secret_value") else value)


def absolute(path: Any) -> str:
    return str(Path(path).expanduser().absolute())


def connector(store: str) -> Connector:
    """The Spark connector of a registered store (its folder's ``spark`` module)."""
    from storagebench.errors import UsageError
    from storagebench.registry import store_module

    module = store_module(store, "spark")
    found = getattr(module, "CONNECTOR", None) if module is not None else None
    if not isinstance(found, Connector):
        raise UsageError(f"no Spark connector for store {store!r} (its folder has no spark.py with a CONNECTOR)")
    return found
