"""How Spark reaches neo4j: the connector, its Maven coordinates and the write/read recipe."""

from __future__ import annotations

from typing import Any

from storagebench.spark.connectors import Access, Connector, secret

#: Maven coordinates for spark.jars.packages (resolved from Maven Central)
PACKAGES: tuple[str, ...] = ("org.neo4j:neo4j-connector-apache-spark_2.12:5.0.0_for_spark_3",)


def access(opts: Any, namespace: str, fields: list[str]) -> Access:
    options = {"url": opts.uri, "database": opts.database, "labels": f":{namespace}"}
    if opts.user:
        options.update({"authentication.type": "basic", "authentication.basic.username": opts.user,
                        "authentication.basic.password": secret(opts.password)})
    else:
        options["authentication.type"] = "none"
    if opts.encrypted:
        options["encryption.enabled"] = "true"
    # Append = CREATE one node per row, batched per transaction
    return Access("org.neo4j.spark.DataSource", options, write_options={"batch.size": "1000"},
                  read_options={"schema.strategy": "string"})


CONNECTOR = Connector("Neo4j Connector for Apache Spark", PACKAGES, access,
                      "")
