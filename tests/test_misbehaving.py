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
    classes = (*misbehaving_adapters.ALL, *misbehaving_adapters.SECOND, *misbehaving_adapters.PACED,
               *misbehaving_adapters.GRAPH, *misbehaving_adapters.JOIN)
    lines = [f"{cls.name} = misbehaving_adapters:{cls.__name__}" for cls in classes]
    (dist / "entry_points.txt").write_text("[storagebench.adapters]\n" + "\n".join(lines) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORAGEBENCH_")}
    # the caller's PYTHONPATH stays last (a checkout run without installing it)
    paths = [str(tmp / "site"), str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])]
    env.update({"PYTHONPATH": os.pathsep.join(paths),
                "STORAGEBENCH_HOME": str(tmp / "home")})
    for name in ("sqlite", *(cls.name for cls in classes)):
        env[f"STORAGEBENCH_{name.upper()}_PATH"] = str(tmp / "home" / f"{name}.db")
    return env


def storagebench(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "storagebench"), *args], env=env, capture_output=True, text=True, timeout=600)


def test_find_lies_are_caught(tmp_path: Path) -> None:
    """A find that leaves out a record holding the value, one answering from an index never refreshed
    after nested updates (stale statuses), a range query that leaves out a record in range and one that
    returns records past its end: each an invalid run, the honest store ok and verified."""
    env = register(tmp_path)
    site = tmp_path / "site" / "sbtest_document_liars-0.dist-info"  # beside register()'s: entry points of both
    site.mkdir()
    (site / "METADATA").write_text("Metadata-Version: 2.1\nName: sbtest-document-liars\nVersion: 0\n")
    (site / "entry_points.txt").write_text("[storagebench.adapters]\n" + "".join(
        f"{cls.name} = misbehaving_adapters:{cls.__name__}\n" for cls in misbehaving_adapters.DOCUMENT))
    for cls in misbehaving_adapters.DOCUMENT:
        env[f"STORAGEBENCH_{cls.name.upper()}_PATH"] = str(tmp_path / "home" / f"{cls.name}.db")
    if os.environ.get("PYTHONPATH"):  # a work tree run with PYTHONPATH=<tree>: its subprocesses too
        env["PYTHONPATH"] += os.pathsep + os.environ["PYTHONPATH"]
    liars = [cls.name for cls in misbehaving_adapters.DOCUMENT]
    done = storagebench(env, "run", "--stores", ",".join(["sqlite", *liars]), "--workloads", "document",
                        "--results-dir", str(tmp_path / "results"), "--run-id", "doc", "--no-report",
                        "-p", "recordcount=300", "-p", "operationcount=300")
    assert done.returncode == 1, done.stderr[-3000:]
    results = {(r["store"], r["phase"]): r for r in load_results(tmp_path / "results" / "doc")}
    healthy = results[("sqlite", "run")]
    assert healthy["status"] == "ok" and healthy["verification"]["verified"], healthy["reason"]
    assert healthy["operations"]["find_range"]["status_counts"] == {
        "OK": healthy["operations"]["find_range"]["latency"]["count"]}
    caught_by = {"find_misses_one": "find", "stale_find_index": "find", "range_misses_one": "find_range",
                 "range_overreaches": "find_range"}
    assert set(caught_by) == set(liars)
    for liar in liars:
        r = results[(liar, "run")]
        assert r["status"] == "invalid" and r["verification"]["failures"] > 0, (liar, r["status"], r["reason"])
        assert r["operations"][caught_by[liar]]["status_counts"].get("UNEXPECTED", 0) > 0, liar
    assert "returned without" in results[("find_misses_one", "run")]["first_error"]
    assert "lost update" in results[("stale_find_index", "run")]["first_error"]
    assert "returned without" in results[("range_misses_one", "run")]["first_error"]
    assert "is outside [" in results[("range_overreaches", "run")]["first_error"]


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
        if (liar, workload, "run") not in results:  # caught at load: the read-back through a new connection
            r = results[(liar, workload, "load")]
            assert r["status"] == "invalid", (liar, r["status"], r["reason"])
            assert r["reason"].startswith("read-back through a new connection"), r["reason"]
            assert f"not ok: {liar} / {workload} / load: invalid" in done.stderr
            continue
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
    assert "invalid" in html and "read-back through a new connection" in html


