"""How Spark reaches hdfs: the connector, its Maven coordinates and the write/read recipe."""

from __future__ import annotations

from typing import Any

from storagebench.spark.connectors import Access, Connector

#: Maven coordinates for spark.jars.packages (none: built into Spark)
PACKAGES: tuple[str, ...] = ()


def access(opts: Any, namespace: str, fields: list[str]) -> Access:
    root = opts.root.rstrip("/")
    return Access("parquet", path=f"{opts.namenode.rstrip('/')}{root}/{namespace}/spark",
                  env={"HADOOP_USER_NAME": opts.user})


CONNECTOR = Connector("hdfs:// + Parquet (Spark's Hadoop client 3.3.4)", PACKAGES, access,
                      "")
