"""S3 through obstore or boto3: the local versitygw, any S3-compatible server, or AWS itself.

Everything about this store lives in this folder: adapter.py (the adapter), service.py (the local engine:
version, ports, provision, start), spark.py (how Spark reaches it).
Registered by one entry point in pyproject.toml; every registry is derived from this folder."""
