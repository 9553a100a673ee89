"""Store adapters.  Each module holds one adapter, registered under the ``storagebench.adapters``
entry-point group (see pyproject.toml); :mod:`storagebench.adapters.base` is the interface they all implement."""
