"""`storagebench services up/down postgres` end to end, with psycopg2 (the adapter's client)."""

from __future__ import annotations

import os
import uuid

import pytest
from storagebench.adapters.postgres.service import cluster_major

from storagebench.cli import main
from storagebench.services import load_service
from storagebench.services.base import ServiceContext
from storagebench.services.manager import Manager, load_endpoints
from storagebench.testing.engines import pid_alive, require_engine

pytestmark = pytest.mark.engine("postgres")


def _children(pid: int) -> list[int]:
    """PostgreSQL forks a checkpointer, writers, ...: they must go too."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().split(") ")[-1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError):
                continue
    return out


def test_up_write_read_down_up() -> None:
    require_engine("postgres")
    import psycopg2

    assert main(["services", "up", "postgres"]) == 0
    ctx = ServiceContext(echo=lambda _m: None)
    endpoints = load_endpoints(ctx.home)["postgres"]
    assert load_service("postgres")(ctx).probe().startswith(f"PostgreSQL {cluster_major()}.")

    table = f"sbench_it_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(host=endpoints["host"], port=endpoints["port"], user=endpoints["user"],
                            dbname=endpoints["database"], password=endpoints.get("password"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (key TEXT PRIMARY KEY, v TEXT)")
        cur.execute(f"INSERT INTO {table} VALUES (%s, %s)", ("k", "v"))
        cur.execute(f"SELECT v FROM {table} WHERE key = %s", ("k",))
        assert cur.fetchone() == ("v",)
        cur.execute(f"DROP TABLE {table}")
    conn.close()

    manager = Manager(ctx, ["postgres", "mongodb"], load_service)
    pids = [p.pid for p in manager.processes("postgres") if p.alive]
    assert len(pids) == 1
    pids += _children(pids[0])
    dependents_up = [name for name in ("mongodb",) if manager.is_up(name)]  # `down postgres` stops them too
    assert main(["services", "down", "postgres"]) == 0
    assert not any(pid_alive(pid) for pid in pids)
    assert "postgres" not in load_endpoints(ctx.home)

    assert main(["services", "up", "postgres", *dependents_up]) == 0  # later tests still find them
    assert manager.is_up("postgres") and all(manager.is_up(name) for name in dependents_up)
