"""Durability read back from each real engine: what an acknowledged write means is observed from the
server (or says why not), and an engine that cannot give a promise says so.

Engines whose durability is a start-up setting run with the profile ``services up --durability``
chose (CI: the default, durable); PostgreSQL switches per connection, so both profiles are checked.
"""

from __future__ import annotations

from typing import Any

import pytest

from storagebench.registry import load_adapter
from storagebench.services.base import ServiceContext
from storagebench.services.manager import Manager
from storagebench.testing.engines import require_engine

#: store -> (observed from the server?, honoured when durable, honoured when fast)
EXPECTED: dict[str, tuple[bool, bool, bool]] = {
    "postgres": (True, True, True),
    "mongodb": (True, True, True),  # FerretDB: its PostgreSQL database's settings
    "s3": (False, False, True),  # versitygw posix never fsyncs
    "hdfs": (True, True, True),
    "hbase": (True, False, True),  # Thrift1 puts are SYNC_WAL: hflush, never fsync
    "kudu": (True, True, True),
    "neo4j": (True, True, False),  # the tx log is always forced at commit
}


def _server_profile(store: str) -> str:
    from storagebench.services import load_service, service_names

    svc = load_service(store)
    if not svc.durability_at_start:
        return "either"
    manager = Manager(ServiceContext(echo=lambda _m: None), list(service_names()), load_service)
    return manager.running_profile(store) or "durable"


def _durability(store: str, options: dict[str, Any], profile: str) -> dict[str, Any]:
    with load_adapter(store)({**options, "durability": profile}) as adapter:
        return adapter.durability().as_dict()


@pytest.mark.parametrize("store", sorted(EXPECTED))
def test_durability_is_read_back_and_honest(store: str) -> None:
    options = require_engine(store)
    observed, when_durable, when_fast = EXPECTED[store]
    running = _server_profile(store)
    for profile in ("durable", "fast"):
        seen = _durability(store, options, profile)
        assert seen["profile"] == profile
        assert seen["observed"] is observed, seen
        assert seen["settings"] and seen["note"] and "fsync" in seen["caveat"]
        expected = when_durable if profile == "durable" else when_fast
        if running in ("either", profile):
            assert seen["honoured"] is expected, seen
        elif expected:
            # the server runs with the other profile: the record says so and how to restart it
            assert seen["honoured"] is False and "--durability" in seen["note"], seen


def test_postgres_profiles_apply_per_connection() -> None:
    options = require_engine("postgres")
    assert _durability("postgres", options, "durable")["settings"]["synchronous_commit"] == "on"
    assert _durability("postgres", options, "fast")["settings"]["synchronous_commit"] == "off"


def test_run_records_durability_in_every_result_file(tmp_path: Any) -> None:
    from storagebench.cli import main
    from storagebench.results.files import load_results

    require_engine("postgres")
    assert main(["run", "--stores", "postgres", "--workloads", "a", "-p", "recordcount=20",
                 "-p", "operationcount=40", "--durability", "fast", "--results-dir", str(tmp_path),
                 "--run-id", "d", "--no-report"]) == 0
    results = load_results(tmp_path / "d")
    assert len(results) == 2
    for result in results:
        assert result["durability"]["profile"] == "fast"
        assert result["durability"]["observed"] is True and result["durability"]["honoured"] is True
        assert result["durability"]["settings"]["synchronous_commit"] == "off"
        assert result["config"]["store_options"]["durability"] == "fast"
