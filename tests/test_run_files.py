"""Run folders as a user finds them: bad result files, runs killed with SIGKILL (run.json says so), what
never ran, and `storagebench clean` for the namespaces such runs leave on the stores."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storagebench.cli import main

pytestmark = pytest.mark.usefixtures("isolated_home")

SMALL = ["-p", "recordcount=30", "-p", "operationcount=40"]


def _tables(db: Path) -> list[str]:
    return [r[0] for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master WHERE type='table'")]


def test_report_lists_every_unusable_file_and_exits_nonzero(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--stores", "sqlite", "--workloads", "c", "--results-dir", str(tmp_path), "--run-id", "r",
                 "--no-report", *SMALL]) == 0
    run = tmp_path / "r"
    good = json.loads((run / "sqlite__c__run.json").read_text())
    (run / "a__corrupt__run.json").write_text("{not json")
    (run / "a__truncated__run.json").write_text((run / "sqlite__c__run.json").read_text()[:500])
    (run / "a__future__run.json").write_text(json.dumps({**good, "schema_version": 99}))
    (run / "a__storeless__run.json").write_text(json.dumps({k: v for k, v in good.items() if k != "store"}))
    (run / "a__binary__run.json").write_bytes(b"\xff\xfe\x00garbage")
    (run / "a__unreadable__run.json").mkdir()  # reading it fails with an OSError (chmod 000 does not stop root)
    capsys.readouterr()
    assert main(["report", str(run)]) == 1
    err = capsys.readouterr().err
    for name, why in (("corrupt", "corrupt"), ("truncated", "corrupt or truncated"), ("future", "schema_version 99"),
                      ("storeless", "store"), ("binary", "corrupt"), ("unreadable", "unreadable")):
        line = next(x for x in err.splitlines() if f"a__{name}__run.json" in x)
        assert why in line, line
    assert "Traceback" not in err
    page = (run / "report.html").read_text()
    assert "Incomplete: read this before the figures" in page and "a__future__run.json" in page
    assert "sqlite" in page  # the good results are still shown


def test_report_of_an_empty_folder_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"storagebench: error: no readable result files in {tmp_path / 'empty'}"]
    assert not (tmp_path / "empty" / "report.html").exists()


def test_sigkilled_run_is_reported_incomplete_and_clean_drops_what_it_left(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "home" / "sqlite-path"
    proc = subprocess.Popen(
        [sys.executable, "-m", "storagebench.cli", "run", "--stores", "sqlite", "--workloads", "c,a",
         "--results-dir", str(tmp_path / "r"), "--run-id", "k", "--no-report",
         "-p", "recordcount=50", "-p", "operationcount=1000000000"],
        env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    load = tmp_path / "r" / "k" / "sqlite__c__load.json"
    deadline = time.monotonic() + 60
    while not load.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert [t for t in _tables(db) if t.startswith("sbench_c_")], "the killed run left its table"
    manifest = json.loads((tmp_path / "r" / "k" / "run.json").read_text())
    assert manifest["state"] == "running" and manifest["namespaces"]

    capsys.readouterr()
    assert main(["report", str(tmp_path / "r" / "k")]) == 1
    err = capsys.readouterr().err
    assert "run k is incomplete: its process" in err
    assert "never ran: sqlite / a" in err

    # without confirmation nothing is dropped
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert main(["clean", "--results-dir", str(tmp_path / "r")]) == 1
    out = capsys.readouterr().out
    assert "sqlite: sbench_c_" in out and "run k (died)" in out and "nothing dropped" in out
    assert [t for t in _tables(db) if t.startswith("sbench_")]

    assert main(["clean", "--results-dir", str(tmp_path / "r"), "--yes"]) == 0
    assert "dropped sbench_c_" in capsys.readouterr().out
    assert [t for t in _tables(db) if t.startswith("sbench_")] == []
    assert json.loads((tmp_path / "r" / "k" / "run.json").read_text())["namespaces"] == []
    assert main(["clean", "--results-dir", str(tmp_path / "r"), "--yes"]) == 0
    assert "nothing to clean" in capsys.readouterr().out


def test_clean_finds_namespaces_by_prefix_but_never_a_live_runs(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from storagebench.adapters.sqlite.adapter import SQLiteAdapter

    from storagebench.results.manifest import RunManifest

    adapter = SQLiteAdapter({"path": tmp_path / "home" / "sqlite-path"})
    adapter.connect()
    for ns in ("sbench_orphan_1", "sbench_live_2"):
        adapter.prepare(ns, ["field0"])
    adapter.close()
    live = RunManifest.create(tmp_path / "r" / "live", "live", {"sqlite": {}}, ["c"])  # this process: alive
    live.namespace_in_use("sqlite", "sbench_live_2")
    assert main(["clean", "--results-dir", str(tmp_path / "r"), "--stores", "sqlite", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "sbench_orphan_1  (found by its sbench_ prefix" in out and "sbench_live_2" not in out
    assert _tables(tmp_path / "home" / "sqlite-path") == ["sbench_live_2"]


def test_a_complete_run_has_a_complete_manifest(tmp_path: Path) -> None:
    assert main(["run", "--stores", "sqlite", "--workloads", "c", "--results-dir", str(tmp_path), "--run-id", "ok",
                 "--no-report", *SMALL]) == 0
    manifest = json.loads((tmp_path / "ok" / "run.json").read_text())
    assert manifest["state"] == "complete" and manifest["namespaces"] == []
    assert manifest["stores"] == ["sqlite"] and manifest["workloads"] == ["c"] and manifest["pid"] == os.getpid()
    assert main(["report", str(tmp_path / "ok")]) == 0


def test_results_and_report_are_readable_by_others(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        assert main(["run", "--stores", "sqlite", "--workloads", "c", "--results-dir", str(tmp_path), "--run-id",
                     "m", *SMALL]) == 0
    finally:
        os.umask(previous)
    files = sorted((tmp_path / "m").iterdir())
    assert {f.name for f in files} >= {"sqlite__c__run.json", "report.html", "run.json"}
    for f in files:
        assert f.stat().st_mode & 0o777 == 0o644, f


def test_console_prints_brackets_literally(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Rich markup in messages: "must be [a-z0-9_]" used to print "must be )" and "[/x]" raised."""
    config = tmp_path / "c.yaml"
    stalling = "storagebench.testing.faulty:StallingAdapter"
    config.write_text(json.dumps({"options": {stalling: {"succeed_ops": 0, "then": "fail",
                                                         "error": "must be [a-z0-9_] [/x] [bold]"}}}))
    assert main(["run", "--config", str(config), "--stores", stalling, "--workloads", "c", "--results-dir",
                 str(tmp_path), "--run-id", "mk", "--no-report", "-p", "recordcount=300"]) in (0, 1)
    err = "".join(capfd.readouterr().err.split())  # the console wraps long lines
    assert "mustbe[a-z0-9_][/x][bold]" in err


def test_chart_data_cannot_close_or_comment_out_the_script() -> None:
    from storagebench.report.html import build_html

    hostile = "<!--<script></script>"
    page = build_html([{"kind": "storagebench.result", "schema_version": 1, "run_id": "x", "store": hostile,
                        "workload": "c", "phase": "run", "status": "failed", "reason": hostile}], "t")
    scripts = page.split("<script")
    assert hostile not in page
    assert all("<!--" not in part for part in scripts[1:])  # no script opens a comment
