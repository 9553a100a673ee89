"""How Spark reaches postgres: the connector, its Maven coordinates and the write/read recipe."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from storagebench.spark.connectors import Access, Connector, secret

#: Maven coordinates for spark.jars.packages (resolved from Maven Central)
PACKAGES: tuple[str, ...] = ("org.postgresql:postgresql:42.7.14",)


def access(opts: Any, namespace: str, fields: list[str]) -> Access:
    # reWriteBatchedInserts: pgjdbc sends each JDBC batch as multi-row INSERTs instead of one per row
    url = (f"jdbc:postgresql://{opts.host}:{opts.port}/{quote(opts.database)}?sslmode={opts.sslmode}"
           "&reWriteBatchedInserts=true")
    if opts.sslrootcert:
        url += f"&sslrootcert={quote(opts.sslrootcert)}"
    options = {"url": url, "dbtable": namespace, "user": opts.user, "driver": "org.postgresql.Driver",
               "connectTimeout": str(opts.connect_timeout)}
    password = secret(opts.password)
    if password:
        options["password"] = password
    # JDBC batches of 1000 rows in one transaction per partition; reads split on nothing (one query)
    return Access("jdbc", options, write_options={"batchsize": "1000", "isolationLevel": "READ_COMMITTED"},
                  read_options={"fetchsize": "5000"})


CONNECTOR = Connector("PostgreSQL JDBC (Spark jdbc source)", PACKAGES, access,
                      "")
