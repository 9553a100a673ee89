"""How Spark reaches each store: one table, store name -> Maven coordinates + how to write and read.

Coordinates and versions live in :data:`storagebench.services.versions.SPARK_PACKAGES` and are resolved
from Maven Central by ``spark.jars.packages`` into the Ivy cache under the storagebench cache.  Options
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

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from storagebench.services.ports import PORTS
from storagebench.services.versions import SPARK_PACKAGES


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


def _secret(value: Any) -> str:
    if value is None:
        return ""
    return str(value.get_secret_value() if hasattr(value, "get_secret_value") else value)


def _postgres(opts: Any, namespace: str, fields: list[str]) -> Access:
    # reWriteBatchedInserts: pgjdbc sends each JDBC batch as multi-row INSERTs instead of one per row
    url = (f"jdbc:postgresql://{opts.host}:{opts.port}/{quote(opts.database)}?sslmode={opts.sslmode}"
           "&reWriteBatchedInserts=true")
    if opts.sslrootcert:
        url += f"&sslrootcert={quote(opts.sslrootcert)}"
    options = {"url": url, "dbtable": namespace, "user": opts.user, "driver": "org.postgresql.Driver",
               "connectTimeout": str(opts.connect_timeout)}
    password = _secret(opts.password)
    if password:
        options["password"] = password
    # JDBC batches of 1000 rows in one transaction per partition; reads split on nothing (one query)
    return Access("jdbc", options, write_options={"batchsize": "1000", "isolationLevel": "READ_COMMITTED"},
                  read_options={"fetchsize": "5000"})


def bucket_name(namespace: str) -> str:
    """The S3 adapter's mapping (``sbench_a`` -> ``sbench-a``)."""
    return namespace.replace("_", "-")


def _s3(opts: Any, namespace: str, fields: list[str]) -> Access:
    prefix = "spark.hadoop.fs.s3a."
    conf = {
        f"{prefix}path.style.access": str(bool(opts.path_style)).lower(),
        f"{prefix}endpoint.region": opts.region,
        f"{prefix}connection.timeout": str(int(opts.connect_timeout_s * 1000)),
        f"{prefix}attempts.maximum": str(opts.max_attempts),
        f"{prefix}fast.upload": "true",
        # keep directory markers: deleting them after each write is a bulk delete that servers with a real
        # directory tree behind the bucket (versitygw's posix backend) refuse ("Directory object not empty")
        f"{prefix}directory.marker.retention": "keep",
        # object stores have no rename: write the files once, straight to their final names
        "spark.sql.sources.commitProtocolClass":
            "org.apache.spark.sql.execution.datasources.SQLHadoopMapReduceCommitProtocol",
        "spark.hadoop.mapreduce.fileoutputcommitter.algorithm.version": "2",
    }
    if opts.endpoint_url:
        conf[f"{prefix}endpoint"] = opts.endpoint_url
        conf[f"{prefix}connection.ssl.enabled"] = str(opts.endpoint_url.startswith("https")).lower()
    if opts.access_key is not None:
        conf[f"{prefix}access.key"] = _secret(opts.access_key)
        conf[f"{prefix}secret.key"] = _secret(opts.secret_key)
        if opts.session_token is not None:
            conf[f"{prefix}session.token"] = _secret(opts.session_token)
            conf[f"{prefix}aws.credentials.provider"] = \
                "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
        else:
            conf[f"{prefix}aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
    return Access("parquet", path=f"s3a://{bucket_name(namespace)}/spark", conf=conf)


def _hdfs(opts: Any, namespace: str, fields: list[str]) -> Access:
    root = opts.root.rstrip("/")
    return Access("parquet", path=f"{opts.namenode.rstrip('/')}{root}/{namespace}/spark",
                  env={"HADOOP_USER_NAME": opts.user})


def mongo_uri(opts: Any) -> str:
    if opts.uri is not None:
        return _secret(opts.uri)
    auth = ""
    if opts.username:
        auth = f"{quote(opts.username, safe='')}:{quote(_secret(opts.password), safe='')}@"
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


def _mongodb(opts: Any, namespace: str, fields: list[str]) -> Access:
    options = {"connection.uri": mongo_uri(opts), "database": opts.database, "collection": namespace}
    # the default SamplePartitioner runs $sample, which FerretDB 1.x lacks: one partition, one cursor
    read = {"partitioner": "com.mongodb.spark.sql.connector.read.partitioner.SinglePartitionPartitioner"}
    # the schema is given: inferring it samples the collection with $sample too.  Writes are inserts
    # (insertMany), not the default replace-with-upsert
    return Access("mongodb", options, write_options={"maxBatchSize": "1000", "operationType": "insert"},
                  read_options=read, key_column="_id", schema_on_read=True)


def _kudu(opts: Any, namespace: str, fields: list[str]) -> Access:
    options = {"kudu.master": opts.master_addresses, "kudu.table": namespace,
               "kudu.operationTimeoutMs": str(opts.operation_timeout_ms)}
    # insert, not the default upsert: a duplicate would be an error, as on the other stores
    return Access("kudu", options, write_options={"kudu.operation": "insert"},
                  read_options={"kudu.faultTolerantScan": "true"})


def _neo4j(opts: Any, namespace: str, fields: list[str]) -> Access:
    options = {"url": opts.uri, "database": opts.database, "labels": f":{namespace}"}
    if opts.user:
        options.update({"authentication.type": "basic", "authentication.basic.username": opts.user,
                        "authentication.basic.password": _secret(opts.password)})
    else:
        options["authentication.type"] = "none"
    if opts.encrypted:
        options["encryption.enabled"] = "true"
    # Append = CREATE one node per row, batched per transaction
    return Access("org.neo4j.spark.DataSource", options, write_options={"batch.size": "1000"},
                  read_options={"schema.strategy": "string"})


def _hbase(opts: Any, namespace: str, fields: list[str]) -> Access:
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
            "spark.hadoop.hbase.zookeeper.property.clientPort": str(PORTS["hbase"]["zookeeper"])}
    # column-filter pushdown needs hbase-spark on the region servers' classpath: filters run in Spark,
    # row-key ranges are still pushed down
    options = {"catalog": json.dumps(catalog), "hbase.spark.use.hbasecontext": "false",
               "hbase.spark.pushdown.columnfilter": "false"}
    return Access("org.apache.hadoop.hbase.spark", options, conf=conf)


