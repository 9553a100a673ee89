"""Conformance suite (both drivers) and HDFS-specific checks (needs `storagebench services up hdfs`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest
from storagebench.adapters.base import Adapter, Query
from storagebench.adapters.hdfs.adapter import HDFSAdapter
from storagebench.adapters.hdfs.service import CLOSE_SETTINGS, HADOOP

from storagebench.testing.conformance import AdapterConformance
from storagebench.testing.engines import require_engine

pytestmark = pytest.mark.engine("hdfs")


@pytest.fixture
def options() -> dict[str, Any]:
    return require_engine("hdfs")


class TestHDFSWebHDFS(AdapterConformance):
    @pytest.fixture
    def adapter_factory(self, options: dict[str, Any]) -> Callable[[], Adapter]:
        return lambda: HDFSAdapter({**options, "driver": "webhdfs"})


class TestHDFSNative(AdapterConformance):
    @pytest.fixture
    def adapter_factory(self, options: dict[str, Any]) -> Callable[[], Adapter]:
        pytest.importorskip("hdfs_native")
        return lambda: HDFSAdapter({**options, "driver": "native"})


@pytest.fixture
def adapter(options: dict[str, Any]) -> Iterator[HDFSAdapter]:
    with HDFSAdapter(options) as adapter:
        assert isinstance(adapter, HDFSAdapter)
        yield adapter


def test_server_info_reports_the_namenode_version(adapter: HDFSAdapter) -> None:
    info = adapter.server_info()
    assert (info.engine, info.version) == ("HDFS", HADOOP)
    assert info.details["live datanodes"] == CLOSE_SETTINGS["storagebench.minidfs.datanodes"]
    assert "hdfs" in adapter.client_info()


def test_foreign_directory_survives(adapter: HDFSAdapter, options: dict[str, Any]) -> None:
    """Directories the harness does not own (made with raw HdfsCLI) are never touched."""
    import hdfs

    raw = hdfs.InsecureClient(options["url"], user=options["user"])
    foreign = f"/usertable_{uuid.uuid4().hex[:8]}"
    sibling = f"{adapter.options.root}/usertable_{uuid.uuid4().hex[:8]}"
    for path in (foreign, sibling):
        raw.write(f"{path}/keep", data=b"x")
    try:
        ns = f"sbench_fx_{uuid.uuid4().hex[:8]}"
        adapter.prepare(ns, ["field0"])
        adapter.insert(ns, "user1", {"field0": "ours"})
        adapter.drop(ns)
        assert raw.status(f"{adapter.options.root}/{ns}", strict=False) is None
        for path in (foreign, sibling):
            with raw.read(f"{path}/keep") as reader:
                assert reader.read() == b"x"
        with pytest.raises(ValueError):
            adapter.drop("usertable")
    finally:
        for path in (foreign, sibling):
            raw.delete(path, recursive=True)


def test_batches_are_parquet_and_records_win(adapter: HDFSAdapter, options: dict[str, Any]) -> None:
    import hdfs

    ns = f"sbench_t_{uuid.uuid4().hex[:8]}"
    adapter.prepare(ns, ["field0"])
    try:
        adapter.write_batch(ns, pa.table({"key": ["b", "a"], "field0": ["batch-b", "batch-a"]}))
        adapter.insert(ns, "a", {"field0": "record-a"})
        adapter.insert(ns, "c", {"field0": "record-c"})
        back = adapter.read_batch(ns, ["field0"]).to_pydict()
        assert back == {"key": ["a", "b", "c"], "field0": ["record-a", "batch-b", "record-c"]}
        raw = hdfs.InsecureClient(options["url"], user=options["user"])
        names = raw.list(f"{adapter.options.root}/{ns}/batches")
        assert len(names) == 1 and names[0].endswith(".parquet")
    finally:
        adapter.drop(ns)


def test_keys_with_path_characters(adapter: HDFSAdapter) -> None:
    ns = f"sbench_t_{uuid.uuid4().hex[:8]}"
    adapter.prepare(ns, ["field0"])
    try:
        odd = ["a/b", "50%", "x:y", "sp ace", "ü"]
        for key in odd:
            adapter.insert(ns, key, {"field0": key})
        assert [k for k, _ in adapter.scan(ns, "", 10)] == sorted(odd)
        assert all(adapter.read(ns, k) == {"field0": k} for k in odd)
    finally:
        adapter.drop(ns)


def test_no_secrets_in_options(options: dict[str, Any]) -> None:
    """Simple (unauthenticated) HDFS: the options hold no secret to leak."""
    dumped = HDFSAdapter(options).options.model_dump()
    assert set(dumped) >= {"url", "namenode", "user", "driver", "timeout"}


def test_query_sees_batches_and_records(adapter: HDFSAdapter) -> None:
    ns = f"sbench_t_{uuid.uuid4().hex[:8]}"
    adapter.prepare(ns, ["field0", "field1"])
    try:
        adapter.write_batch(ns, pa.table({"key": ["a", "b", "c"], "field0": ["x", "x", "y"],
                                          "field1": ["1", "2", "4"]}))
        adapter.insert(ns, "b", {"field0": "y", "field1": "8"})  # overrides the batch row
        adapter.insert(ns, "d", {"field0": "x", "field1": "16"})
        answer = adapter.query(ns, Query("field0", "x", "sum", "field1"))
        assert (answer.count, answer.total) == (2, 17)
    finally:
        adapter.drop(ns)
