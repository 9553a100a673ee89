"""Spark as the load generator: one worker per partition, histograms merged exactly like local runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from storagebench.adapters.sqlite.adapter import SQLiteAdapter
from storagebench.workloads import spec as wspec

from storagebench.cli import main
from storagebench.measuring.measurement import decode, merge_exports
from storagebench.results.files import load_results
from storagebench.running.phase import run_phase
from storagebench.running.runner import PhasePlan

pytestmark = pytest.mark.usefixtures("spark_ready")

OPERATIONS = 900


def _counts(export: dict[str, Any]) -> dict[str, int]:
    return {key: decode(text).get_total_count() for key, text in export["histograms"].items()}


@pytest.mark.parametrize("store", ["sqlite", "null"])
def test_two_partitions_merge_exactly(store: str, tmp_path: Path) -> None:
    from storagebench.spark.loadgen import run_workers_on_spark

    spec = wspec.resolve("c", {"recordcount": 120, "operationcount": OPERATIONS})
    options: dict[str, Any] = {"path": str(tmp_path / "spark.db")} if store == "sqlite" else {}
    namespace = "sbench_spark_loadgen"
    if store == "sqlite":
        with SQLiteAdapter(options) as control:
            control.prepare(namespace, spec.field_names())
    for phase in ("load", "run"):
        plan = PhasePlan(store, options, spec, phase, namespace, seed=11, threads=2, engine="spark",
                         spark_master="local[2]")
        exports, job = run_workers_on_spark(plan, 2)
        assert job.coordinated_start and job.slots == 2
        assert [e.get("fatal") for e in exports] == [None, None]
        assert [e["worker"] for e in exports] == [0, 1]
        merged = merge_exports(exports)
        per_partition = [_counts(e) for e in exports]
        total = {k: h.get_total_count() for k, h in merged["histograms"].items()}
        for key, count in total.items():
            assert count == sum(p.get(key, 0) for p in per_partition)
        assert all(sum(p.values()) > 0 for p in per_partition), "both partitions did work"
        expected = 120 if phase == "load" else OPERATIONS
        op = "insert" if phase == "load" else "read"
        assert total == {f"{op}|OK": expected}
    # the runner takes the same path and merges the same way
    outcome = run_phase(PhasePlan(store, options, spec, "run", namespace, seed=11, threads=2, engine="spark"))
    assert not outcome.fatal and not outcome.aborted
    assert sum(h.get_total_count() for h in outcome.merged["histograms"].values()) == OPERATIONS


def test_cli_run_on_spark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGEBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STORAGEBENCH_SQLITE_PATH", str(tmp_path / "home" / "s.db"))
    code = main(["run", "--engine", "spark", "--spark-master", "local[2]", "--stores", "sqlite",
                 "--workloads", "c", "--threads", "2", "--results-dir", str(tmp_path / "results"),
                 "--run-id", "sp", "--no-report", "-p", "recordcount=100", "-p", "operationcount=400"])
    assert code == 0
    results = load_results(tmp_path / "results" / "sp")
    assert {(r["store"], r["workload"], r["phase"]) for r in results} == {("sqlite", "c", "load"),
                                                                          ("sqlite", "c", "run")}
    for r in results:
        assert r["status"] == "ok", r
        assert r["config"]["engine"] == "spark" and r["config"]["spark_master"] == "local[2]"
        assert r["totals"]["failed"] == 0, r["errors"]
    (run,) = [r for r in results if r["phase"] == "run"]
    assert run["operations"]["read"]["status_counts"] == {"OK": 400}


def test_a_store_that_stops_answering_ends_each_spark_task_with_what_it_measured() -> None:
    """Each task has a watchdog of its own: after the stall timeout and the stop grace the task returns
    (the hung call is given up on), with the operations it measured before the store stopped answering."""
    spec = wspec.resolve("c", {"recordcount": 10, "operationcount": 10**9})
    t0 = time.monotonic()
    outcome = run_phase(PhasePlan("storagebench.testing.faulty:StallingAdapter", {"succeed_ops": 300}, spec,
                                  "run", "sbench_spark_stall", seed=1, threads=2, engine="spark",
                                  spark_master="local[2]", stall_timeout=2, stop_grace=1))
    assert time.monotonic() - t0 < 90  # a session start, then 2 s + 1 s: not the store's 3600 s hang
    assert not outcome.fatal
    assert len(outcome.aborted) == 2, outcome.aborted
    assert all("no operation succeeded for" in a and "given up on" in a for a in outcome.aborted), outcome.aborted
    assert sum(h.get_total_count() for h in outcome.merged["histograms"].values()) == 600


def test_workload_d_on_spark_reads_inserts_made_by_other_tasks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    """YCSB's acknowledged counter across tasks that share no memory: `latest` chooses among the inserts of
    every task (through the driver), not only the loaded records; every read still verified."""
    monkeypatch.setenv("STORAGEBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STORAGEBENCH_SQLITE_PATH", str(tmp_path / "home" / "d.db"))
    code = main(["run", "--engine", "spark", "--spark-master", "local[2]", "--stores", "sqlite",
                 "--workloads", "d", "--threads", "2", "--results-dir", str(tmp_path / "results"),
                 "--run-id", "d", "--no-report", "-p", "recordcount=200", "-p", "operationcount=6000",
                 "-p", "insertproportion=0.2", "-p", "readproportion=0.8"])
    assert code == 0
    (run,) = [r for r in load_results(tmp_path / "results" / "d") if r["phase"] == "run"]
    assert run["status"] == "ok" and run["verification"]["failures"] == 0
    counter = run["spark"]["insert_counter"]
    assert counter["inserted"] == run["operations"]["insert"]["status_counts"]["OK"] > 0
    assert counter["failed_exchanges"] == 0 and counter["exchanges"] > 0
    # a good share of the reads land on the run's inserts, many of them another task's
    assert counter["picked_inserts"] > 0.2 * run["operations"]["read"]["status_counts"]["OK"]
    assert counter["picked_others"] > 0.1 * counter["picked_inserts"]


def test_live_metrics_of_a_spark_phase_arrive_while_it_runs_and_total_the_result(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`--metrics-port` with `--engine spark`: the tasks' interval reports reach the driver's endpoint while
    the phase runs, and every measured operation arrives exactly once."""
    import threading

    from storagebench.measuring.keys import keyed
    from storagebench.running import live

    metrics = live.LiveMetrics()
    monkeypatch.setattr(live, "ACTIVE", metrics)
    spec = wspec.resolve("a", {"recordcount": 100, "operationcount": 0, "maxexecutiontime": 6})
    box: dict[str, Any] = {}
    job = threading.Thread(target=lambda: box.setdefault("outcome", run_phase(
        PhasePlan("null", {}, spec, "run", "sbench_live", 1, threads=2, engine="spark", spark_master="local[2]"))))
    job.start()

    def shown() -> dict[tuple[str, str], int]:
        (ops,) = [f for f in metrics.collect() if f.name == "storagebench_operations"]
        return {(s.labels["operation"], s.labels["status"]): int(s.value) for s in ops.samples if s.value}

    seen_running: list[int] = []
    while job.is_alive():
        seen_running.append(sum(shown().values()))
        time.sleep(0.2)
    job.join()
    outcome = box["outcome"]
    expected: dict[tuple[str, str], int] = {}
    for key, hist in keyed(outcome.merged["histograms"]):
        status = "ok" if key.succeeded else "failed"
        expected[(key.op, status)] = expected.get((key.op, status), 0) + hist.get_total_count()
    total = sum(expected.values())
    partial = [n for n in seen_running if 0 < n < total]
    assert len(set(partial)) >= 2, "reports arrived while the phase ran, before its end"
    assert shown() == expected
