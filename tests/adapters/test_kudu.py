"""Conformance suite and Kudu-specific checks (needs `storagebench services up kudu`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from storagebench.adapters.base import Adapter
from storagebench.adapters.kudu.adapter import KuduAdapter, start_jvm
from storagebench.adapters.kudu.service import KUDU

from storagebench.errors import AlreadyExists, NotFound
from storagebench.testing.conformance import AdapterConformance
from storagebench.testing.engines import require_engine

pytestmark = pytest.mark.engine("kudu")


@pytest.fixture
def options() -> dict[str, Any]:
    return require_engine("kudu")


class TestKudu(AdapterConformance):
    @pytest.fixture
    def adapter_factory(self, options: dict[str, Any]) -> Callable[[], Adapter]:
        return lambda: KuduAdapter(options)


@pytest.fixture
def adapter(options: dict[str, Any]) -> Iterator[KuduAdapter]:
    with KuduAdapter(options) as adapter:
        assert isinstance(adapter, KuduAdapter)
        yield adapter


def test_server_info_reports_the_running_version(adapter: KuduAdapter) -> None:
    info = adapter.server_info()
    assert (info.engine, info.version) == ("Kudu", KUDU)
    assert info.details["tablet servers"] == "1"
    assert "kudu-client (Java)" in adapter.client_info()


def test_foreign_table_survives(adapter: KuduAdapter) -> None:
    """A table the harness does not own (created with the raw Java client) is never touched."""
    jpype = start_jvm()
    j = jpype.JClass
    client = adapter.client
    foreign = f"usertable_{uuid.uuid4().hex[:8]}"
    columns = j("java.util.ArrayList")()
    columns.add(j("org.apache.kudu.ColumnSchema$ColumnSchemaBuilder")("key", j("org.apache.kudu.Type").STRING)
                .key(True).build())
    range_cols = j("java.util.ArrayList")()
    range_cols.add("key")
    client.createTable(foreign, j("org.apache.kudu.Schema")(columns),
                       j("org.apache.kudu.client.CreateTableOptions")().setRangePartitionColumns(range_cols)
                       .setNumReplicas(1))
    try:
        ns = f"sbench_fx_{uuid.uuid4().hex[:8]}"
        adapter.prepare(ns, ["field0"])
        adapter.insert(ns, "k", {"field0": "a"})
        adapter.drop(ns)
        assert client.tableExists(foreign)
        assert not client.tableExists(ns)
        with pytest.raises(ValueError):
            adapter.drop(foreign)
    finally:
        client.deleteTable(foreign)


def test_row_errors_are_translated(adapter: KuduAdapter) -> None:
    ns = f"sbench_t_{uuid.uuid4().hex[:10]}"
    adapter.prepare(ns, ["field0"])
    try:
        adapter.insert(ns, "k", {"field0": "a"})
        with pytest.raises(AlreadyExists):
            adapter.insert(ns, "k", {"field0": "b"})
        with pytest.raises(NotFound):
            adapter.update(ns, "missing", {"field0": "x"})
    finally:
        adapter.drop(ns)


def test_works_from_worker_threads(options: dict[str, Any]) -> None:
    """Each worker thread owns an adapter; JPype attaches the threads to the JVM."""
    import threading

    ns = f"sbench_t_{uuid.uuid4().hex[:10]}"
    with KuduAdapter(options) as setup:
        setup.prepare(ns, ["field0"])
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            with KuduAdapter(options) as mine:
                mine.init_worker(worker)
                for i in range(20):
                    mine.insert(ns, f"w{worker}-{i:03d}", {"field0": str(i)})
                assert mine.read(ns, f"w{worker}-007") == {"field0": "7"}
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors, errors
        with KuduAdapter(options) as check:
            assert len(check.scan(ns, "", 100)) == 60
    finally:
        with KuduAdapter(options) as cleanup:
            cleanup.drop(ns)


def test_options_have_no_secret_fields_to_leak() -> None:
    """Kudu authenticates with Kerberos/tokens, not passwords: the options carry nothing secret."""
    dumped = KuduAdapter({"master_addresses": "h:1"}).options.model_dump()
    assert dumped["master_addresses"] == "h:1"
    assert not any("password" in k or "secret" in k for k in dumped)


def _child_reads(options: dict[str, Any], ns: str) -> str:
    with KuduAdapter(options) as adapter:
        return adapter.read(ns, "k")["field0"]


def test_works_in_spawned_child_process(adapter: KuduAdapter, options: dict[str, Any]) -> None:
    """A spawned worker process starts its own JVM (this one already has one running)."""
    import multiprocessing

    ns = f"sbench_t_{uuid.uuid4().hex[:10]}"
    adapter.prepare(ns, ["field0"])
    try:
        adapter.insert(ns, "k", {"field0": "from parent"})
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            assert pool.apply(_child_reads, (options, ns)) == "from parent"
    finally:
        adapter.drop(ns)


def test_process_exits_when_a_worker_thread_started_the_jvm(options: dict[str, Any]) -> None:
    """The runner's spawned processes start the JVM from a worker thread; exit must not hang."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys, threading\n"
        "from storagebench.adapters.kudu.adapter import KuduAdapter\n"
        "def work():\n"
        "    KuduAdapter(json.loads(sys.argv[1])).connect()  # left open on purpose\n"
        "t = threading.Thread(target=work, daemon=True)\n"
        "t.start(); t.join()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(options)], timeout=60, check=False)
    assert proc.returncode == 0


def test_filtered_batch_read(adapter: KuduAdapter) -> None:
    import pyarrow as pa

    ns = f"sbench_t_{uuid.uuid4().hex[:10]}"
    adapter.prepare(ns, ["field0", "field1"])
    try:
        n = 200
        adapter.write_batch(ns, pa.table({"key": [f"b{i:04d}" for i in range(n)],
                                          "field0": [f"g{i % 2}" for i in range(n)],
                                          "field1": [str(i) for i in range(n)]}))
        subset = adapter.read_batch_where(ns, ["field1"], "field0", "g1")
        assert subset.to_pydict() == {"key": [f"b{i:04d}" for i in range(1, n, 2)],
                                      "field1": [str(i) for i in range(1, n, 2)]}
    finally:
        adapter.drop(ns)
