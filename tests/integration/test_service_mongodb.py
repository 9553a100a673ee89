"""`storagebench services up/down mongodb` (FerretDB on the postgres service) end to end, with pymongo."""

from __future__ import annotations

import uuid

import pytest
from storagebench.adapters.mongodb.service import FERRETDB
from storagebench.adapters.postgres.service import cluster_major

from storagebench.cli import main
from storagebench.services import load_service
from storagebench.services.base import ServiceContext
from storagebench.services.manager import Manager, load_endpoints
from storagebench.testing.engines import pid_alive, require_engine

pytestmark = pytest.mark.engine("mongodb")


def test_up_write_read_down_up() -> None:
    require_engine("mongodb")
    import pymongo

    assert main(["services", "up", "mongodb"]) == 0
    ctx = ServiceContext(echo=lambda _m: None)
    endpoints = load_endpoints(ctx.home)["mongodb"]
    version = load_service("mongodb")(ctx).probe()
    assert version.startswith(f"FerretDB {FERRETDB.removeprefix('v')} (MongoDB wire ")
    assert f" on PostgreSQL {cluster_major()}." in version

    client: pymongo.MongoClient = pymongo.MongoClient(host=endpoints["host"], port=endpoints["port"],
                                                      directConnection=True, serverSelectionTimeoutMS=5000)
    collection = client["storagebench"][f"sbench_it_{uuid.uuid4().hex[:8]}"]
    collection.insert_one({"_id": "k", "v": "value"})
    assert collection.find_one({"_id": "k"}) == {"_id": "k", "v": "value"}
    collection.drop()
    client.close()

    manager = Manager(ctx, ["postgres", "mongodb"], load_service)
    pids = [p.pid for p in manager.processes("mongodb") if p.alive]
    assert len(pids) == 1
    assert main(["services", "down", "mongodb"]) == 0
    assert not any(pid_alive(pid) for pid in pids)
    assert "mongodb" not in load_endpoints(ctx.home)

    assert main(["services", "up", "mongodb"]) == 0  # later tests still find it (and postgres)
    assert manager.is_up("mongodb") and manager.is_up("postgres")
