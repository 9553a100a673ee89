"""How Spark reaches kudu: the connector, its Maven coordinates and the write/read recipe."""

from __future__ import annotations

from typing import Any

from storagebench.spark.connectors import Access, Connector

#: Maven coordinates for spark.jars.packages (resolved from Maven Central)
PACKAGES: tuple[str, ...] = ("org.apache.kudu:kudu-spark3_2.12:1.17.1",)


def access(opts: Any, namespace: str, fields: list[str]) -> Access:
    options = {"kudu.master": opts.master_addresses, "kudu.table": namespace,
               "kudu.operationTimeoutMs": str(opts.operation_timeout_ms)}
    # insert, not the default upsert: a duplicate would be an error, as on the other stores
    return Access("kudu", options, write_options={"kudu.operation": "insert"},
                  read_options={"kudu.faultTolerantScan": "true"})


CONNECTOR = Connector("kudu-spark3", PACKAGES, access,
                      "")