def _absolute(path: Any) -> str:
    return str(Path(path).expanduser().absolute())


def _sqlite(opts: Any, namespace: str, fields: list[str]) -> Access:
    # the adapter's settings as sqlite-jdbc pragmas: WAL, its synchronous level, its busy timeout
    url = (f"jdbc:sqlite:{_absolute(opts.path)}?journal_mode=WAL&synchronous={opts.synchronous.upper()}"
           f"&busy_timeout={int(opts.busy_timeout_s * 1000)}")
    # one partition writes (SQLite has one writer), in one transaction (Spark commits per partition)
    return Access("jdbc", {"url": url, "dbtable": namespace, "driver": "org.sqlite.JDBC"},
                  write_options={"batchsize": "1000", "numPartitions": "1", "isolationLevel": "SERIALIZABLE"},
                  read_options={"fetchsize": "5000"})


def _duckdb(opts: Any, namespace: str, fields: list[str]) -> Access:
    url = f"jdbc:duckdb:{_absolute(opts.path)}"
    options = {"url": url, "dbtable": namespace, "driver": "org.duckdb.DuckDBDriver",
               "threads": str(opts.threads)}
    # DuckDB's transactions are snapshot isolation, reported as REPEATABLE_READ (its only level)
    return Access("jdbc", options,
                  write_options={"batchsize": "1000", "numPartitions": "1", "isolationLevel": "REPEATABLE_READ"},
                  read_options={"fetchsize": "5000"})


def free_duckdb_file(options: dict[str, Any]) -> AbstractContextManager[None]:
    """Let Spark's JVM open the DuckDB file (see :func:`storagebench.adapters.duckdb.lend_file`)."""
    from storagebench.adapters import duckdb as duckdb_adapter

    return duckdb_adapter.lend_file(duckdb_adapter.DuckDBAdapter.Options.model_validate(options).path)


def _localdir(opts: Any, namespace: str, fields: list[str]) -> Access:
    # the adapter's namespace directory holds one JSON file per record; Spark's dataset sits beside them
    return Access("parquet", path=(Path(opts.root).expanduser().absolute() / namespace / "spark").as_uri())


CONNECTORS: dict[str, Connector] = {
    "postgres": Connector("PostgreSQL JDBC (Spark jdbc source)", (SPARK_PACKAGES["postgres"],), _postgres),
    "s3": Connector("s3a (hadoop-aws) + Parquet", (SPARK_PACKAGES["s3"],), _s3,
                    "hadoop-aws 3.3.4 matches the Hadoop client pyspark 3.5 ships (hadoop-client-api 3.3.4)"),
    "hdfs": Connector("hdfs:// + Parquet (Spark's Hadoop client 3.3.4)", (), _hdfs),
    "mongodb": Connector("MongoDB Spark connector", (SPARK_PACKAGES["mongodb"],), _mongodb,
                         "SinglePartitionPartitioner: FerretDB 1.x has no $sample"),
    "kudu": Connector("kudu-spark3", (SPARK_PACKAGES["kudu"],), _kudu),
    "neo4j": Connector("Neo4j Connector for Apache Spark", (SPARK_PACKAGES["neo4j"],), _neo4j),
    "hbase": Connector("hbase-spark (Apache HBase connectors)", (SPARK_PACKAGES["hbase"],), _hbase,
                       "built for Spark 3.1 / HBase 2.5.4 / Hadoop 3.2.4 (its full dependency tree is needed: "
                       "its logging wants an slf4j 1.x binding); column filters run in Spark"),
    "sqlite": Connector("SQLite JDBC (xerial, Spark jdbc source)", (SPARK_PACKAGES["sqlite"],), _sqlite,
                        "writes through one partition: SQLite has one writer"),
    "duckdb": Connector("DuckDB JDBC (Spark jdbc source)", (SPARK_PACKAGES["duckdb"],), _duckdb,
                        "writes through one partition; the harness detaches the file from its own DuckDB "
                        "handle while Spark runs (one process per database file)", release=free_duckdb_file),
    "localdir": Connector("file:// + Parquet (local directory)", (), _localdir),
}


def connector(store: str) -> Connector:
    try:
        return CONNECTORS[store]
    except KeyError:
        from storagebench.errors import UsageError

        raise UsageError(f"no Spark connector for store {store!r}; known: {', '.join(CONNECTORS)}") from None
