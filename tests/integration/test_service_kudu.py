"""`storagebench services up/down kudu` end to end, with the Java client the adapter uses."""

from __future__ import annotations

import uuid

import pytest
from storagebench.adapters.kudu.adapter import KuduAdapter
from storagebench.adapters.kudu.service import KUDU

from storagebench.cli import main
from storagebench.services import load_service
from storagebench.services.base import ServiceContext
from storagebench.services.manager import Manager, load_endpoints
from storagebench.testing.engines import pid_alive, require_engine

pytestmark = pytest.mark.engine("kudu")


def test_up_write_read_down_up() -> None:
    require_engine("kudu")  # CI starts it; locally skip when it is not up
    assert main(["services", "up", "kudu"]) == 0
    ctx = ServiceContext(echo=lambda _m: None)
    endpoints = load_endpoints(ctx.home)["kudu"]
    assert load_service("kudu")(ctx).probe() == f"Kudu {KUDU}"

    ns = f"sbench_it_{uuid.uuid4().hex[:8]}"
    with KuduAdapter(endpoints) as adapter:
        adapter.prepare(ns, ["field0", "field1"])
        adapter.insert(ns, "user1", {"field0": "a", "field1": "b"})
        assert adapter.read(ns, "user1") == {"field0": "a", "field1": "b"}
        adapter.drop(ns)

    manager = Manager(ctx, ["kudu"], load_service)
    pids = [p.pid for p in manager.processes("kudu") if p.alive]
    assert len(pids) == 2  # master + tablet server
    assert main(["services", "down", "kudu"]) == 0
    assert not any(pid_alive(pid) for pid in pids)
    assert "kudu" not in load_endpoints(ctx.home)

    assert main(["services", "up", "kudu"]) == 0  # later tests still find it
    assert manager.is_up("kudu")
