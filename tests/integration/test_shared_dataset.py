"""Several client hosts on one data set (`run --dataset NAME --host I/N`, `datasets join`, `merge`): two
processes standing for two hosts run at the same time on one loaded data set, reading every key and
writing and inserting only their own; merged exactly; their inserts disjoint; joined, a later plain run
verifies every key, inserts of both hosts included, and catches one of them rolled back; bad input is one
line, exit 2, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from storagebench.workloads.generators import KeyNamer
from storagebench.workloads.spec import WorkloadSpec
from storagebench.workloads.values import Values

from storagebench.cli import main
from storagebench.config import RunConfig, store_options
from storagebench.measuring.measurement import decode
from storagebench.registry import load_adapter
from storagebench.results.files import load_results
from storagebench.running.datasets import Dataset, part_paths
from storagebench.testing.engines import reach_engine

pytestmark = pytest.mark.usefixtures("isolated_home")

RECORDS = 1000
#: a run phase with reads (of every key), updates and inserts: zipfian, so both hosts meet the hot keys
MIX = ["-p", "readproportion=0.5", "-p", "updateproportion=0.4", "-p", "insertproportion=0.1",
       "-p", "operationcount=3000"]


def _cli(tmp_path: Path, run_id: str, *argv: str) -> tuple[int, list[dict[str, Any]]]:
    code = main([*argv, "--results-dir", str(tmp_path), "--run-id", run_id, "--no-report"])
    return code, load_results(tmp_path / run_id) if (tmp_path / run_id).is_dir() else []


def _hosts(tmp_path: Path, store: str, name: str, count: int) -> list[dict[str, Any]]:
    """``count`` processes, started together, each `run --dataset name --host i/count`."""
    procs = [subprocess.Popen(
        [sys.executable, "-m", "storagebench.cli", "run", "--stores", store, "--workloads", "a", "--dataset", name,
         "--host", f"{i}/{count}", "--clients", "2", *MIX, "--results-dir", str(tmp_path), "--run-id", f"h{i}",
         "--no-report"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(count)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * count, outs
    results = []
    for i in range(count):
        (result,) = load_results(tmp_path / f"h{i}")
        results.append(result)
    return results


def _total(result: dict[str, Any]) -> int:
    return sum(decode(text).get_total_count() for key, text in result["histograms"].items()
               if not key.startswith("verify|"))


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_two_hosts_share_one_data_set_merged_joined_and_verified_after(
        store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    reach_engine(store, monkeypatch)
    ds = Dataset(store, "shared")
    assert _cli(tmp_path, "load", "load", "--stores", store, "--workloads", "a", "--dataset", "shared",
                "-p", f"recordcount={RECORDS}")[0] == 0
    h0, h1 = _hosts(tmp_path, store, "shared", 2)
    for i, r in enumerate((h0, h1)):
        assert r["status"] == "ok" and r["readback"]["failures"] == 0, r.get("reason")
        assert r["dataset"]["generation"] == 1 and r["dataset"]["hosts"]["index"] == i
        assert r["operations"]["read"]["status_counts"].get("UNEXPECTED", 0) == 0
    # each read the other's writes of its own keys (judged by key and owner)
    assert h0["dataset"]["hosts"]["foreign_versions"] + h1["dataset"]["hosts"]["foreign_versions"] > 0
    assert ds.read()["state"] == "shared"
    capsys.readouterr()
    assert main(["datasets", "list"]) == 0
    assert "generation 1 shared by 2 hosts (done: 0, 1): `storagebench datasets join shared" in capsys.readouterr().out
    # each host's part: only keys it owns; the inserts of the two disjoint, each host's on its stripe
    parts = []
    for i in (0, 1):
        with np.load(part_paths(tmp_path / f"h{i}", store, "shared", i)[1]) as npz:
            keys = npz["keys"]
        assert (keys % 2 == i).all()
        parts.append(set(keys[keys >= RECORDS].tolist()))
    assert parts[0] and parts[1] and not parts[0] & parts[1]
    # merged exactly: operations and histogram counts are the sums; the shared generation recorded
    assert main(["merge", str(tmp_path / "h0"), str(tmp_path / "h1"), "-o", str(tmp_path / "merged"),
                 "--no-report"]) == 0
    (merged,) = load_results(tmp_path / "merged")
    assert merged["totals"]["operations"] == h0["totals"]["operations"] + h1["totals"]["operations"] == 6000
    assert _total(merged) == _total(h0) + _total(h1)
    assert merged["merge"]["shared_dataset"]["name"] == "shared"
    assert merged["merge"]["shared_dataset"]["generation"] == 1 and merged["merge"]["shared_dataset"]["hosts"] == 2
    # before the join a plain run is refused; one host's folder alone is refused too
    capsys.readouterr()
    code, _ = _cli(tmp_path, "early", "run", "--stores", store, "--workloads", "c", "--dataset", "shared")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "datasets join shared" in err[0]
    assert main(["datasets", "join", "shared", str(tmp_path / "h0")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "host(s) 1 of 2 missing" in err[0]
    assert main(["datasets", "join", "shared", str(tmp_path / "h0"), str(tmp_path / "h1")]) == 0
    manifest = ds.read()
    high = max(max(parts[0]), max(parts[1])) + 1
    assert manifest["state"] == "complete" and manifest["generation"] == 1 and manifest["keys"] == high
    versions = np.array(ds.versions())
    writers = versions[sorted(parts[0] | parts[1])] >> 36
    # host i's workers write as 1 + i + 2w: host 0's inserts odd writers, host 1's even
    assert (writers[np.isin(sorted(parts[0] | parts[1]), sorted(parts[0]))] % 2 == 1).all()
    assert (writers[np.isin(sorted(parts[0] | parts[1]), sorted(parts[1]))] % 2 == 0).all()
    # a third run reads every key back against the joined state, inserts of both hosts included
    code, results = _cli(tmp_path, "third", "run", "--stores", store, "--workloads", "c", "--dataset", "shared",
                         "-p", "operationcount=2000", "-p", "requestdistribution=uniform")
    assert code == 0, results
    (third,) = results
    assert third["dataset"]["generation"] == 2 and third["dataset"]["keys"] == high
    assert third["readback"]["checked"] == high and third["readback"]["failures"] == 0
    assert third["operations"]["read"]["status_counts"].get("UNEXPECTED", 0) == 0
    # one of host 1's inserts rolled back to an older valid value of its own: the next run says which
    spec = WorkloadSpec(name="a")
    keynum = min(parts[1])
    key = KeyNamer(spec).name(keynum)
    adapter = load_adapter(store)(store_options(store, RunConfig()))
    adapter.connect()
    try:
        adapter.update(ds.namespace, key, {"field2": Values(spec, 42).load_record(key)["field2"]})
    finally:
        adapter.close()
    code, results = _cli(tmp_path, "fourth", "run", "--stores", store, "--workloads", "c", "--dataset", "shared",
                         "-p", "operationcount=200")
    assert code == 1 and results[0]["status"] == "invalid"
    assert f"{key}: field2 holds version 0/0, from before this run, but the data set held version " \
           f"{int(versions[keynum, 2] >> 36)}/" in results[0]["reason"]


def test_host_bad_input_is_one_line_exit_2_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(tmp_path, "load", "load", "--stores", "sqlite", "--workloads", "a", "--dataset", "good",
                "-p", f"recordcount={RECORDS}")[0] == 0
    ds = Dataset("sqlite", "good")
    manifest = ds.manifest_path.read_text()
    cases = [
        (["--workloads", "c", "--host", "0/2"], "--host 0/2 shares a data set between hosts: give --dataset NAME"),
        (["--workloads", "c", "--dataset", "good", "--host", "2/2"], "--host 2/2: the host index must be in 0..1"),
        (["--workloads", "c", "--dataset", "good", "--host", "0/0"], "the number of hosts must be at least 1"),
        (["--workloads", "c", "--dataset", "good", "--host", "one/2"], "--host 'one/2': give I/N"),
        (["--workloads", "c", "--dataset", "good", "--host", "1"], "--host '1': give I/N"),
        (["--workloads", "delete", "--dataset", "good", "--host", "0/2"], "workload 'delete' deletes"),
        (["--workloads", "c,b", "--dataset", "good", "--host", "0/2"], "--host runs one workload"),
    ]
    capsys.readouterr()
    runs = set(tmp_path.iterdir())
    for argv, said in cases:
        code = main(["run", *argv, "--stores", "sqlite", "--results-dir", str(tmp_path)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and said in err[0], (argv, err)
    assert set(tmp_path.iterdir()) == runs  # no run folder
    assert ds.manifest_path.read_text() == manifest
    # a host index that already ran in this generation is refused before anything is written
    assert _cli(tmp_path, "h0", "run", "--stores", "sqlite", "--workloads", "c", "--dataset", "good",
                "--host", "0/2", "-p", "operationcount=100")[0] == 0
    capsys.readouterr()
    assert main(["run", "--stores", "sqlite", "--workloads", "c", "--dataset", "good", "--host", "0/2",
                 "--results-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "host 0/2 of generation 1 already ran (run h0" in err[0]
    assert main(["run", "--stores", "sqlite", "--workloads", "c", "--dataset", "good", "--host", "0/3",
                 "--results-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is shared by 2 hosts (generation 1), not 3: run with --host I/2" in err[0]
