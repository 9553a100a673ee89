"""The conformance suite every adapter must pass.

An adapter's test file is a few lines::

    class TestMyStore(AdapterConformance):
        @pytest.fixture
        def adapter_factory(self):
            return lambda: MyStoreAdapter(options)

Tests read ``adapter.capabilities`` to know what to expect; they never look at the adapter's name.
An adapter that does not keep data (``stores_data=False``, the null adapter) is held to "every
operation succeeds and returns the right type".
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import ClassVar

import pyarrow as pa
import pytest

from storagebench.adapters.base import (
    Adapter,
    Join,
    Query,
    Record,
    Support,
    fallback_read_batch,
    fallback_write_batch,
)
from storagebench.errors import AlreadyExists, NotFound, Unsupported

FIELDS = ["field0", "field1", "field2"]


def record(i: int) -> dict[str, str]:
    return {"field0": f"v0-{i}", "field1": f"g{i % 3}", "field2": str(i * 10)}


class _CountingOps:
    """Stands in for the timing proxy: counts per-operation calls made by the batch fallback."""

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter
        self.calls: dict[str, int] = {}

    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        self.calls["insert"] = self.calls.get("insert", 0) + 1
        self.adapter.insert(namespace, key, values)

    def scan(self, namespace: str, start_key: str, count: int,
             fields: Sequence[str] | None = None) -> list[tuple[str, Record]]:
        self.calls["scan"] = self.calls.get("scan", 0) + 1
        return self.adapter.scan(namespace, start_key, count, fields)


class AdapterConformance:
    """Subclass and provide an ``adapter_factory`` fixture."""

    @pytest.fixture
    def adapter_factory(self) -> Callable[[], Adapter]:  # pragma: no cover - subclasses provide it
        raise NotImplementedError("provide an adapter_factory fixture")

    @pytest.fixture
    def adapter(self, adapter_factory: Callable[[], Adapter]) -> Iterator[Adapter]:
        adapter = adapter_factory()
        adapter.connect()
        yield adapter
        adapter.close()

    @pytest.fixture
    def ns(self, adapter: Adapter) -> Iterator[str]:
        namespace = f"sbench_t_{uuid.uuid4().hex[:10]}"
        adapter.prepare(namespace, FIELDS)
        yield namespace
        adapter.drop(namespace)

    @pytest.fixture
    def loaded(self, adapter: Adapter, ns: str) -> str:
        for i in range(10):
            adapter.insert(ns, f"user{i:03d}", record(i))
        return ns

    def stores(self, adapter: Adapter) -> bool:
        return adapter.capabilities.stores_data

    # -- lifecycle and identity -----------------------------------------------------------------------
    def test_server_info_names_engine_and_version(self, adapter: Adapter) -> None:
        info = adapter.server_info()
        assert info.engine.strip() and info.version.strip()

    def test_close_is_idempotent(self, adapter_factory: Callable[[], Adapter]) -> None:
        adapter = adapter_factory()
        with adapter:
            pass
        adapter.close()

    def test_refuses_foreign_namespace(self, adapter: Adapter) -> None:
        with pytest.raises(ValueError):
            adapter.prepare("usertable", FIELDS)
        with pytest.raises(ValueError):
            adapter.drop("usertable")

    def test_capabilities_cover_every_operation(self, adapter: Adapter) -> None:
        for op in adapter.capabilities.OPERATIONS:
            assert isinstance(adapter.capabilities.support(op), Support)

    # -- CRUD ----------------------------------------------------------------------------------------
    def test_insert_then_read_all_fields(self, adapter: Adapter, loaded: str) -> None:
        got = adapter.read(loaded, "user004")
        if self.stores(adapter):
            assert got == record(4)
        else:
            assert isinstance(got, dict)

    def test_insert_of_an_existing_key_fails_unless_declared_an_upsert(self, adapter: Adapter, loaded: str) -> None:
        if not self.stores(adapter):
            return
        if adapter.capabilities.insert_replaces:
            adapter.insert(loaded, "user003", record(99))
            assert adapter.read(loaded, "user003") == record(99)
        else:
            with pytest.raises(AlreadyExists):
                adapter.insert(loaded, "user003", record(99))
            assert adapter.read(loaded, "user003") == record(3)

    def test_read_field_subset(self, adapter: Adapter, loaded: str) -> None:
        got = adapter.read(loaded, "user004", ["field1"])
        if self.stores(adapter):
            assert got == {"field1": record(4)["field1"]}

    def test_read_missing_is_not_found(self, adapter: Adapter, ns: str) -> None:
        if not self.stores(adapter):  # declared: keeps nothing, so every read answers empty
            assert adapter.read(ns, "nosuchkey") == {}
            return
        with pytest.raises(NotFound):
            adapter.read(ns, "nosuchkey")

    def test_update_changes_only_given_fields(self, adapter: Adapter, loaded: str) -> None:
        adapter.update(loaded, "user002", {"field0": "changed"})
        if self.stores(adapter):
            assert adapter.read(loaded, "user002") == {**record(2), "field0": "changed"}

    def test_update_missing_key(self, adapter: Adapter, ns: str) -> None:
        if adapter.capabilities.update_requires_existing and self.stores(adapter):
            with pytest.raises(NotFound):
                adapter.update(ns, "nosuchkey", {"field0": "x"})
        else:
            adapter.update(ns, "nosuchkey", {"field0": "x"})

    def test_delete_removes_record(self, adapter: Adapter, loaded: str) -> None:
        adapter.delete(loaded, "user003")
        if self.stores(adapter):
            with pytest.raises(NotFound):
                adapter.read(loaded, "user003")
            assert adapter.read(loaded, "user004") == record(4)

    def test_delete_missing_key(self, adapter: Adapter, ns: str) -> None:
        if adapter.capabilities.delete_reports_missing and self.stores(adapter):
            with pytest.raises(NotFound):
                adapter.delete(ns, "nosuchkey")
        else:
            adapter.delete(ns, "nosuchkey")

    def test_values_round_trip_unicode_and_quotes(self, adapter: Adapter, ns: str) -> None:
        odd = {"field0": "it's \"quoted\" \\ and ünïcødé", "field1": "", "field2": "a,b\tc\nd"}
        adapter.insert(ns, "user-odd", odd)
        if self.stores(adapter):
            assert adapter.read(ns, "user-odd") == odd

    # -- scan ------------------------------------------------------------------------------------------
    def test_scan_returns_key_order_from_start(self, adapter: Adapter, ns: str) -> None:
        for i in (7, 1, 9, 3, 5, 0, 8, 2, 6, 4):  # inserted out of order on purpose
            adapter.insert(ns, f"user{i:03d}", record(i))
        rows = adapter.scan(ns, "user003", 4)
        if self.stores(adapter):
            assert [k for k, _ in rows] == ["user003", "user004", "user005", "user006"]
            assert rows[0][1] == record(3)

    def test_scan_start_between_keys_and_past_end(self, adapter: Adapter, loaded: str) -> None:
        rows = adapter.scan(loaded, "user0055", 3)
        tail = adapter.scan(loaded, "user008", 100)
        if self.stores(adapter):
            assert [k for k, _ in rows] == ["user006", "user007", "user008"]
            assert [k for k, _ in tail] == ["user008", "user009"]
            assert adapter.scan(loaded, "zzz", 5) == []

    def test_scan_field_subset(self, adapter: Adapter, loaded: str) -> None:
        rows = adapter.scan(loaded, "user000", 2, ["field2"])
        if self.stores(adapter):
            assert rows == [("user000", {"field2": "0"}), ("user001", {"field2": "10"})]

    # -- query -----------------------------------------------------------------------------------------
    def test_query_count_and_sum(self, adapter: Adapter, loaded: str) -> None:
        if adapter.capabilities.query is Support.UNSUPPORTED:
            with pytest.raises(Unsupported):
                adapter.query(loaded, Query("field1", "g1"))
            return
        count = adapter.query(loaded, Query("field1", "g1"))
        total = adapter.query(loaded, Query("field1", "g1", "sum", "field2"))
        if self.stores(adapter):
            matching = [i for i in range(10) if i % 3 == 1]  # 1, 4, 7
            assert count.count == len(matching)
            assert total.count == len(matching)
            assert total.total == sum(i * 10 for i in matching)
            assert adapter.query(loaded, Query("field1", "none")).count == 0

    # -- graph -----------------------------------------------------------------------------------------
    #: a small graph in field0: n5 -> n0 -> {n1, n2}, n1 -> n3, n2 -> {n3, n4, ghost} (no record), n3 -> n0
    GRAPH: ClassVar[dict[str, str]] = {"n0": "n1,n2", "n1": "n3", "n2": "n3,n4,ghost", "n3": "n0", "n4": "", "n5": "n0"}

    @pytest.fixture(params=["field", "edges"])
    def linked(self, adapter: Adapter, request: pytest.FixtureRequest) -> Iterator[str]:
        """A namespace whose records link through field0, declared as the harness declares it; with
        ``edges``, also after the edge table the load phase asks for (``create_edge_index``), so every answer
        below holds on both paths and the edge table follows every later write."""
        namespace = f"sbench_t_{uuid.uuid4().hex[:10]}"
        adapter.declare_links(namespace, "field0")
        adapter.prepare(namespace, FIELDS)
        try:
            for key, targets in self.GRAPH.items():
                adapter.insert(namespace, key, {"field0": targets, "field1": "x", "field2": "1"})
            if request.param == "edges" and adapter.create_edge_index(namespace, "field0"):
                # the edge table is the namespace's, not a namespace of its own: `clean` never lists it
                assert [n for n in adapter.list_namespaces() if n.startswith(namespace)] == [namespace]
            yield namespace
        finally:
            adapter.drop(namespace)

    def test_graph_neighbors_k_hops(self, adapter: Adapter, linked: str) -> None:
        if adapter.capabilities.graph is Support.UNSUPPORTED:
            with pytest.raises(Unsupported):
                adapter.neighbors(linked, "n0", 1, "field0")
            return
        one, two, three = (adapter.neighbors(linked, "n0", hops, "field0") for hops in (1, 2, 3))
        if self.stores(adapter):
            assert one == {"n1", "n2"}
            assert two == {"n1", "n2", "n3", "n4", "ghost"}  # a link to a key with no record is reached
            assert three == two  # back to the start: it is never part of the answer
            assert adapter.neighbors(linked, "n4", 2, "field0") == set()
            assert adapter.neighbors(linked, "ghost", 2, "field0") == set()
            assert adapter.neighbors(linked, "absent", 2, "field0") == set()
            assert adapter.read(linked, "n2") == {"field0": "n3,n4,ghost", "field1": "x", "field2": "1"}
            assert [k for k, _ in adapter.scan(linked, "", 10)] == ["n0", "n1", "n2", "n3", "n4", "n5"]
            assert adapter.query(linked, Query("field1", "x")).count == 6

    def test_graph_follows_writes_and_deletes(self, adapter: Adapter, linked: str) -> None:
        """The links move with the field: an update rewires, a deleted record's own links go while the links
        to it stay, and inserting a key others already link to joins it to the graph."""
        if adapter.capabilities.graph is Support.UNSUPPORTED or not self.stores(adapter):
            return
        adapter.update(linked, "n1", {"field0": "n4,n5"})
        assert adapter.neighbors(linked, "n1", 1, "field0") == {"n4", "n5"}
        assert adapter.neighbors(linked, "n0", 2, "field0") == {"n1", "n2", "n3", "n4", "n5", "ghost"}
        adapter.delete(linked, "n2")
        assert adapter.neighbors(linked, "n0", 1, "field0") == {"n1", "n2"}  # the link to n2 stays
        assert adapter.neighbors(linked, "n2", 1, "field0") == set()  # n2's own links went with it
        with pytest.raises(NotFound):
            adapter.read(linked, "n2")
        adapter.insert(linked, "ghost", {"field0": "n0", "field1": "x", "field2": "1"})
        adapter.insert(linked, "n2", {"field0": "ghost", "field1": "x", "field2": "1"})
        assert adapter.neighbors(linked, "n0", 3, "field0") == {"n1", "n2", "n4", "n5", "ghost"}
        if not adapter.capabilities.insert_replaces:
            with pytest.raises(AlreadyExists):
                adapter.insert(linked, "n2", {"field0": "n3", "field1": "x", "field2": "1"})
            assert adapter.neighbors(linked, "n2", 1, "field0") == {"ghost"}
        assert adapter.read(linked, "ghost") == {"field0": "n0", "field1": "x", "field2": "1"}

    def test_graph_shortest_path(self, adapter: Adapter, linked: str) -> None:
        if adapter.capabilities.shortest_path is Support.UNSUPPORTED:
            with pytest.raises(Unsupported):
                adapter.shortest_path(linked, "n0", "n3", 3, "field0")
            return
        if not self.stores(adapter):
            return
        assert adapter.shortest_path(linked, "n0", "n0", 3, "field0") == ["n0"]
        assert adapter.shortest_path(linked, "n0", "n2", 3, "field0") == ["n0", "n2"]
        assert adapter.shortest_path(linked, "n0", "n3", 3, "field0") in (["n0", "n1", "n3"], ["n0", "n2", "n3"])
        assert adapter.shortest_path(linked, "n5", "ghost", 3, "field0") == ["n5", "n0", "n2", "ghost"]
        assert adapter.shortest_path(linked, "n5", "ghost", 2, "field0") is None  # longer than asked
        assert adapter.shortest_path(linked, "n0", "n5", 5, "field0") is None  # nothing links to n5
        assert adapter.shortest_path(linked, "n4", "n0", 5, "field0") is None  # n4 links nowhere
        assert adapter.shortest_path(linked, "absent", "n0", 5, "field0") is None
        assert adapter.shortest_path(linked, "n1", "absent", 5, "field0") is None

    # -- relational: a join of two record types with a group-by ----------------------------------------------
    #: customers (region in field0, no reference) and orders (customer key in field1, amount in field2), in one
    #: namespace as the join workload loads them; o5 names a customer that does not exist
    CUSTOMERS: ClassVar[dict[str, str]] = {"c0": "r0001", "c1": "r0002", "c2": "r0001", "c3": "r0009"}
    ORDERS: ClassVar[dict[str, tuple[str, int]]] = {
        "o0": ("c0", 10), "o1": ("c0", 7), "o2": ("c1", 5), "o3": ("c2", 100), "o4": ("c3", 1), "o5": ("c9", 50)}

    @pytest.fixture
    def joined(self, adapter: Adapter) -> Iterator[str]:
        """Customers and orders in one namespace, the join key indexed after the load as the harness does it
        (where the store builds an index: it must then be kept up by the writes that follow)."""
        namespace = f"sbench_t_{uuid.uuid4().hex[:10]}"
        adapter.prepare(namespace, FIELDS)
        try:
            for key, region in self.CUSTOMERS.items():
                adapter.insert(namespace, key, {"field0": region, "field1": "none", "field2": "0"})
            for key, (customer, amount) in self.ORDERS.items():
                adapter.insert(namespace, key, {"field0": "none", "field1": customer, "field2": str(amount)})
            assert adapter.create_index(namespace, "field1") in (True, False)
            yield namespace
        finally:
            adapter.drop(namespace)

    def test_join_group_by(self, adapter: Adapter, joined: str) -> None:
        """Per region of the range: the orders of its customers counted and their amounts summed; a region
        without customers or orders is absent; the answer follows updates and deletes."""
        def join(low: str, high: str) -> dict[str, tuple[int, int]]:
            return adapter.join(joined, Join("field0", "field1", "field2", low, high))

        if adapter.capabilities.join is Support.UNSUPPORTED:
            with pytest.raises(Unsupported):
                join("r0000", "r0009")
            return
        if not self.stores(adapter):
            assert isinstance(join("r0000", "r0009"), dict)
            return
        assert join("r0001", "r0002") == {"r0001": (3, 117), "r0002": (1, 5)}
        assert join("r0000", "r0009") == {"r0001": (3, 117), "r0002": (1, 5), "r0009": (1, 1)}
        assert join("r0002", "r0002") == {"r0002": (1, 5)}
        assert join("r0003", "r0008") == {}
        adapter.update(joined, "o3", {"field1": "c1"})  # an order moves to another customer
        adapter.delete(joined, "c3")  # a customer goes: its order joins nothing
        adapter.insert(joined, "c9", {"field0": "r0002", "field1": "none", "field2": "0"})  # o5 finds its customer
        assert join("r0000", "r0009") == {"r0001": (2, 17), "r0002": (3, 155)}

    # -- documents -------------------------------------------------------------------------------------
    #: each order's ``placed`` number (o0..o5): text order differs from number order, so a range compared as
    #: text shows
    PLACED = (5, 40, 300, 2000, 10000, 90000)

    @staticmethod
    def order(customer: str, status: str, qty: int = 2, placed: int = 0) -> str:
        return json.dumps({"customer": customer, "placed": placed, "status": status,
                           "items": [{"sku": "sku00001", "qty": qty, "price": 1999}, {"sku": "sku00002", "qty": 1,
                                                                                     "price": 250}]})

    @pytest.fixture
    def orders(self, adapter: Adapter) -> Iterator[str]:
        """A namespace whose records hold an order in field2, declared as the harness declares it, with the
        index on the customer built after the records are in (as after a load)."""
        namespace = f"sbench_t_{uuid.uuid4().hex[:10]}"
        adapter.declare_document(namespace, "field2")
        adapter.prepare(namespace, FIELDS)
        try:
            for i in range(6):
                adapter.insert(namespace, f"o{i}", {"field0": f"v{i}", "field1": "x",
                                                    "field2": self.order(f"c{i % 2}", "new", i + 1, self.PLACED[i])})
            built = adapter.create_document_index(namespace, "field2", "customer")
            assert isinstance(built, bool)
            assert isinstance(adapter.create_document_index(namespace, "field2", "placed", numeric=True), bool)
            yield namespace
        finally:
            adapter.drop(namespace)

    def test_find_returns_the_records_whose_nested_field_equals(self, adapter: Adapter, orders: str) -> None:
        found = adapter.find(orders, "field2", "customer", "c1")
        if not self.stores(adapter):
            assert isinstance(found, list)
            return
        assert [k for k, _ in found] == ["o1", "o3", "o5"]  # in key order, every field
        for key, got in found:
            i = int(key[1:])
            assert set(got) == set(FIELDS) and got["field0"] == f"v{i}"
            assert json.loads(got["field2"]) == json.loads(self.order("c1", "new", i + 1, self.PLACED[i]))
        assert adapter.find(orders, "field2", "customer", "c9") == []
        assert adapter.find(orders, "field2", "status", "new") != []  # any top-level name, indexed or not

    def test_update_nested_changes_one_nested_field_and_finds_follow(self, adapter: Adapter, orders: str) -> None:
        if not self.stores(adapter):
            return
        adapter.update_nested(orders, "o3", "field2", "status", "shipped")
        got = adapter.read(orders, "o3")
        assert json.loads(got["field2"]) == json.loads(self.order("c1", "shipped", 4, self.PLACED[3]))  # the rest kept
        assert got["field0"] == "v3"
        assert json.loads(dict(adapter.find(orders, "field2", "customer", "c1"))["o3"]["field2"])["status"] == "shipped"
        assert [k for k, _ in adapter.find(orders, "field2", "status", "shipped")] == ["o3"]
        with pytest.raises(NotFound):
            adapter.update_nested(orders, "absent", "field2", "status", "x")
        # a record written after the index was built is found through it; a deleted one is gone
        adapter.insert(orders, "o9", {"field0": "v9", "field1": "x", "field2": self.order("c1", "new", placed=350)})
        adapter.delete(orders, "o1")
        assert [k for k, _ in adapter.find(orders, "field2", "customer", "c1")] == ["o3", "o5", "o9"]
        assert [k for k, _ in adapter.find_range(orders, "field2", "placed", 40, 2001)] == ["o2", "o3", "o9"]

    def test_find_range_returns_the_records_whose_nested_number_lies_in_range(self, adapter: Adapter,
                                                                               orders: str) -> None:
        def keys(lo: int, hi: int) -> list[str]:
            return [k for k, _ in adapter.find_range(orders, "field2", "placed", lo, hi)]

        found = adapter.find_range(orders, "field2", "placed", 40, 2001)
        if not self.stores(adapter):
            assert isinstance(found, list)
            return
        assert [k for k, _ in found] == ["o1", "o2", "o3"]  # compared as numbers (as text, "300" < "40"), key order
        for key, got in found:
            i = int(key[1:])
            assert set(got) == set(FIELDS) and got["field0"] == f"v{i}"
            assert json.loads(got["field2"]) == json.loads(self.order(f"c{i % 2}", "new", i + 1, self.PLACED[i]))
        assert keys(300, 2000) == ["o2"]  # lo included, hi excluded
        assert keys(10, 10_000) == ["o1", "o2", "o3"]
        assert keys(0, 1 << 40) == [f"o{i}" for i in range(6)]
        assert keys(6, 40) == [] and keys(90_001, 1 << 40) == []

    # -- namespaces --------------------------------------------------------------------------------------
    def test_namespaces_are_isolated(self, adapter: Adapter, loaded: str) -> None:
        other = f"sbench_t_{uuid.uuid4().hex[:10]}"
        adapter.prepare(other, FIELDS)
        try:
            adapter.insert(other, "user000", {"field0": "other", "field1": "x", "field2": "1"})
            if self.stores(adapter):
                assert adapter.read(loaded, "user000") == record(0)
                assert [k for k, _ in adapter.scan(other, "", 100)] == ["user000"]
        finally:
            adapter.drop(other)
        if self.stores(adapter):
            assert adapter.read(loaded, "user001") == record(1)

    def test_list_namespaces_shows_prepared_and_forgets_dropped(self, adapter: Adapter, loaded: str) -> None:
        """What `storagebench clean` relies on to find namespaces that runs left behind."""
        if not adapter.capabilities.stores_data:
            return
        assert loaded in adapter.list_namespaces()
        adapter.drop(loaded)
        assert loaded not in adapter.list_namespaces()
        assert all(n.startswith("sbench_") for n in adapter.list_namespaces())

    def test_drop_absent_namespace_is_quiet(self, adapter: Adapter) -> None:
        adapter.drop(f"sbench_t_absent_{uuid.uuid4().hex[:8]}")

    def test_drop_then_prepare_starts_empty(self, adapter: Adapter, loaded: str) -> None:
        adapter.drop(loaded)
        adapter.prepare(loaded, FIELDS)
        assert adapter.scan(loaded, "", 10) == []

    # -- batch ---------------------------------------------------------------------------------------------
    def test_batch_write_then_read_back(self, adapter: Adapter, ns: str) -> None:
        n = 250
        batch = pa.table({"key": [f"user{i:05d}" for i in range(n)],
                          **{f: [record(i)[f] for i in range(n)] for f in FIELDS}})
        ops = _CountingOps(adapter)
        if adapter.capabilities.batch_write is Support.NATIVE:
            adapter.write_batch(ns, batch)
        else:
            fallback_write_batch(ops, ns, batch)
            assert ops.calls["insert"] == n, "the fallback must go through per-operation inserts"
        if adapter.capabilities.batch_read is Support.NATIVE:
            back = adapter.read_batch(ns, FIELDS)
        else:
            back = fallback_read_batch(ops, ns, FIELDS, page=100)
        if self.stores(adapter):
            assert back.column_names[0] == "key"
            assert back.select(["key", *FIELDS]).to_pydict() == batch.to_pydict()
