"""`storagebench services up/down hbase` end to end, with happybase (what the adapter uses)."""

from __future__ import annotations

import uuid

import pytest
from storagebench.adapters.hbase.service import HBASE, PORTS

from storagebench.cli import main
from storagebench.services import load_service
from storagebench.services.base import ServiceContext
from storagebench.services.manager import Manager, load_endpoints, port_holder
from storagebench.testing.engines import pid_alive, require_engine

pytestmark = pytest.mark.engine("hbase")


def test_up_write_read_down_up_keeps_data() -> None:
    import happybase

    require_engine("hbase")  # CI starts it; locally skip when it is not up
    assert main(["services", "up", "hbase"]) == 0
    ctx = ServiceContext(echo=lambda _m: None)
    endpoints = load_endpoints(ctx.home)["hbase"]
    assert load_service("hbase")(ctx).probe() == f"HBase {HBASE}"

    table = f"sbench_it_{uuid.uuid4().hex[:8]}"
    connection = happybase.Connection(endpoints["host"], endpoints["port"])
    connection.create_table(table, {"f": {}})
    connection.table(table).put(b"user1", {b"f:field0": b"a"})
    assert connection.table(table).row(b"user1") == {b"f:field0": b"a"}
    connection.close()

    manager = Manager(ctx, ["hbase"], load_service)
    pids = [p.pid for p in manager.processes("hbase") if p.alive]
    assert len(pids) == 2  # master (with region server and ZooKeeper) + Thrift
    assert main(["services", "down", "hbase"]) == 0
    assert not any(pid_alive(pid) for pid in pids)
    assert "hbase" not in load_endpoints(ctx.home)
    assert all(port_holder(port) is None for port in PORTS.values())

    assert main(["services", "up", "hbase"]) == 0  # later tests still find it
    assert manager.is_up("hbase")
    connection = happybase.Connection(endpoints["host"], endpoints["port"])
    try:
        assert connection.table(table).row(b"user1") == {b"f:field0": b"a"}  # data survived the restart
    finally:
        connection.delete_table(table, disable=True)
        connection.close()
