"""How Spark reaches sqlite: the connector, its Maven coordinates and the write/read recipe."""

from __future__ import annotations

from typing import Any

from storagebench.spark.connectors import Access, Connector, absolute

#: Maven coordinates for spark.jars.packages (resolved from Maven Central)
PACKAGES: tuple[str, ...] = ("org.xerial:sqlite-jdbc:3.54.1.0",)


def access(opts: Any, namespace: str, fields: list[str]) -> Access:
    # the adapter's settings as sqlite-jdbc pragmas: WAL, its synchronous level, its busy timeout
    url = (f"jdbc:sqlite:{absolute(opts.path)}?journal_mode=WAL&synchronous={opts.synchronous.upper()}"
           f"&busy_timeout={int(opts.busy_timeout_s * 1000)}")
    # one partition writes (SQLite has one writer), in one transaction (Spark commits per partition)
    return Access("jdbc", {"url": url, "dbtable": namespace, "driver": "org.sqlite.JDBC"},
                  write_options={"batchsize": "1000", "numPartitions": "1", "isolationLevel": "SERIALIZABLE"},
                  read_options={"fetchsize": "5000"})


CONNECTOR = Connector("SQLite JDBC (xerial, Spark jdbc source)", PACKAGES, access,
                      "writes through one partition: SQLite has one writer")
