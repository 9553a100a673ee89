"""Hostile cases of issue 31, one table: the command, its input, the exit status, a fragment of what it
says, and the state its run folder's run.json must be left in.  Five rules behind the rows:

1. every input is bounded before it is trusted (regular files only, a size limit, YAML whose work is
   bounded as it is parsed);
2. no answer over nothing (duplicated or unreadable inputs are refused, never exit 0);
3. a full or failing disk is a failure with a name (every write error names its path; exit 1; run.json
   ``failed`` with the reason; the report written if it fits, else the line says where it was not);
4. a store that stops answering fails the phase, judged by time without success;
5. one statistical rule for every path (a sweep step too short for its percentile).

Rows run as a subprocess under a time limit (a regression that hangs fails the row instead of CI), except
rows that inject a failure into the result writer, which run in this process.  The full-disk rows run
twice: on a small tmpfs when the test runs as root, and through an injected ENOSPC everywhere.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from storagebench.cli import main
from storagebench.results import files
from storagebench.results.files import load_results
from storagebench.running import suite

SMALL = ["-p", "recordcount=20", "-p", "operationcount=40"]
#: seconds a subprocess row may take: interpreter start-up on a loaded 2-core machine included
LIMIT = 20.0
ROOT = os.geteuid() == 0 and shutil.which("mount") is not None


@dataclass(frozen=True)
class Case:
    name: str
    #: the command line after `storagebench`; {tmp}, {runs} (prepared runs) and {full} (a tmpfs) are filled in
    argv: list[str]
    exit: int
    #: a fragment of stderr + stdout
    says: str
    #: run.json of {tmp}/r/x (or {full}/x): its state, "absent" (no run folder), or None (not this command's)
    manifest: str | None = None
    #: MiB of the tmpfs mounted at {full} (needs root)
    tmpfs_mib: int = 0
    #: runs in this process with this injected into the writer (monkeypatch, tmp)
    inject: Callable[[pytest.MonkeyPatch, Path], None] | None = None
    #: further checks of what the command left (tmp)
    also: Callable[[Path], None] | None = None
    limit: float = LIMIT


# -- inputs -------------------------------------------------------------------------------------------------
def _alias_bomb(tmp: Path) -> Path:
    """10 levels of 9 aliases each: 9^10 values expanded from about 300 bytes."""
    lines = ["a: &a [x,x,x,x,x,x,x,x,x]"]
    for prev, name in zip("abcdefghi", "bcdefghij", strict=True):
        lines.append(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    path = tmp / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size < 400
    return path


def _inputs(tmp: Path) -> None:
    _alias_bomb(tmp)
    os.mkfifo(tmp / "fifo.yaml")
    with open(tmp / "huge.yaml", "wb") as f:  # sparse: 11 MB without the disk space
        f.truncate(11 * 2**20)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp / "sock.yaml"))
    sock.close()
    (tmp / "stalling.yaml").write_text(json.dumps({"options": {STALLING: {
        "succeed_ops": 300, "then": "fail", "fail_after_s": 2.0}}}))


STALLING = "storagebench.testing.faulty:StallingAdapter"


def _quick_run(home: Path, results: Path, run_id: str, *extra: str) -> None:
    env = {**os.environ, "STORAGEBENCH_HOME": str(home)}
    subprocess.run([sys.executable, "-m", "storagebench.cli", "run", "--stores", "null", "--workloads", "c",
                    "--results-dir", str(results), "--run-id", run_id, "--no-report", *SMALL, *extra],
                   env=env, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Finished runs the merge and report rows read."""
    base = tmp_path_factory.mktemp("runs")
    home = base / "home"
    _quick_run(home, base, "m1")
    _quick_run(home, base, "slice0", "-p", "insertstart=0", "-p", "insertcount=15")
    _quick_run(home, base, "slice1", "-p", "insertstart=10", "-p", "insertcount=10")
    shutil.copytree(base / "m1", base / "m1copy")
    shutil.copytree(base / "m1", base / "half")
    manifest = base / "half" / "run.json"
    manifest.write_text(manifest.read_text()[: manifest.stat().st_size // 2])
    shutil.copytree(base / "slice1", base / "corrupt")
    (base / "corrupt" / "null__c__run.json").write_text('{"kind": "storagebench.result", "sche')
    return base


# -- injected and real full disks -----------------------------------------------------------------------------
def _enospc_for(match: Callable[[Path], bool]) -> Callable[[pytest.MonkeyPatch, Path], None]:
    """The result writer fails with ENOSPC for the files ``match`` picks (the others are written)."""
    def inject(monkeypatch: pytest.MonkeyPatch, _tmp: Path) -> None:
        real = files._replace_atomically

        def full(path: Path, text: bytes, mode: int | None) -> None:
            if match(path):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real(path, text, mode)

        monkeypatch.setattr(files, "_replace_atomically", full)
    return inject


def _fill_after_first_result(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
    """The tmpfs fills up (another writer) right after the first result file is written."""
    real = suite.write_json

    def then_fill(path: Path, data: dict[str, Any]) -> None:
        real(path, data)
        if not (tmp / "full" / "filler").exists():
            with open(tmp / "full" / "filler", "wb") as f, contextlib.suppress(OSError):
                while True:
                    f.write(bytes(2**16))
                    f.flush()

    monkeypatch.setattr(suite, "write_json", then_fill)


def _fsync_probe_skipped(tmp: Path) -> None:
    for result in load_results(tmp / "full" / "x"):
        assert "fsync_skipped" in result["noise"] and "fsync_p50_us" not in result["noise"], result["noise"]


def _sqlite_lost_null_kept(tmp: Path) -> None:
    got = {(r["store"], r["phase"]): r["status"] for r in load_results(tmp / "r" / "x")}
    assert got == {("null", "load"): "ok", ("null", "run"): "ok"}, got  # the next store still ran
    assert (tmp / "r" / "x" / "report.html").exists()  # the report fitted
    reason = json.loads((tmp / "r" / "x" / "run.json").read_text())["reason"]
    assert "sqlite__c__load.json: No space left on device" in reason, reason


def _report_missing(folder: str) -> Callable[[Path], None]:
    def check(tmp: Path) -> None:
        run_dir = tmp / folder / "x"
        assert not (run_dir / "report.html").exists()
        assert load_results(run_dir), "what was measured is kept"
        assert "No space left on device" in json.loads((run_dir / "run.json").read_text())["reason"]
    return check


RUN = ["run", "--results-dir", "{tmp}/r", "--run-id", "x", *SMALL]
RUN_FULL = ["run", "--results-dir", "{full}", "--run-id", "x", "--stores", "sqlite", "--workloads", "c", *SMALL]

CASES = [
    # 1. every input is bounded before it is trusted
    Case("alias bomb as -P", [*RUN, "--stores", "sqlite", "-P", "{tmp}/bomb.yaml"], 2,
         "holds more than 100,000 values with its aliases expanded", "absent", limit=10),
    Case("alias bomb as --config", [*RUN, "--config", "{tmp}/bomb.yaml"], 2,
         "holds more than 100,000 values with its aliases expanded", "absent", limit=10),
    Case("-P names a FIFO without a writer", [*RUN, "--stores", "sqlite", "-P", "{tmp}/fifo.yaml"], 2,
         "fifo.yaml is not a regular file (a FIFO)", "absent", limit=10),
    Case("--config names a FIFO", [*RUN, "--config", "{tmp}/fifo.yaml"], 2,
         "is not a regular file (a FIFO)", "absent", limit=10),
    Case("-P names a device", [*RUN, "--stores", "sqlite", "-P", "/dev/zero"], 2,
         "is not a regular file (a character device)", "absent"),
    Case("-P names a socket", [*RUN, "--stores", "sqlite", "-P", "{tmp}/sock.yaml"], 2,
         "is not a regular file (a socket)", "absent"),
    Case("-P names an 11 MB file", [*RUN, "--stores", "sqlite", "-P", "{tmp}/huge.yaml"], 2,
         "is larger than 10 MB", "absent"),
    # 2. no answer over nothing
    Case("merge m1 m1", ["merge", "{runs}/m1", "{runs}/m1", "-o", "{tmp}/r/x"], 2,
         "cannot merge {runs}/m1 with itself", "absent"),
    Case("merge m1 and a copy of it", ["merge", "{runs}/m1", "{runs}/m1copy", "-o", "{tmp}/r/x"], 2,
         "both hold worker 0 of run m1", "absent"),
    Case("merge overlapping key slices", ["merge", "{runs}/slice0", "{runs}/slice1", "-o", "{tmp}/r/x"], 2,
         "their load slices overlap (keys [10, 20) and [0, 15)", "absent"),
    Case("merge with a corrupt result file", ["merge", "{runs}/slice0", "{runs}/corrupt", "-o", "{tmp}/r/x"], 2,
         "null__c__run.json is not a usable result file (corrupt or truncated JSON", "absent"),
    Case("report over a run.json cut in half", ["report", "{runs}/half", "-o", "{tmp}/half.html"], 1,
         "half/run.json: unreadable run manifest (corrupt or truncated JSON"),
    Case("clean with a run.json cut in half", ["clean", "--results-dir", "{runs}", "--stores", "sqlite"], 1,
         "half/run.json: unreadable run manifest"),
    # 3. a full or failing disk is a failure with a name
    Case("results disk already full (1 MiB tmpfs)", RUN_FULL, 2,
         "{full} has 1.0 MiB free; this run (2 result file(s) and report.html) needs up to", "absent",
         tmpfs_mib=1),
    Case("small results disk: the fsync probe is skipped", [*RUN_FULL, "--no-report"], 0,
         "results in {full}/x", "complete", tmpfs_mib=1, also=_fsync_probe_skipped),
    # the report is written if it fits in what is left (a light page often does), else a line says where it
    # could not be: that path is the injected "report does not fit" row below
    Case("results disk filling mid-run (tmpfs)", RUN_FULL, 1,
         "sqlite / c: failed (cannot write {full}/x/sqlite__c__run.json: No space left on device", "failed",
         tmpfs_mib=6, inject=_fill_after_first_result),
    Case("results disk filling mid-run (injected ENOSPC)", [*RUN, "--stores", "sqlite,null", "--workloads", "c"], 1,
         "cannot write {tmp}/r/x/sqlite__c__load.json: No space left on device", "failed",
         inject=_enospc_for(lambda p: p.name.startswith("sqlite__")),
         also=_sqlite_lost_null_kept),
    Case("report does not fit (injected ENOSPC)", [*RUN, "--stores", "sqlite", "--workloads", "c"], 1,
         "the report was not written: cannot write {tmp}/r/x/report.html: No space left on device", "failed",
         inject=_enospc_for(lambda p: p.name == "report.html"), also=_report_missing("r")),
    # 4. a store that stops answering fails the phase, judged by time without success
    Case("store stops answering; its driver fails each operation after 2 s",
         [*RUN, "--config", "{tmp}/stalling.yaml", "--stores", STALLING, "--workloads", "c", "--no-report",
          "-p", "operationcount=0", "-p", "maxexecutiontime=8"], 1,
         "the store stopped answering: no operation succeeded from", "complete", limit=60),
    # 5. one statistical rule for every path
    Case("sweep steps too short for p99", ["sweep", "--stores", "sqlite", "--step-seconds", "0.01", "--rates",
                                           "100,200", "--results-dir", "{tmp}/r", "--run-id", "x"], 2,
         "p99 needs at least 100 per step", "absent"),
]


@contextlib.contextmanager
def _tmpfs(path: Path, mib: int) -> Any:
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={mib}m", "tmpfs", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def _fill(argv: list[str], tmp: Path, runs: Path) -> list[str]:
    return [a.format(tmp=tmp, runs=runs, full=tmp / "full") for a in argv]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_case(case: Case, tmp_path: Path, runs: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    if case.tmpfs_mib and not ROOT:
        pytest.skip("a tmpfs needs root; the injected-ENOSPC rows cover the same paths")
    _inputs(tmp_path)
    argv = _fill(case.argv, tmp_path, runs)
    home = tmp_path / "home"
    monkeypatch.setenv("STORAGEBENCH_HOME", str(home))
    with contextlib.ExitStack() as stack:
        if case.tmpfs_mib:
            stack.enter_context(_tmpfs(tmp_path / "full", case.tmpfs_mib))
        t0 = time.monotonic()
        if case.inject:
            case.inject(monkeypatch, tmp_path)
            capsys.readouterr()
            code = main(argv)
            captured = capsys.readouterr()
            said = captured.err + captured.out
        else:
            proc = subprocess.run([sys.executable, "-m", "storagebench.cli", *argv], capture_output=True,
                                  text=True, timeout=case.limit, env={**os.environ, "STORAGEBENCH_HOME": str(home)})
            code, said = proc.returncode, proc.stderr + proc.stdout
        took = time.monotonic() - t0
        flat = "".join(said.split())  # rich wraps long lines, paths too
        assert code == case.exit, said
        assert "".join(case.says.format(tmp=tmp_path, runs=runs, full=tmp_path / "full").split()) in flat, said
        assert "Traceback" not in said
        assert took < case.limit, took
        run_dir = (tmp_path / "full" if case.tmpfs_mib else tmp_path / "r") / "x"
        if case.manifest == "absent":
            assert not run_dir.exists(), sorted(p.name for p in run_dir.iterdir())
        elif case.manifest is not None:
            state = json.loads((run_dir / "run.json").read_text())["state"]
            assert state == case.manifest, state
        if case.also:
            case.also(tmp_path)
