"""The caches' state at the start of a run phase: `run --cold` on an embedded store (no engine: the OS page
cache is dropped), the default ("as found") recorded as such, both in the typed result model and the report."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from storagebench.cli import main
from storagebench.registry import load_adapter
from storagebench.results.files import load_results
from storagebench.results.model import ResultFile
from storagebench.running.cache import (
    AS_FOUND,
    COLD,
    CacheState,
    NotAnswering,
    describe,
    drop_os_cache,
    wait_for_answer,
)

pytestmark = pytest.mark.usefixtures("isolated_home")
ROOT = os.geteuid() == 0


def test_the_line_a_reader_sees() -> None:
    cold = CacheState(COLD, engine_restart_s=3.14, engine_answered_s=0.2, os_cache_dropped=True)
    assert cold.describe() == "cold (engine restarted in 3.1 s, OS page cache dropped)"
    assert describe(cold.as_dict()) == cold.describe()
    assert CacheState().describe() == "as found" and CacheState().state == AS_FOUND
    assert describe(None) == "not recorded"
    refused = CacheState(AS_FOUND, note="cold asked for, not reached; engine not restarted: remote")
    assert refused.describe() == "as found; cold asked for, not reached; engine not restarted: remote"


def test_a_page_cache_that_cannot_be_dropped_is_said_not_raised(tmp_path: Path) -> None:
    dropped, why = drop_os_cache(tmp_path / "no" / "drop_caches")
    assert dropped is False and "OS page cache not dropped" in why and "root" in why


def test_a_store_that_never_answers_is_a_clear_error_after_the_timeout() -> None:
    """Nothing listens on port 1: the wait gives up after its timeout, naming the key and the last error."""
    postgres = load_adapter("postgres")
    options = postgres.Options.model_validate({"host": "127.0.0.1", "port": 1, "connect_timeout": 1})
    with pytest.raises(NotAnswering, match=r"did not answer a read of 'user0' in ns within 1 s .*last: "):
        wait_for_answer(postgres, options, "ns", "user0", timeout_s=1.0)


def test_the_model_refuses_an_unknown_state() -> None:
    base = {"schema_version": 2, "store": "sqlite", "workload": "c", "phase": "run", "status": "ok"}
    assert ResultFile.model_validate({**base, "cache": {"state": "cold"}}).cache is not None
    with pytest.raises(ValueError, match="cache"):
        ResultFile.model_validate({**base, "cache": {"state": "lukewarm"}})


def _run(tmp_path: Path, run_id: str, *flags: str) -> dict[str, ResultFile]:
    assert main(["run", "--stores", "sqlite", "--workloads", "c", "--results-dir", str(tmp_path), "--run-id", run_id,
                 "-p", "recordcount=300", "-p", "operationcount=600", *flags]) == 0
    return {r["phase"]: ResultFile.model_validate(r) for r in load_results(tmp_path / run_id)}


def test_cold_and_as_found_runs_record_their_state_and_the_report_says_it(tmp_path: Path) -> None:
    cold = _run(tmp_path, "cold", "--cold")
    run = cold["run"]
    assert run.status == "ok" and run.cache is not None and run.totals is not None and run.totals.failed == 0
    assert run.cache.state == (COLD if ROOT else AS_FOUND)  # sqlite: cold is the page cache dropped
    assert run.cache.os_cache_dropped is ROOT
    assert run.cache.engine_restart_s is None and "no engine process" in run.cache.note
    assert run.cache.engine_answered_s is not None and run.cache.engine_answered_s >= 0
    assert cold["load"].cache is not None and cold["load"].cache.state == AS_FOUND
    page = (tmp_path / "cold" / "report.html").read_text()
    assert "memory state at the start of the run phase: " + describe(run.cache.model_dump()) in page

    found = _run(tmp_path, "found")
    assert found["run"].cache is not None and found["run"].cache.model_dump() == CacheState().as_dict()
    page = (tmp_path / "found" / "report.html").read_text()
    assert "memory state at the start of the run phase: as found<br>" in page
    raw = json.loads((tmp_path / "found" / "sqlite__c__run.json").read_text())
    assert raw["cache"] == {"state": "as found", "engine_restart_s": None, "engine_answered_s": None,
                            "os_cache_dropped": False, "note": ""}