def test_graph_lies_are_caught(tmp_path: Path) -> None:
    """Neighbours one hop short, a valid but longer path, a path through a link that does not exist: each is
    an invalid run, while the honest store on the same workloads stays ok and verified."""
    env = register(tmp_path)
    liars = {"shallow_neighbors": "graph", "depth_first_paths": "shortestpath", "invents_shortcuts": "shortestpath"}
    done = storagebench(env, "run", "--stores", ",".join(["sqlite", *liars]), "--workloads", "graph,shortestpath",
                        "--results-dir", str(tmp_path / "results"), "--run-id", "graph", "--no-report", *SMALL)
    assert done.returncode == 1, done.stderr[-3000:]
    results = {(r["store"], r["workload"], r["phase"]): r for r in load_results(tmp_path / "results" / "graph")}
    for workload in ("graph", "shortestpath"):
        healthy = results[("sqlite", workload, "run")]
        assert healthy["status"] == "ok" and healthy["verification"]["verified"], healthy["reason"]
    for liar, workload in liars.items():
        r = results[(liar, workload, "run")]
        assert r["status"] == "invalid" and r["verification"]["failures"] > 0, (liar, r["status"], r["reason"])
    assert "links long, but" in results[("depth_first_paths", "shortestpath", "run")]["first_error"]
    assert "does not link to" in results[("invents_shortcuts", "shortestpath", "run")]["first_error"]
    assert "but not" in results[("shallow_neighbors", "graph", "run")]["first_error"]


def test_an_edge_table_that_keeps_deleted_links_is_caught(tmp_path: Path) -> None:
    """graphchurn inserts and deletes records with their links between the walks: an edge table that keeps
    a deleted record's links (its delete trigger missing) answers walks through it, an invalid run; SQLite's
    own edge table, kept in step by its triggers, stays ok and verified on the same operations."""
    env = register(tmp_path)
    done = storagebench(env, "run", "--stores", "sqlite,stale_edges", "--workloads", "graphchurn",
                        "--results-dir", str(tmp_path / "results"), "--run-id", "churn", "--no-report",
                        "-p", "recordcount=100", "-p", "operationcount=1000")
    assert done.returncode == 1, done.stderr[-3000:]
    results = {(r["store"], r["phase"]): r for r in load_results(tmp_path / "results" / "churn")}
    for store in ("sqlite", "stale_edges"):
        (index,) = results[(store, "load")]["indexes"]
        assert index["edges"] and index["built"], index  # both walk their edge table, not the field
    assert results[("sqlite", "load")]["indexes"][0]["bytes"] > 0  # the edge table's pages, from dbstat
    healthy = results[("sqlite", "run")]
    assert healthy["status"] == "ok" and healthy["verification"]["verified"], healthy["reason"]
    assert healthy["operations"]["delete"]["status_counts"]["OK"] > 0
    liar = results[("stale_edges", "run")]
    assert liar["status"] == "invalid", liar["reason"]
    assert "which no record that may exist links to" in liar["first_error"], liar["first_error"]


@pytest.mark.parametrize("processes", [1, 2])
def test_join_lies_are_caught(tmp_path: Path, processes: int) -> None:
    """A join without one of its groups, a join with one order too many: each is an invalid run, with one
    worker and with two processes, while the honest SQLite on the same workload stays ok and verified."""
    env = register(tmp_path)
    liars = ("drops_a_group", "miscounts_join")
    done = storagebench(env, "run", "--stores", ",".join(["sqlite", *liars]), "--workloads", "join",
                        "--processes", str(processes), "--results-dir", str(tmp_path / "results"), "--run-id", "join",
                        "--no-report", *SMALL)
    assert done.returncode == 1, done.stderr[-3000:]
    results = {(r["store"], r["phase"]): r for r in load_results(tmp_path / "results" / "join")}
    healthy = results[("sqlite", "run")]
    assert healthy["status"] == "ok" and healthy["verification"]["verified"], healthy["reason"]
    assert healthy["operations"]["join"]["status_counts"]["OK"] > 0
    assert healthy["operation_support"]["join"] == "native"
    # the join key's index, built after the load and timed apart from it
    (index,) = results[("sqlite", "load")]["indexes"]
    assert index["field"] == "field1" and index["built"] and index["build_s"] > 0 and index["bytes"] > 0
    for liar in liars:
        r = results[(liar, "run")]
        assert r["status"] == "invalid" and r["verification"]["failures"] > 0, (liar, r["status"], r["reason"])
        assert r["first_error"].startswith("join of regions"), r["first_error"]
    assert "expected" in results[("miscounts_join", "run")]["first_error"]


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


