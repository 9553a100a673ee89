"""Result files round-trip and describe themselves; the report escapes and covers every result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from storagebench.report.html import build_html, write_report

from storagebench.measuring.measurement import decode
from storagebench.results.files import atomic_write_text, load_results, write_json


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import os

    from storagebench.cli import main

    base = tmp_path_factory.mktemp("rr")
    os.environ["STORAGEBENCH_SQLITE_PATH"] = str(base / "s.db")
    try:
        assert main(["run", "--stores", "sqlite,null", "--workloads", "b,delete", "--results-dir", str(base),
                     "--run-id", "rr", "--no-report", "-p", "recordcount=50", "-p", "operationcount=100",
                     "--threads", "2"]) == 0
    finally:
        del os.environ["STORAGEBENCH_SQLITE_PATH"]
    return base / "rr"


def test_result_file_is_self_describing(run_dir: Path) -> None:
    results = load_results(run_dir)
    assert len(results) == 8
    r = next(r for r in results if r["store"] == "sqlite" and r["workload"] == "delete" and r["phase"] == "run")
    for key in ("schema_version", "started_at", "finished_at", "machine", "harness", "server", "client",
                "capabilities", "config", "seed", "operations", "histograms", "timeseries", "totals"):
        assert key in r, key
    assert r["server"]["engine"] == "SQLite" and r["config"]["threads"] == 2
    assert r["harness"]["commit"]
    # every status count is backed by an encoded histogram with the same count
    for op, stats in r["operations"].items():
        for status, count in stats["status_counts"].items():
            assert decode(r["histograms"][f"{op}|{status}"]).get_total_count() == count
    assert sum(r["timeseries"]["ops"]) == r["totals"]["operations"]
    assert r["totals"]["operations"] == 100
    for op in ("p50_us", "p99_us", "p99.9_us", "p99.99_us", "max_us", "mean_us"):
        assert op in r["operations"]["read"]["latency"]


def test_report_has_every_store_and_workload_and_escapes(run_dir: Path) -> None:
    results = load_results(run_dir)
    results[0]["server"]["label"] = "<script>alert(1)</script>"
    page = build_html(results, "t")
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)" in page
    out = write_report(run_dir)
    text = out.read_text()
    for name in ("sqlite", "null", "Workload b", "Workload delete", "Capabilities", "Provenance"):
        assert name in text


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.json"
    write_json(path, {"a": 1})

    def interrupted(_fd: int) -> None:  # Ctrl-C after the new bytes are written, before the rename
        raise KeyboardInterrupt

    monkeypatch.setattr("os.fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(path, '{"a": 2}')
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temp file left behind


def test_failed_store_keeps_other_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store dying mid-run: its phase is recorded as failed/aborted; the next store still runs."""
    from storagebench.adapters.sqlite.adapter import SQLiteAdapter

    from storagebench.cli import main
    from storagebench.errors import Unavailable

    calls = {"n": 0}
    original = SQLiteAdapter.read

    def dying_read(self: SQLiteAdapter, *args: object, **kw: object) -> object:
        calls["n"] += 1
        if calls["n"] > 20:
            raise Unavailable("server closed the connection unexpectedly")
        return original(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(SQLiteAdapter, "read", dying_read)
    monkeypatch.setenv("STORAGEBENCH_SQLITE_PATH", str(tmp_path / "s.db"))
    assert main(["run", "--stores", "sqlite,null", "--workloads", "c", "--results-dir", str(tmp_path),
                 "--run-id", "die", "-p", "recordcount=50", "-p", "operationcount=1000"]) == 1  # ran; a phase is not ok
    results = {(r["store"], r["phase"]): r for r in load_results(tmp_path / "die")}
    dead = results[("sqlite", "run")]
    assert dead["status"] == "aborted" and "consecutive failures" in dead["reason"]
    assert dead["operations"]["read"]["status_counts"]["UNAVAILABLE"] >= 200
    assert any("server closed the connection" in m for m in dead["errors"])
    assert results[("null", "run")]["status"] == "ok"
    assert (tmp_path / "die" / "report.html").exists()
