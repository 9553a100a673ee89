"""How Spark reaches mongodb: the connector, its Maven coordinates and the write/read recipe."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from storagebench.spark.connectors import Access, Connector, secret

#: Maven coordinates for spark.jars.packages (resolved from Maven Central)
PACKAGES: tuple[str, ...] = ("org.mongodb.spark:mongo-spark-connector_2.12:10.5.0",)


def mongo_uri(opts: Any) -> str:
    if opts.uri is not None:
        return secret(opts.uri)
    auth = ""
    if opts.username:
        auth = f"{quote(opts.username, safe='')}:{quote(secret(opts.password), safe='')}@"
    params = [f"authSource={opts.auth_source}" if auth else "",
              f"directConnection={str(opts.direct_connection).lower()}",
              f"connectTimeoutMS={opts.connect_timeout_ms}"]
    if opts.tls:
        params.append("tls=true")
        if opts.tls_ca_file:
            params.append(f"tlsCAFile={quote(opts.tls_ca_file)}")
        if opts.tls_allow_invalid_certificates:
            params.append("tlsAllowInvalidCertificates=true")
    return f"mongodb://{auth}{opts.host}:{opts.port}/?" + "&".join(p for p in params if p)

def access(opts: Any, namespace: str, fields: list[str]) -> Access:
    options = {"connection.uri": mongo_uri(opts), "database": opts.database, "collection": namespace}
    # the default SamplePartitioner runs $sample, which FerretDB 1.x lacks: one partition, one cursor
    read = {"partitioner": "com.mongodb.spark.sql.connector.read.partitioner.SinglePartitionPartitioner"}
    # the schema is given: inferring it samples the collection with $sample too.  Writes are inserts
    # (insertMany), not the default replace-with-upsert
    return Access("mongodb", options, write_options={"maxBatchSize": "1000", "operationType": "insert"},
                  read_options=read, key_column="_id", schema_on_read=True)


CONNECTOR = Connector("MongoDB Spark connector", PACKAGES, access,
                      "SinglePartitionPartitioner: FerretDB 1.x has no $sample")
