"""Conformance suite and Neo4j-specific checks (needs `storagebench services up neo4j`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from storagebench.adapters.base import Adapter, Join, Support
from storagebench.adapters.neo4j.adapter import Neo4jAdapter
from storagebench.adapters.neo4j.service import NEO4J

from storagebench.errors import AlreadyExists, NotFound, UsageError
from storagebench.testing.conformance import AdapterConformance
from storagebench.testing.engines import require_engine

pytestmark = pytest.mark.engine("neo4j")


@pytest.fixture
def options() -> dict[str, Any]:
    return require_engine("neo4j")


class TestNeo4j(AdapterConformance):
    @pytest.fixture
    def adapter_factory(self, options: dict[str, Any]) -> Callable[[], Adapter]:
        return lambda: Neo4jAdapter(options)


@pytest.fixture
def adapter(options: dict[str, Any]) -> Iterator[Neo4jAdapter]:
    with Neo4jAdapter(options) as adapter:
        assert isinstance(adapter, Neo4jAdapter)
        yield adapter


def test_server_info_reports_the_running_version(adapter: Neo4jAdapter) -> None:
    info = adapter.server_info()
    assert (info.engine, info.version) == ("Neo4j", NEO4J)
    assert info.details["edition"] == "community"
    assert "neo4j (Python driver)" in adapter.client_info()


def test_foreign_label_survives(adapter: Neo4jAdapter) -> None:
    """Nodes, constraints and indexes of a label the harness does not own are never touched."""
    foreign = f"Usertable_{uuid.uuid4().hex[:8]}"
    raw = adapter.driver
    raw.execute_query(f"CREATE CONSTRAINT {foreign}_key FOR (n:{foreign}) REQUIRE n.key IS UNIQUE")
    raw.execute_query(f"CREATE (:{foreign} {{key: 'k', field0: 'theirs'}})")
    try:
        ns = f"sbench_fx_{uuid.uuid4().hex[:8]}"
        adapter.prepare(ns, ["field0"])
        adapter.insert(ns, "k", {"field0": "ours"})
        adapter.drop(ns)
        records, _, _ = raw.execute_query(f"MATCH (n:{foreign}) RETURN n.field0 AS v")
        assert [r["v"] for r in records] == ["theirs"]
        records, _, _ = raw.execute_query("SHOW CONSTRAINTS YIELD name RETURN name")
        names = {r["name"] for r in records}
        assert f"{foreign}_key" in names and f"{ns}_key" not in names
        with pytest.raises(ValueError):
            adapter.drop(foreign)
    finally:
        raw.execute_query(f"MATCH (n:{foreign}) DELETE n")
        raw.execute_query(f"DROP CONSTRAINT {foreign}_key IF EXISTS")


def test_prepare_creates_unique_key_constraint(adapter: Neo4jAdapter) -> None:
    ns = f"sbench_t_{uuid.uuid4().hex[:10]}"
    adapter.prepare(ns, ["field0"])
    try:
        adapter.prepare(ns, ["field0"])  # idempotent
        adapter.insert(ns, "k", {"field0": "a"})
        with pytest.raises(AlreadyExists):
            adapter.insert(ns, "k", {"field0": "b"})
        with pytest.raises(NotFound):
            adapter.update(ns, "missing", {"field0": "x"})
        plan = adapter._run(f"EXPLAIN MATCH (n:`{ns}`) WHERE n.key >= $s RETURN n ORDER BY n.key LIMIT 5",
                            s="").consume().plan
        assert "NodeUniqueIndexSeekByRange" in str(plan) or "NodeIndexSeekByRange" in str(plan)
    finally:
        adapter.drop(ns)


def test_password_is_a_secret() -> None:
    adapter = Neo4jAdapter({"user": "neo4j", "password": "hunter2-secret"})
    assert "hunter2-secret" not in repr(adapter.options)
    assert "hunter2-secret" not in str(adapter.options.model_dump())
    assert "hunter2-secret" not in adapter.options.model_dump_json()
    assert adapter.options.password.get_secret_value() == "hunter2-secret"


def test_filtered_batch_read(adapter: Neo4jAdapter) -> None:
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


def test_links_are_relationships_traversed_on_the_server(adapter: Neo4jAdapter) -> None:
    """A linked namespace keeps its links as :LINK relationships (a batch load included); the traversals
    are one query each over them; drop leaves neither records, placeholders nor constraints."""
    import pyarrow as pa

    ns = f"sbench_t_{uuid.uuid4().hex[:10]}"
    adapter.declare_links(ns, "field1")
    adapter.prepare(ns, ["field0", "field1"])
    try:
        # a ring b0 -> b1 -> ... -> b9 -> b0 with every record also linking to the absent key "zz"
        keys = [f"b{i}" for i in range(10)]
        adapter.write_batch(ns, pa.table({"key": keys, "field0": ["v"] * 10,
                                          "field1": [f"b{(i + 1) % 10},zz,zz" for i in range(10)]}))
        records, _, _ = adapter.driver.execute_query(
            f"MATCH (a:`{ns}`)-[r:LINK]->(b) RETURN count(r) AS links, count(DISTINCT b) AS ends")
        assert (records[0]["links"], records[0]["ends"]) == (20, 11)  # repeated links are one relationship
        assert adapter.list_namespaces().count(ns) == 1  # the vertex label is not a namespace of its own
        assert adapter.neighbors(ns, "b0", 3, "field1") == {"b1", "b2", "b3", "zz"}
        assert adapter.shortest_path(ns, "b2", "b1", 9, "field1") == [f"b{i % 10}" for i in range(2, 12)]
        assert adapter.shortest_path(ns, "b2", "b1", 8, "field1") is None
        plan = str(adapter._run(f"EXPLAIN MATCH p = shortestPath((a:`{ns}`)-[:LINK*..3]->(b)) RETURN p")
                   .consume().plan)
        assert "ShortestPath" in plan
        with pytest.raises(UsageError):
            adapter.neighbors(ns, "b0", 1, "field0")  # not the declared links field
    finally:
        adapter.drop(ns)
    records, _, _ = adapter.driver.execute_query(
        "MATCH (n) WHERE any(label IN labels(n) WHERE label STARTS WITH $ns) RETURN count(n) AS c", ns=ns)
    assert records[0]["c"] == 0
    assert ns not in adapter.list_namespaces()


def test_join_is_one_cypher_query_through_the_reference_index(adapter: Neo4jAdapter) -> None:
    """The join is NATIVE: customers and orders are nodes of one label, the orders found by a seek of the
    reference property's range index (built by ``create_index`` as the load does), counted and summed per
    region on the server; the answer is the client-side join's (the base class's, over scans)."""
    import pyarrow as pa

    assert Neo4jAdapter.capabilities.join is Support.NATIVE
    ns = f"sbench_t_{uuid.uuid4().hex[:10]}"
    adapter.prepare(ns, ["field0", "field1", "field2"])
    try:
        customers = [f"c{i:04d}" for i in range(200)]
        orders = [f"o{i:04d}" for i in range(800)]
        adapter.write_batch(ns, pa.table({
            "key": customers + orders, "field0": [f"r{i % 20:02d}" for i in range(200)] + ["none"] * 800,
            "field1": ["none"] * 200 + [f"c{(i * 7) % 230:04d}" for i in range(800)],  # some name no customer
            "field2": ["0"] * 200 + [str((i * 37) % 1000) for i in range(800)]}))
        assert adapter.create_index(ns, "field1")
        for low, high in (("r03", "r05"), ("r00", "r19"), ("r19", "r19"), ("r20", "r99")):
            join = Join("field0", "field1", "field2", low, high)
            assert adapter.join(ns, join) == Adapter.join(adapter, ns, join)
        plan = str(adapter._run(f"EXPLAIN MATCH (o:`{ns}`) WHERE o.field1 = $key RETURN o", key="c0001")
                   .consume().plan)
        assert "NodeIndexSeek" in plan  # the reference is indexed
    finally:
        adapter.drop(ns)
