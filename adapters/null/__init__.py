"""The null adapter: accepts every operation and does nothing.

Everything about this store lives in this folder: adapter.py (the adapter).
Registered by one entry point in pyproject.toml; every registry is derived from this folder."""
