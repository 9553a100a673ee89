"""The null adapter: accepts every operation and does nothing.

It calibrates the harness itself (key choice, timing proxy, histograms): whatever a real store adds
on top of the null adapter's figures is the store's cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from storagebench.adapters.base import (
    Adapter,
    Capabilities,
    Query,
    QueryResult,
    Record,
    ServerInfo,
    check_namespace,
)

from storagebench import __version__


class NullAdapter(Adapter):
    name = "null"
    description = "does nothing; measures the harness's own overhead"
    capabilities: ClassVar[Capabilities] = Capabilities(stores_data=False, family="none")

    def connect(self) -> None:
        pass

    def prepare(self, namespace: str, fields: Sequence[str]) -> None:
        check_namespace(namespace)

    def drop(self, namespace: str) -> None:
        check_namespace(namespace)

    def list_namespaces(self) -> list[str]:
        return []

    def server_info(self) -> ServerInfo:
        return ServerInfo("null", __version__)

    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        pass

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        return {}

    def update(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        pass

    def delete(self, namespace: str, key: str) -> None:
        pass

    def scan(self, namespace: str, start_key: str, count: int,
             fields: Sequence[str] | None = None) -> list[tuple[str, Record]]:
        return []

    def query(self, namespace: str, query: Query) -> QueryResult:
        return QueryResult(0, 0 if query.aggregate == "sum" else None)
