"""`storagebench services up/down neo4j` end to end, with the driver the adapter uses."""

from __future__ import annotations

import neo4j
import pytest
from storagebench.adapters.neo4j.service import NEO4J

from storagebench.cli import main
from storagebench.services import load_service
from storagebench.services.base import ServiceContext
from storagebench.services.manager import Manager, load_endpoints
from storagebench.testing.engines import pid_alive, require_engine

pytestmark = pytest.mark.engine("neo4j")


def test_up_write_read_down_up() -> None:
    require_engine("neo4j")  # CI starts it; locally skip when it is not up
    assert main(["services", "up", "neo4j"]) == 0
    ctx = ServiceContext(echo=lambda _m: None)
    endpoints = load_endpoints(ctx.home)["neo4j"]
    assert load_service("neo4j")(ctx).probe() == f"Neo4j {NEO4J} (community)"

    with neo4j.GraphDatabase.driver(endpoints["uri"], auth=None) as driver:
        driver.execute_query("CREATE (:sbench_it {key: 'k1', field0: 'v'})", database_=endpoints["database"])
        records, _, _ = driver.execute_query("MATCH (n:sbench_it {key: 'k1'}) RETURN n.field0 AS v",
                                             database_=endpoints["database"])
        assert [r["v"] for r in records] == ["v"]
        driver.execute_query("MATCH (n:sbench_it) DELETE n", database_=endpoints["database"])

    manager = Manager(ctx, ["neo4j"], load_service)
    pids = [p.pid for p in manager.processes("neo4j") if p.alive]
    assert len(pids) == 1
    assert main(["services", "down", "neo4j"]) == 0
    assert not any(pid_alive(pid) for pid in pids)
    assert "neo4j" not in load_endpoints(ctx.home)

    assert main(["services", "up", "neo4j"]) == 0  # later tests still find it
    assert manager.is_up("neo4j")
