"""storagebench: one adapter interface over many stores, identical workloads, one comparative report."""

from __future__ import annotations

__version__ = "0.1.0"
