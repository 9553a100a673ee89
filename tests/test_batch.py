"""The batch (columnar) workload: bulk and fallback paths, verified read-back, corruption detected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from storagebench.adapters.sqlite.adapter import SQLiteAdapter

from storagebench.cli import main
from storagebench.results.files import load_results


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGEBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STORAGEBENCH_SQLITE_PATH", str(tmp_path / "s.db"))
    monkeypatch.setenv("STORAGEBENCH_LOCALDIR_ROOT", str(tmp_path / "objects"))


def run_batch(tmp_path: Path, stores: str, exit_status: int = 0) -> dict[tuple[str, str], dict[str, Any]]:
    assert main(["run", "--stores", stores, "--workloads", "batch", "--results-dir", str(tmp_path), "--run-id", "b",
                 "-p", "recordcount=700", "-p", "batchsize=100"]) == exit_status
    return {(r["store"], r["phase"]): r for r in load_results(tmp_path / "b")}


def test_bulk_and_fallback_paths_are_verified_and_labelled(tmp_path: Path) -> None:
    results = run_batch(tmp_path, "sqlite,localdir")
    bulk, fallback = results[("sqlite", "load")], results[("localdir", "load")]
    assert bulk["status"] == fallback["status"] == "ok"
    assert bulk["batch"]["paths"]["batch_write"] == "bulk"
    assert bulk["operations"]["batch_write"]["status_counts"] == {"OK": 7}  # one timed op per batch
    assert fallback["batch"]["paths"]["batch_write"] == "per-operation fallback"
    assert fallback["operations"]["insert"]["status_counts"] == {"OK": 700}  # every row measured
    for store in ("sqlite", "localdir"):
        run = results[(store, "run")]
        assert run["status"] == "ok" and run["batch"]["verified"], run["reason"]
        assert run["batch"]["rows"] >= 700 and run["batch"]["mb_per_sec"] > 0
    assert "rows/s" in (tmp_path / "b" / "report.html").read_text()


def test_corrupted_read_back_fails_instead_of_looking_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = SQLiteAdapter.read_batch

    def corrupt(self: SQLiteAdapter, namespace: str, fields: Any = None) -> Any:
        table = original(self, namespace, fields)
        return table.slice(1)  # one row lost on the way back

    monkeypatch.setattr(SQLiteAdapter, "read_batch", corrupt)
    results = run_batch(tmp_path, "sqlite", exit_status=1)
    run = results[("sqlite", "run")]
    assert run["status"] == "invalid", run["reason"]
    assert "batch read: 699 rows, expected 700; missing user" in run["reason"]
    assert run["batch"]["verified"] is False
