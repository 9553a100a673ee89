"""HDFS through WebHDFS (HdfsCLI, the default) or the NameNode RPC protocol (``hdfs-native``).

Everything about this store lives in this folder: adapter.py (the adapter), service.py (the local engine:
version, ports, provision, start), spark.py (how Spark reaches it).
Registered by one entry point in pyproject.toml; every registry is derived from this folder."""
