"""Store adapters: one folder per store (``adapters/<store>/``: the adapter, its local engine, its Spark
access), each registered by one entry point in the ``storagebench.adapters`` group (see pyproject.toml);
:mod:`storagebench.adapters.base` is the interface they all implement."""
