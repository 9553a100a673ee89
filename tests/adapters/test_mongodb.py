"""Conformance and wire-specific checks against the local FerretDB (`storagebench services up mongodb`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
from storagebench.adapters.base import Adapter, Join, Query, Support
from storagebench.adapters.mongodb.adapter import MongoAdapter, MongoOptions

from storagebench.errors import AlreadyExists
from storagebench.testing.conformance import AdapterConformance
from storagebench.testing.engines import require_engine

pytestmark = pytest.mark.engine("mongodb")


@pytest.fixture
def options() -> dict[str, Any]:
    return require_engine("mongodb")


class TestMongo(AdapterConformance):
    @pytest.fixture
    def adapter_factory(self, options: dict[str, Any]) -> Callable[[], Adapter]:
        return lambda: MongoAdapter(options)


def _raw(options: dict[str, Any]) -> Any:
    import pymongo

    return pymongo.MongoClient(host=options["host"], port=options["port"], directConnection=True,
                               serverSelectionTimeoutMS=5000)


def test_foreign_collection_survives(options: dict[str, Any]) -> None:
    raw = _raw(options)
    db = raw[MongoOptions().database]
    foreign = f"usertable_{uuid.uuid4().hex[:8]}"
    try:
        db[foreign].insert_one({"_id": "k", "v": "v"})
        ns = f"sbench_fk_{uuid.uuid4().hex[:8]}"
        with MongoAdapter(options) as adapter:
            adapter.prepare(ns, ["field0"])
            adapter.insert(ns, "k", {"field0": "a"})
            adapter.drop(ns)
            with pytest.raises(ValueError):
                adapter.drop(foreign)
        assert db[foreign].find_one({"_id": "k"}) == {"_id": "k", "v": "v"}
        assert ns not in db.list_collection_names()
    finally:
        db.drop_collection(foreign)
        raw.close()


def test_server_info_names_ferretdb_not_mongodb(options: dict[str, Any]) -> None:
    raw = _raw(options)
    build = raw.admin.command("buildInfo")
    raw.close()
    with MongoAdapter(options) as adapter:
        info = adapter.server_info()
        caps = adapter.capabilities
    assert "ferretdbVersion" in build, "the local mongodb engine is FerretDB"
    assert info.engine == "FerretDB"
    assert info.version == build["ferretdbVersion"].removeprefix("v") == "1.24.2"
    assert info.details["wire protocol"] == f"MongoDB {build['version']}"
    assert caps.query is Support.EMULATED  # FerretDB has no $toLong: the sum runs on the client


def test_secrets_are_hidden() -> None:
    adapter = MongoAdapter({"uri": "mongodb://u:s3cr3t-pw@h/", "username": "u", "password": "s3cr3t-pw"})
    for text in (repr(adapter.options), str(adapter.options.model_dump()), adapter.options.model_dump_json()):
        assert "s3cr3t-pw" not in text


def test_duplicate_insert_batch_and_sum(options: dict[str, Any]) -> None:
    ns = f"sbench_dup_{uuid.uuid4().hex[:8]}"
    with MongoAdapter({**options, "batch_size": 64}) as adapter:
        adapter.prepare(ns, ["field0", "field1"])
        try:
            adapter.insert(ns, "k", {"field0": "a"})
            with pytest.raises(AlreadyExists):
                adapter.insert(ns, "k", {"field0": "b"})
            n = 200
            adapter.write_batch(ns, pa.table({"key": [f"b{i:04d}" for i in range(n)],
                                              "field0": [f"g{i % 2}" for i in range(n)],
                                              "field1": [str(i) for i in range(n)]}))
            total = adapter.query(ns, Query("field0", "g1", "sum", "field1"))
            assert total.count == n // 2
            assert total.total == sum(range(1, n, 2))
            back = adapter.read_batch(ns, ["field0", "field1"])
            assert back.num_rows == n + 1
            assert back.column("key").to_pylist() == sorted(back.column("key").to_pylist())
            subset = adapter.read_batch_where(ns, ["field1"], "field0", "g1")
            assert subset.to_pydict() == {"key": [f"b{i:04d}" for i in range(1, n, 2)],
                                          "field1": [str(i) for i in range(1, n, 2)]}
        finally:
            adapter.drop(ns)


def test_join_on_ferretdb_filters_on_the_server_and_joins_here(options: dict[str, Any]) -> None:
    """FerretDB refuses ``$lookup`` (error 238), so the join stays EMULATED: two filtering finds (the customers
    of the range, their orders by ``$in``, in requests of 1000 keys) and the grouping here; the answer is the
    one SQL gives, with more customers in the range than one request names."""
    from pymongo.errors import OperationFailure

    ns = f"sbench_join_{uuid.uuid4().hex[:8]}"
    customers = {f"c{i:05d}": f"r{i % 5:02d}" for i in range(1500)}  # 1200 of them in r00..r03
    orders = {f"o{i:05d}": (f"c{(i * 7) % 1600:05d}", (i * 37) % 1000) for i in range(3000)}  # some name no one
    expected: dict[str, tuple[int, int]] = {}
    for customer, amount in orders.values():
        region = customers.get(customer)
        if region is not None and "r00" <= region <= "r03":
            count, total = expected.get(region, (0, 0))
            expected[region] = (count + 1, total + amount)
    with MongoAdapter({**options, "batch_size": 256}) as adapter:
        assert adapter.capabilities.join is Support.EMULATED
        adapter.prepare(ns, ["field0", "field1", "field2"])
        try:
            adapter.write_batch(ns, pa.table({
                "key": [*customers, *orders], "field0": [*customers.values(), *["none"] * len(orders)],
                "field1": [*["none"] * len(customers), *(c for c, _ in orders.values())],
                "field2": [*["0"] * len(customers), *(str(a) for _, a in orders.values())]}))
            assert adapter.create_index(ns, "field1")
            with pytest.raises(OperationFailure) as refused:
                adapter.db[ns].aggregate([{"$lookup": {"from": ns, "localField": "_id", "foreignField": "field1",
                                                       "as": "o"}}])
            assert refused.value.code == 238  # when FerretDB implements $lookup, the join can go native
            assert adapter.join(ns, Join("field0", "field1", "field2", "r00", "r03")) == expected
            assert adapter.join(ns, Join("field0", "field1", "field2", "r05", "r09")) == {}
        finally:
            adapter.drop(ns)
