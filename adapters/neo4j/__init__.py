"""Neo4j through the official ``neo4j`` Python driver (Bolt), with ``neo4j-rust-ext`` when installed.

Everything about this store lives in this folder: adapter.py (the adapter), service.py (the local engine:
version, ports, provision, start), spark.py (how Spark reaches it).
Registered by one entry point in pyproject.toml; every registry is derived from this folder."""
