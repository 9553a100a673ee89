"""How Spark reaches hbase: the connector, its Maven coordinates and the write/read recipe."""

from __future__ import annotations

import json
from typing import Any

from storagebench.adapters.hbase.service import PORTS

from storagebench.spark.connectors import Access, Connector

#: Maven coordinates for spark.jars.packages (resolved from Maven Central)
PACKAGES: tuple[str, ...] = ("org.apache.hbase.connectors.spark:hbase-spark:1.0.1",)


def access(opts: Any, namespace: str, fields: list[str]) -> Access:
    table = f"{opts.table_prefix}{namespace}"
    catalog = {"table": {"namespace": "default", "name": table},
               "rowkey": "key",
               "columns": {"key": {"cf": "rowkey", "col": "key", "type": "string"},
                           **{f: {"cf": "f", "col": f, "type": "string"} for f in fields}}}
    # the Java client finds the cluster through ZooKeeper (the Thrift host, HBase's ZooKeeper port).  The
    # connector builds its HBase configuration on the context's Hadoop configuration, which takes the
    # session's spark.hadoop.* settings; its hbase.spark.config.location names classpath resources, so a
    # site file in the cache would be ignored (and the client would go to ZooKeeper's default port)
    conf = {"spark.hadoop.hbase.zookeeper.quorum": opts.host,
            "spark.hadoop.hbase.zookeeper.property.clientPort": str(PORTS["zookeeper"])}
    # column-filter pushdown needs hbase-spark on the region servers' classpath: filters run in Spark,
    # row-key ranges are still pushed down
    options = {"catalog": json.dumps(catalog), "hbase.spark.use.hbasecontext": "false",
               "hbase.spark.pushdown.columnfilter": "false"}
    return Access("org.apache.hadoop.hbase.spark", options, conf=conf)


CONNECTOR = Connector("hbase-spark (Apache HBase connectors)", PACKAGES, access,
                      ("built for Spark 3.1 / HBase 2.5.4 / Hadoop 3.2.4 (its full dependency tree is needed: "
            "its logging wants an slf4j 1.x binding); column filters run in Spark"))
