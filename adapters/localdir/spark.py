"""How Spark reaches localdir: the connector, its Maven coordinates and the write/read recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from storagebench.spark.connectors import Access, Connector

#: Maven coordinates for spark.jars.packages (none: built into Spark)
PACKAGES: tuple[str, ...] = ()


def access(opts: Any, namespace: str, fields: list[str]) -> Access:
    # the adapter's namespace directory holds one JSON file per record; Spark's dataset sits beside them
    return Access("parquet", path=(Path(opts.root).expanduser().absolute() / namespace / "spark").as_uri())


CONNECTOR = Connector("file:// + Parquet (local directory)", PACKAGES, access,
                      "")
