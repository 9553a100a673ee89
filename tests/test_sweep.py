"""`storagebench sweep` on embedded stores: the rate ladder finds a knee, the client and record ladders
give a curve, bad input is refused before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storagebench.cli import main

pytestmark = pytest.mark.usefixtures("isolated_home")


def sweep(tmp_path: Path, *args: str) -> int:
    return main(["sweep", "--results-dir", str(tmp_path / "results"), "--run-id", "s", *args])


def test_rate_ladder_finds_the_knee(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Rates well under capacity are sustained; above capacity the store cannot keep up.  (A loose
    latency objective, so that on a shared CI machine the knee is where throughput stops following the
    target, not where a noisy p99 happens to land.)"""
    assert sweep(tmp_path, "--stores", "sqlite", "--workload", "c", "--ladder", "rate", "--step-seconds", "1",
                 "--objective-ms", "1000", "-p", "recordcount=200") == 0
    data = json.loads((tmp_path / "results" / "s" / "sweep-sqlite-c-rate.json").read_text())
    steps = [s for s in data["steps"] if s["target"] > 0]
    best = data["max_sustainable_ops_per_sec"]
    assert best is not None and best >= 0.05 * data["capacity_ops_per_sec"]
    assert any(not s["sustainable"] and s["target"] > data["max_sustainable_target"] for s in steps)
    for s in steps:  # each throttled step records both latencies; intended is never below service
        assert s["intended"]["p50_us"] >= s["service"]["p50_us"] * 0.99
    assert "max sustainable at p99 <= 1000 ms" in capsys.readouterr().out


def test_client_and_record_ladders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Workload a writes: every step starts from a fresh load, so each step's reads verify cleanly."""
    assert sweep(tmp_path, "--stores", "sqlite,localdir", "--workload", "a", "--ladder", "clients,records",
                 "--step-seconds", "0.5", "--clients", "1,2,1", "--records", "100,1000") == 0
    run_dir = tmp_path / "results" / "s"
    clients = json.loads((run_dir / "sweep-sqlite-a-clients.json").read_text())
    assert [s["threads"] for s in clients["steps"]] == [1, 2, 1] and clients["steps"][0]["speedup"] == 1.0
    assert all(s["failed"] == 0 and not s["errors"] for s in clients["steps"]), clients["steps"]
    for store in ("sqlite", "localdir"):
        records = json.loads((run_dir / f"sweep-{store}-a-records.json").read_text())
        small, large = records["steps"]
        assert (small["records"], large["records"]) == (100, 1000)
        assert large["load"]["footprint"]["bytes"] > small["load"]["footprint"]["bytes"] > 0
        assert large["ops_per_sec"] > 0 and large["load"]["records_per_sec"] > 0
    assert records["steps"][0]["load"]["bulk"] is False  # localdir has no bulk path: per record
    out = capsys.readouterr().out
    assert "1,000 records" in out and "footprint" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--ladder", "zigzag"], "unknown ladder zigzag"),
    (["--rates", "10,x"], "--rates must be comma-separated numbers"),
    (["--clients", "0"], "--clients must be positive"),
    (["--workload", "batch"], "sweeps take per-operation workloads"),
    (["--profile", "nope"], "unknown profile"),
])
def test_bad_sweep_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert sweep(tmp_path, "--stores", "sqlite", *args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "results").exists()


def test_a_step_too_short_for_its_percentile_is_never_sustainable() -> None:
    """Explicit and found rates alike: 99 operations cannot give a p99 (it would be their maximum)."""
    from storagebench.running.sweep import Objective, sustainable, too_short

    objective = Objective(99.0, 10.0)
    step = {"operations": 99, "failed": 0, "problems": [], "ops_per_sec": 99.0, "target": 99.0,
            "service": {"p99_us": 50.0}, "intended": {"p99_us": 60.0}}
    assert too_short(step, objective) and not sustainable(step, objective)
    assert sustainable({**step, "operations": 100}, objective)


def test_a_records_step_reads_the_records_it_loaded(tmp_path: Path) -> None:
    """Each records-ladder step runs over the records that step loaded, not over the workload's recordcount:
    a 50-record step of a 1,000-record workload read 950 keys it never loaded (false NOT_FOUNDs, ~95 %).
    Each step also says how its data compares with memory, and over which memory."""
    assert sweep(tmp_path, "--stores", "sqlite", "--workload", "c", "--ladder", "records", "--step-seconds", "0.5",
                 "--records", "50,300", "-p", "recordcount=1000") == 0
    data = json.loads((tmp_path / "results" / "s" / "sweep-sqlite-c-records.json").read_text())
    for step in data["steps"]:
        assert step["operations"] > 0 and step["failed"] == 0 and not step["errors"], step["errors"]
        assert step["cache"]["state"] == "as found"
        ram = step["memory_denominator"]
        assert ram["what"] == "machine RAM" and ram["bytes"] > 2**28  # sqlite: no engine, no cap
        assert step["data_to_memory"] == pytest.approx(step["load"]["footprint"]["bytes"] / ram["bytes"])
    small, large = data["steps"]
    assert 0 < small["data_to_memory"] < large["data_to_memory"] < 1


def test_a_cold_records_ladder_runs_each_size_cold_then_as_found(tmp_path: Path) -> None:
    """`--cold`: each size is measured cold (sqlite has no engine: the OS page cache is dropped, as root)
    and then as found, both in the step, both over every loaded record."""
    import os

    assert sweep(tmp_path, "--stores", "sqlite", "--workload", "c", "--ladder", "records", "--step-seconds", "0.5",
                 "--records", "200", "--cold") == 0
    (step,) = json.loads((tmp_path / "results" / "s" / "sweep-sqlite-c-records.json").read_text())["steps"]
    cold = step["cold"]
    assert cold["operations"] > 0 and cold["failed"] == 0 and step["failed"] == 0
    assert step["cache"]["state"] == "as found"
    assert cold["cache"]["os_cache_dropped"] is (os.geteuid() == 0)
    assert cold["cache"]["state"] == ("cold" if os.geteuid() == 0 else "as found")
    assert cold["cache"]["engine_restart_s"] is None and "no engine process" in cold["cache"]["note"]
