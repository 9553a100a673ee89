"""What each operation costs the server, read from the engine processes `storagebench services` started:
CPU per operation next to the client's, storage bytes against the logical bytes written, and an honest
"not observed" where there is no engine process to read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from storagebench.cli import main
from storagebench.results.files import load_results
from storagebench.testing.engines import require_engine

pytestmark = pytest.mark.usefixtures("isolated_home")


def _run(tmp_path: Path, stores: str) -> dict[tuple[str, str], dict[str, Any]]:
    code = main(["run", "--stores", stores, "--workloads", "a", "--results-dir", str(tmp_path), "--run-id", "c",
                 "-p", "recordcount=2000", "-p", "operationcount=4000"])
    assert code == 0
    return {(r["store"], r["phase"]): r for r in load_results(tmp_path / "c")}


@pytest.mark.parametrize("store", ["postgres", "kudu"])
def test_server_cpu_per_operation_and_write_amplification(store: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # the shared engines' endpoints (the isolated home has none)
    monkeypatch.delenv("STORAGEBENCH_HOME")
    require_engine(store)
    results = _run(tmp_path, store)
    for phase in ("load", "run"):
        cost = results[(store, phase)]["server_cost"]
        assert cost["observed"] is True, cost
        assert cost["cpu_us_per_op"] > 0 and cost["processes"] >= 1 and cost["peak_rss_bytes"] > 0
        # the server does real work per operation, of the order of the client's (not 0, not 1000x)
        assert 0.02 < cost["server_to_client_cpu"] < 50, cost
    load = results[(store, "load")]["server_cost"]
    assert load["logical_write_bytes"] == 2000 * 10 * 100
    # durable by default: every loaded byte reaches storage at least once (log or data)
    assert load["write_amplification"] >= 1, load
    assert load["space_amplification"] > 0.5, load
    # the report puts the server's CPU per operation next to the client's
    page = (tmp_path / "c" / "report.html").read_text()
    assert f"server CPU {results[(store, 'run')]['server_cost']['cpu_us_per_op']:.1f} µs/op" in page


def test_an_embedded_store_says_why_it_is_not_observed(tmp_path: Path) -> None:
    results = _run(tmp_path, "sqlite")
    cost = results[("sqlite", "run")]["server_cost"]
    assert cost == {"observed": False, "reason": cost["reason"]}
    assert "embedded" in cost["reason"] and "client's CPU" in cost["reason"]
    assert "server cost: not observed (sqlite has no engine process" in (tmp_path / "c" / "report.html").read_text()
