"""The one place for where each local engine listens.  Everything binds to :data:`HOST`.

docker/compose.yaml publishes the same ports (a test checks they agree).
"""

from __future__ import annotations

HOST = "127.0.0.1"

#: service name -> {port role: port}
PORTS: dict[str, dict[str, int]] = {
    "postgres": {"sql": 5433},
    "mongodb": {"wire": 27017},
    "s3": {"http": 7070},
    "hdfs": {"namenode": 8020, "webhdfs": 9870},
    "hbase": {"zookeeper": 2181, "thrift": 9090, "master": 16000, "region": 16020, "master_info": 16010},
    "kudu": {"master": 7051, "tserver": 7050, "master_http": 8051, "tserver_http": 8050},
    "neo4j": {"bolt": 7687},
}
