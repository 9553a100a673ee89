"""How Spark reaches s3: the connector, its Maven coordinates and the write/read recipe."""

from __future__ import annotations

from typing import Any

from storagebench.spark.connectors import Access, Connector, secret

#: Maven coordinates for spark.jars.packages (resolved from Maven Central)
PACKAGES: tuple[str, ...] = ("org.apache.hadoop:hadoop-aws:3.3.4",)


def bucket_name(namespace: str) -> str:
    """The S3 adapter's mapping (``sbench_a`` -> ``sbench-a``)."""
    return namespace.replace("_", "-")

def access(opts: Any, namespace: str, fields: list[str]) -> Access:
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
        conf[f"{prefix}access.key"] = secret(opts.access_key)
        conf[f"{prefix}secret.key"] = secret(opts.secret_key)
        if opts.session_token is not None:
            conf[f"{prefix}session.token"] = secret(opts.session_token)
            conf[f"{prefix}aws.credentials.provider"] = \
                "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
        else:
            conf[f"{prefix}aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
    return Access("parquet", path=f"s3a://{bucket_name(namespace)}/spark", conf=conf)


CONNECTOR = Connector("s3a (hadoop-aws) + Parquet", PACKAGES, access,
                      "hadoop-aws 3.3.4 matches the Hadoop client pyspark 3.5 ships (hadoop-client-api 3.3.4)")
