"""Local engines without Docker: ``storagebench services up|down|status|logs``."""

from __future__ import annotations

import importlib

from storagebench.services.base import Service

#: service name -> "module:Class"; one module per engine
SERVICE_CLASSES: dict[str, str] = {
    "postgres": "storagebench.services.postgres:PostgresService",
    "mongodb": "storagebench.services.mongodb:FerretDBService",
    "s3": "storagebench.services.s3:VersityGatewayService",
    "hdfs": "storagebench.services.hdfs:MiniDFSService",
    "hbase": "storagebench.services.hbase:HBaseService",
    "kudu": "storagebench.services.kudu:KuduService",
    "neo4j": "storagebench.services.neo4j:Neo4jService",
    "spark": "storagebench.services.spark:SparkService",
}


def load_service(name: str) -> type[Service]:
    module, _, cls = SERVICE_CLASSES[name].partition(":")
    loaded = getattr(importlib.import_module(module), cls)
    assert issubclass(loaded, Service)
    return loaded

