"""SQLite (embedded, Python's sqlite3): see :mod:`storagebench.adapters._sql` for the data model.

Everything about this store lives in this folder: adapter.py (the adapter), spark.py (how Spark reaches it).
Registered by one entry point in pyproject.toml; every registry is derived from this folder."""
