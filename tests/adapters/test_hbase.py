"""Conformance suite and HBase-specific checks (needs `storagebench services up hbase`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from storagebench.adapters.base import Adapter, Query
from storagebench.adapters.hbase.adapter import HBaseAdapter
from storagebench.adapters.hbase.service import HBASE

from storagebench.testing.conformance import AdapterConformance
from storagebench.testing.engines import require_engine

pytestmark = pytest.mark.engine("hbase")


@pytest.fixture
def options() -> dict[str, Any]:
    return require_engine("hbase")


class TestHBase(AdapterConformance):
    @pytest.fixture
    def adapter_factory(self, options: dict[str, Any]) -> Callable[[], Adapter]:
        return lambda: HBaseAdapter(options)


@pytest.fixture
def adapter(options: dict[str, Any]) -> Iterator[HBaseAdapter]:
    with HBaseAdapter(options) as adapter:
        assert isinstance(adapter, HBaseAdapter)
        yield adapter


def test_server_info_reports_the_cluster_version(adapter: HBaseAdapter) -> None:
    info = adapter.server_info()
    assert (info.engine, info.version) == ("HBase", HBASE)
    assert info.details["cluster_id"]
    assert set(adapter.client_info()) >= {"happybase", "thriftpy2"}


def test_foreign_table_survives(adapter: HBaseAdapter) -> None:
    """A table the harness does not own (created with raw happybase) is never touched."""
    raw = adapter.connection
    foreign = f"usertable_{uuid.uuid4().hex[:8]}"
    raw.create_table(foreign, {"f": {}})
    try:
        raw.table(foreign).put(b"user1", {b"f:field0": b"keep"})
        ns = f"sbench_fx_{uuid.uuid4().hex[:8]}"
        adapter.prepare(ns, ["field0"])
        adapter.insert(ns, "user1", {"field0": "ours"})
        adapter.drop(ns)
        tables = raw.tables()
        assert foreign.encode() in tables and ns.encode() not in tables
        assert raw.table(foreign).row(b"user1") == {b"f:field0": b"keep"}
        with pytest.raises(ValueError):
            adapter.drop(foreign)
    finally:
        raw.delete_table(foreign, disable=True)


def test_table_prefix_must_stay_in_our_namespace(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        HBaseAdapter({**options, "table_prefix": "prod_"})
    prefixed = HBaseAdapter({**options, "table_prefix": "sbench_run_"})
    with prefixed:
        ns = f"sbench_t_{uuid.uuid4().hex[:8]}"
        prefixed.prepare(ns, ["field0"])
        try:
            assert f"sbench_run_{ns}".encode() in prefixed.connection.tables()
        finally:
            prefixed.drop(ns)


def test_query_filter_quotes_values(adapter: HBaseAdapter) -> None:
    ns = f"sbench_t_{uuid.uuid4().hex[:8]}"
    adapter.prepare(ns, ["field0", "field1"])
    try:
        adapter.insert(ns, "a", {"field0": "it's", "field1": "3"})
        adapter.insert(ns, "b", {"field0": "its", "field1": "4"})
        assert adapter.query(ns, Query("field0", "it's", "sum", "field1")).total == 3
    finally:
        adapter.drop(ns)


def test_no_secrets_in_options(options: dict[str, Any]) -> None:
    """The Thrift v1 gateway has no authentication here: the options hold no secret to leak."""
    dumped = HBaseAdapter(options).options.model_dump()
    assert set(dumped) >= {"host", "port", "transport", "protocol", "timeout_ms"}
