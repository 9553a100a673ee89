"""A local directory used as an object store (the embedded stand-in for S3 and HDFS).

Everything about this store lives in this folder: adapter.py (the adapter), spark.py (how Spark reaches it).
Registered by one entry point in pyproject.toml; every registry is derived from this folder."""