#: the second round's lies: (workload, properties, {liar: (phase, status, workers needed)}); a liar whose lie
#: only another connection can see (its own session is consistent) needs several workers
SECOND_ROUND = [
    ("a", ["-p", "fieldlength=10"], {  # values of 10 characters: short values carry key, field and write
        "uncommitted_updates": ("run", "invalid", 1), "swaps_records": ("load", "invalid", 1),
        "drops_updates": ("run", "invalid", 1), "fails_half_reads": ("run", "degraded", 1),
        "stale_cache": ("run", "invalid", 2)}),
    ("delete", [], {"keeps_deleted": ("run", "invalid", 1), "partial_records": ("load", "invalid", 1)}),
    ("query", [], {"wrong_aggregate": ("run", "invalid", 1)}),
    ("e", [], {"hides_others_inserts": ("run", "invalid", 2), "empty_scans": ("run", "invalid", 1)}),
    ("batch", ["-p", "recordcount=300"], {"unordered_batch": ("run", "invalid", 1)}),
]
LAYOUTS = {"1 thread": (["--threads", "1"], 1), "3 threads": (["--threads", "3"], 3),
           "2 processes x 2 threads": (["--threads", "2", "--processes", "2"], 4)}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize(("workload", "props", "liars"), SECOND_ROUND, ids=[w for w, _, _ in SECOND_ROUND])
def test_second_round_lies_are_caught_with_one_and_several_workers(
        tmp_path: Path, layout: str, workload: str, props: list[str], liars: dict[str, tuple[str, str, int]]) -> None:
    env = register(tmp_path)
    flags, workers = LAYOUTS[layout]
    done = storagebench(env, "run", "--stores", ",".join(["sqlite", *liars]), "--workloads", workload,
                        "--results-dir", str(tmp_path / "results"), "--run-id", "liars", "--no-report", *flags,
                        "-p", "recordcount=100", "-p", "operationcount=600", *props)
    results = {(r["store"], r["phase"]): r for r in load_results(tmp_path / "results" / "liars")}
    for phase in ("load", "run"):
        healthy = results[("sqlite", phase)]
        assert healthy["status"] == "ok", healthy["reason"]
        assert healthy["verification"]["verified"] or workload == "batch", healthy["verification"]
    caught = 0
    for liar, (phase, status, needs) in liars.items():
        r = results[(liar, phase)]
        if workers < needs:  # its own session is consistent: with one worker it tells no lie
            assert r["status"] == "ok", (liar, r["reason"])
            continue
        caught += 1
        assert r["status"] == status, (liar, r["status"], r["reason"])
        if liar == "uncommitted_updates" and workers == 1:  # its one session saw its writes: only a new one can tell
            assert r["reason"].startswith("read-back through a new connection") and "lost update" in r["reason"]
        assert f"not ok: {liar} / {workload} / {phase}: {status}" in done.stderr
    assert done.returncode == (1 if caught else 0), done.stderr[-3000:]


def test_an_implausible_footprint_is_withheld_not_ranked(tmp_path: Path) -> None:
    """A footprint below the values' incompressible size is a wrong measurement: kept as reported_bytes,
    withheld from bytes (nothing ranks on it), said in ``implausible``; the data is judged by the checks."""
    env = register(tmp_path)
    done = storagebench(env, "run", "--stores", "sqlite,tiny_footprint", "--workloads", "c", "--results-dir",
                        str(tmp_path / "results"), "--run-id", "fp", "--no-report", "-p", "recordcount=100",
                        "-p", "operationcount=100")
    assert done.returncode == 0, done.stderr[-2000:]
    results = {(r["store"], r["phase"]): r for r in load_results(tmp_path / "results" / "fp")}
    tiny = results[("tiny_footprint", "load")]["footprint"]
    assert tiny["bytes"] is None and tiny["bytes_per_record"] is None and tiny["reported_bytes"] == 1
    assert "cannot hold 100 records" in tiny["implausible"]
    honest = results[("sqlite", "load")]["footprint"]
    assert honest["bytes"] >= honest["floor_bytes"] and honest["implausible"] is None


def test_the_conformance_suite_refuses_an_insert_that_overwrites(tmp_path: Path) -> None:
    """Inserting an existing key must fail, unless the store declares ``insert_replaces``."""
    from storagebench.testing.conformance import AdapterConformance, record

    liar = misbehaving_adapters.OverwritesOnInsert({"path": tmp_path / "o.db"})
    honest = misbehaving_adapters.SQLiteAdapter({"path": tmp_path / "h.db"})
    for adapter in (liar, honest):
        adapter.connect()
        adapter.prepare("sbench_t_ins", ["field0", "field1", "field2"])
        for i in range(5):
            adapter.insert("sbench_t_ins", f"user{i:03d}", record(i))
    suite = AdapterConformance()
    suite.test_insert_of_an_existing_key_fails_unless_declared_an_upsert(honest, "sbench_t_ins")
    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
        suite.test_insert_of_an_existing_key_fails_unless_declared_an_upsert(liar, "sbench_t_ins")
    for adapter in (liar, honest):
        adapter.close()
