"""`storagebench services up/down hdfs` end to end, with HdfsCLI (what the adapter uses by default)."""

from __future__ import annotations

import posixpath
import uuid

import pytest
from storagebench.adapters.hdfs.service import HADOOP, PORTS

from storagebench.cli import main
from storagebench.services import load_service
from storagebench.services.base import ServiceContext
from storagebench.services.manager import Manager, load_endpoints, port_holder
from storagebench.testing.engines import pid_alive, require_engine

pytestmark = pytest.mark.engine("hdfs")


def test_up_write_read_down_up_keeps_data() -> None:
    import hdfs

    require_engine("hdfs")  # CI starts it; locally skip when it is not up
    assert main(["services", "up", "hdfs"]) == 0
    ctx = ServiceContext(echo=lambda _m: None)
    endpoints = load_endpoints(ctx.home)["hdfs"]
    assert load_service("hdfs")(ctx).probe() == f"HDFS {HADOOP}"

    path = f"/sbench_it_{uuid.uuid4().hex[:8]}/file"
    client = hdfs.InsecureClient(endpoints["url"], user=endpoints["user"])
    client.write(path, data=b"hello", overwrite=True)  # goes through the DataNode (redirect)
    with client.read(path) as reader:
        assert reader.read() == b"hello"

    manager = Manager(ctx, ["hdfs"], load_service)
    pids = [p.pid for p in manager.processes("hdfs") if p.alive]
    assert len(pids) == 1  # NameNode and DataNode share the MiniDFSCluster JVM
    assert main(["services", "down", "hdfs"]) == 0
    assert not any(pid_alive(pid) for pid in pids)
    assert "hdfs" not in load_endpoints(ctx.home)
    assert all(port_holder(port) is None for port in PORTS.values())

    assert main(["services", "up", "hdfs"]) == 0  # later tests still find it
    assert manager.is_up("hdfs")
    try:
        with client.read(path) as reader:
            assert reader.read() == b"hello"  # the name directory was not formatted again
    finally:
        client.delete(posixpath.dirname(path), recursive=True)
