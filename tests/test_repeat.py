"""`run --repeat N` and `--profile`: one file per repeat, shuffled recorded order, a summary with
intervals and ties, a noise probe and steady state in every result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storagebench.cli import main
from storagebench.profiles import PROFILES, UNTIL_TIME_IS_UP
from storagebench.results.files import load_results

pytestmark = pytest.mark.usefixtures("isolated_home")


def run(tmp_path: Path, *args: str) -> int:
    return main(["run", "--results-dir", str(tmp_path / "results"), *args])


def test_repeat_writes_one_file_per_repeat_and_a_summary_with_intervals(tmp_path: Path) -> None:
    assert run(tmp_path, "--stores", "sqlite,localdir,null", "--workloads", "c", "--repeat", "3", "--run-id", "r",
               "-p", "recordcount=50", "-p", "operationcount=400") == 0
    run_dir = tmp_path / "results" / "r"
    results = load_results(run_dir)
    runs = [r for r in results if r["phase"] == "run"]
    assert sorted((r["store"], r["repeat"]["index"]) for r in runs) == sorted(
        (s, k) for s in ("sqlite", "localdir", "null") for k in (1, 2, 3))
    assert (run_dir / "sqlite__c__run__r2.json").exists()
    orders = {r["repeat"]["index"]: tuple(r["repeat"]["store_order"]) for r in runs}
    assert all(sorted(o) == ["localdir", "null", "sqlite"] for o in orders.values())
    for r in results:
        assert r["noise"]["fingerprint"] and r["noise"]["fsync_p50_us"] > 0 and r["noise"]["cpu_loops_per_sec"] > 0
    for r in runs:
        assert {"reached", "start_s", "method"} <= r["steady_state"].keys()
    summary = json.loads((run_dir / "summary.json").read_text())
    cells = {(c["store"], c["phase"], c["metric"]): c for c in summary["cells"]}
    for store in ("sqlite", "localdir", "null"):
        cell = cells[(store, "run", "ops_per_sec")]
        assert cell["n"] == 3 and cell["lo"] <= cell["median"] <= cell["hi"] and cell["coverage"] == 0.75
        assert store not in cell["tied_with"]
    assert (run_dir / "report.html").exists()  # the report still reads a repeated run


def test_store_order_is_seeded() -> None:
    from storagebench.running.suite import store_order

    stores = list("abcdefgh")
    orders = [store_order(stores, 42, k, 5) for k in range(1, 6)]  # type: ignore[arg-type]
    assert orders == [store_order(stores, 42, k, 5) for k in range(1, 6)]  # type: ignore[arg-type]
    assert len({tuple(o) for o in orders}) > 1
    assert store_order(stores, 42, 1, 1) == stores  # type: ignore[arg-type]
    three = list("pks")
    block = [store_order(three, 42, k, 6) for k in (1, 2, 3)]  # type: ignore[arg-type]
    for position in range(3):  # balanced: each store at each position once per block of 3 repeats
        assert sorted(str(o[position]) for o in block) == sorted(three)


def test_profile_sets_durations_in_seconds_and_is_recorded(tmp_path: Path) -> None:
    assert run(tmp_path, "--stores", "sqlite", "--workloads", "c", "--profile", "quick", "--run-id", "p",
               "--no-report", "-p", "recordcount=40", "-p", "maxexecutiontime=1") == 0
    (r,) = [r for r in load_results(tmp_path / "results" / "p") if r["phase"] == "run"]
    assert r["status"] == "ok" and r["profile"]["name"] == "quick"
    workload = r["config"]["workload"]
    assert workload["operationcount"] == UNTIL_TIME_IS_UP and workload["maxexecutiontime"] == 1
    assert workload["recordcount"] == 40  # -p wins over the profile
    assert 0.8 < r["duration_s"] < 2.5
    assert set(PROFILES) == {"quick", "standard", "nightly"}


@pytest.mark.parametrize(("args", "message"), [
    (["--profile", "bogus"], "unknown profile 'bogus'"),
    (["--repeat", "0"], "repeat"),
])
def test_bad_profile_or_repeat(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                               message: str) -> None:
    assert run(tmp_path, *args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "results").exists()
