"""The harness tested the way it tests stores: stores that lie are reported invalid, exit status 1, while
a healthy store in the same run stays ok; and runs never collide (two at once, ids exp-1 and base-1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import misbehaving_adapters  # tests/ is on sys.path (pytest's rootdir-relative import)
import pytest

from storagebench.results.files import load_results

TESTS = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SMALL = ["-p", "recordcount=100", "-p", "operationcount=200"]

#: each liar and the workload whose run phase must expose it
LIARS = {
    "loses_inserts": "a", "corrupts_reads": "a", "drops_updates": "a", "empty_scans": "e",
    "wrong_aggregate": "query", "not_found_everything": "a",
}


def register(tmp: Path) -> dict[str, str]:
    """An environment in which the liars are installed adapters: a .dist-info with their entry points."""
    dist = tmp / "site" / "sbtest_liars-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: sbtest-liars\nVersion: 0\n")
    classes = (*misbehaving_adapters.ALL, *misbehaving_adapters.PACED)
    lines = [f"{cls.name} = misbehaving_adapters:{cls.__name__}" for cls in classes]
    (dist / "entry_points.txt").write_text("[storagebench.adapters]\n" + "\n".join(lines) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORAGEBENCH_")}
    env.update({"PYTHONPATH": os.pathsep.join([str(tmp / "site"), str(TESTS)]),
                "STORAGEBENCH_HOME": str(tmp / "home")})
    for name in ("sqlite", *LIARS, *(cls.name for cls in misbehaving_adapters.PACED)):
        env[f"STORAGEBENCH_{name.upper()}_PATH"] = str(tmp / "home" / f"{name}.db")
    return env


def storagebench(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "storagebench"), *args], env=env, capture_output=True, text=True, timeout=600)


def test_every_lie_is_caught_and_the_healthy_store_stays_ok(tmp_path: Path) -> None:
    env = register(tmp_path)
    stores = ",".join(["sqlite", *LIARS])
    done = storagebench(env, "run", "--stores", stores, "--workloads", "a,e,query", "--results-dir",
                        str(tmp_path / "results"), "--run-id", "liars", *SMALL)
    assert done.returncode == 1, done.stderr[-3000:]
    results = {(r["store"], r["workload"], r["phase"]): r for r in load_results(tmp_path / "results" / "liars")}
    for workload in ("a", "e", "query"):
        for phase in ("load", "run"):
            healthy = results[("sqlite", workload, phase)]
            assert healthy["status"] == "ok" and healthy["verification"]["failures"] == 0, healthy["reason"]
    for liar, workload in LIARS.items():
        r = results[(liar, workload, "run")]
        assert r["status"] == "invalid", (liar, r["status"], r["reason"])
        assert r["first_error"] and r["verification"]["failures"] > 0
        failed = sum(stats["status_counts"].get("UNEXPECTED", 0) for stats in r["operations"].values())
        assert failed > 0 and r["totals"]["failed"] > 0
        # the headline counts successful operations only
        assert r["totals"]["succeeded"] == r["totals"]["operations"] - r["totals"]["failed"]
        assert f"not ok: {liar} / {workload} / run: invalid" in done.stderr
    # the report shows the invalid cell with its first error, never a throughput figure for it
    html = (tmp_path / "results" / "liars" / "report.html").read_text()
    assert "invalid" in html and "NOT_FOUND, but the record was loaded" in html


def test_concurrent_runs_with_ids_exp_1_and_base_1_both_complete(tmp_path: Path) -> None:
    """Before: both runs used namespace sbench_<w>_1 and dropped each other's tables, and DuckDB's file
    lock failed the second run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORAGEBENCH_")}
    env["STORAGEBENCH_HOME"] = str(tmp_path / "home")  # one home: the same default SQLite/DuckDB/localdir
    procs = [subprocess.Popen([str(BIN / "storagebench"), "run", "--workloads", "a", "--results-dir",
                               str(tmp_path / "results"), "--run-id", run_id, "--no-report",
                               "-p", "recordcount=300", "-p", "operationcount=1000"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for run_id in ("exp-1", "base-1")]
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
    namespaces = set()
    for run_id in ("exp-1", "base-1"):
        results = load_results(tmp_path / "results" / run_id)
        assert {r["store"] for r in results} == {"sqlite", "duckdb", "localdir"}
        assert all(r["status"] == "ok" for r in results), [(r["store"], r["reason"]) for r in results]
        namespaces |= {(r["store"], r["namespace"], run_id) for r in results}
    by_run = {run_id: {ns for _, ns, r in namespaces if r == run_id} for run_id in ("exp-1", "base-1")}
    assert not by_run["exp-1"] & by_run["base-1"]


@pytest.mark.parametrize("run_id", ["../x", "a/b", "x" * 101])
def test_bad_run_ids_are_refused_before_anything_runs(tmp_path: Path, run_id: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORAGEBENCH_")}
    env["STORAGEBENCH_HOME"] = str(tmp_path / "home")
    done = storagebench(env, "run", "--stores", "sqlite", "--workloads", "c", "--results-dir",
                        str(tmp_path / "results"), "--run-id", run_id, *SMALL)
    assert done.returncode == 2 and "run_id" in done.stderr
    assert not (tmp_path / "results").exists()
