"""PostgreSQL through psycopg 3 (default) or psycopg2, both on libpq.

Everything about this store lives in this folder: adapter.py (the adapter), service.py (the local engine:
version, ports, provision, start), spark.py (how Spark reaches it).
Registered by one entry point in pyproject.toml; every registry is derived from this folder."""
