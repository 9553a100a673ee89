"""Data sets with a life of their own (`storagebench load`, `run --dataset`, `datasets list|drop`): loaded
once, run on twice without loading, every read of the second run judged against the first run's writes; a
record corrupted between runs caught; a killed load refused; a data set whose records the store lost
refused; bad input refused with one line, exit 2, nothing written."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dataset_cases import unique
from storagebench.workloads.generators import KeyNamer
from storagebench.workloads.spec import WorkloadSpec, resolve
from storagebench.workloads.values import Values

from storagebench.cli import main
from storagebench.config import RunConfig, store_options
from storagebench.registry import load_adapter
from storagebench.results.files import load_results
from storagebench.running import datasets
from storagebench.running.datasets import Dataset
from storagebench.testing.engines import reach_engine

pytestmark = pytest.mark.usefixtures("isolated_home")

RECORDS = 1000


def _cli(tmp_path: Path, *argv: str) -> tuple[int, list[dict[str, Any]]]:
    run_id = f"r{len(list(tmp_path.glob('r*')))}"
    code = main([*argv, "--results-dir", str(tmp_path), "--run-id", run_id, "--no-report"])
    return code, load_results(tmp_path / run_id) if (tmp_path / run_id).is_dir() else []


def _adapter(store: str) -> Any:
    adapter = load_adapter(store)(store_options(store, RunConfig()))
    adapter.connect()
    return adapter


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_load_once_then_two_runs_verified_and_a_corrupted_record_caught(
        store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = unique("t1")
    reach_engine(store, monkeypatch)
    ds = Dataset(store, name)
    code, results = _cli(tmp_path, "load", "--stores", store, "--workloads", "a", "--dataset", name,
                         "-p", f"recordcount={RECORDS}")
    assert code == 0 and [r["phase"] for r in results] == ["load"]
    manifest = ds.read()
    assert manifest["state"] == "complete" and manifest["records"] == RECORDS and manifest["load_seconds"] > 0
    assert manifest["footprint"]["bytes"] > 0 and manifest["shape"]["fieldcount"] == 10
    # run 1: updates, inserts and deletes, two clients; no load phase
    code, results = _cli(tmp_path, "run", "--stores", store, "--workloads", "delete", "--dataset", name,
                         "-p", "operationcount=2000", "--clients", "2")
    assert code == 0, results
    (run1,) = results
    assert run1["phase"] == "run" and run1["status"] == "ok" and run1["readback"]["failures"] == 0
    assert run1["readback"]["connection"] == "4 new adapter instances at once, after the phase"
    assert run1["dataset"]["generation"] == 1 and run1["dataset"]["seq_base"] == 0
    after1 = np.array(ds.versions())
    writer = after1 >> 36
    assert len(after1) > RECORDS  # its inserts
    assert (after1 == -1).all(axis=1).any()  # its deletes
    assert (writer[:RECORDS] > 0).any()  # its updates
    base = ds.read()["seq_base"]
    assert base > 0
    # run 2 reads every key (its read-back) holding run 1's versions, all verified, and writes its own
    code, results = _cli(tmp_path, "run", "--stores", store, "--workloads", "a", "--dataset", name,
                         "-p", "operationcount=2000")
    assert code == 0, results
    (run2,) = results
    assert run2["dataset"]["generation"] == 2 and run2["dataset"]["seq_base"] == base
    assert run2["readback"]["checked"] == len(after1) and run2["readback"]["failures"] == 0
    assert run2["operations"]["read"]["status_counts"].get("UNEXPECTED", 0) == 0
    after2 = np.array(ds.versions())
    assert ((after2 & ((1 << 36) - 1)) > base).any()  # run 2's writes, numbered above run 1's
    # between runs: one field of a key run 1 or 2 updated rolled back to its load value (a valid value for
    # that key and field, just not the current one): only the data set's state can tell
    spec = WorkloadSpec(name="a")
    keynum = int(np.flatnonzero((after2[:RECORDS] >> 36 > 0).all(axis=1))[0])
    key = KeyNamer(spec).name(keynum)
    adapter = _adapter(store)
    try:
        adapter.update(ds.namespace, key, {"field3": Values(spec, 42).load_record(key)["field3"]})
    finally:
        adapter.close()
    code, results = _cli(tmp_path, "run", "--stores", store, "--workloads", "c", "--dataset", name,
                         "-p", "operationcount=500")
    assert code == 1
    assert results[0]["status"] == "invalid"
    said = f"{key}: field3 holds version 0/0, from before this run"
    assert said in results[0]["verification"]["first_failures"][0]
    assert ds.read()["state"] == "unusable" and said in ds.read()["reason"]
    code, _ = _cli(tmp_path, "run", "--stores", store, "--workloads", "c", "--dataset", name)
    assert code == 2
    assert main(["datasets", "drop", name, "--stores", store]) == 0
    adapter = _adapter(store)
    try:
        assert ds.namespace not in adapter.list_namespaces() and not ds.exists()
    finally:
        adapter.close()


def test_killed_load_leaves_the_data_set_incomplete_and_run_refuses_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ds = Dataset("sqlite", "killed")
    load = subprocess.Popen([sys.executable, "-m", "storagebench.cli", "load", "--stores", "sqlite", "--workloads",
                             "a", "--dataset", "killed", "-p", "recordcount=500000", "--results-dir",
                             str(tmp_path), "--no-report"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (ds.exists() and ds.read().get("state") == "loading"):
            time.sleep(0.1)
        time.sleep(1.0)  # some records in
        assert load.poll() is None, "the load ended before it could be killed"
    finally:
        load.send_signal(signal.SIGKILL)
        load.wait()
    assert ds.read()["state"] == "loading" and ds.effective_state(ds.read()) == "incomplete"
    capsys.readouterr()
    code, _ = _cli(tmp_path, "run", "--stores", "sqlite", "--workloads", "c", "--dataset", "killed")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "data set 'killed' on sqlite is incomplete (its load" in err[0] and "datasets drop killed" in err[0]
    assert main(["datasets", "list"]) == 0
    assert "sqlite: killed  incomplete  500,000 records to load (the load did not finish)" in capsys.readouterr().out


def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(tmp_path, "load", "--stores", "sqlite", "--workloads", "a", "--dataset", "good",
                "-p", "recordcount=200")[0] == 0
    ds = Dataset("sqlite", "good")
    manifest = ds.manifest_path.read_text()
    adapter = _adapter("sqlite")
    try:
        before = adapter.list_namespaces()
    finally:
        adapter.close()
    (ds.folder.parent / "old").mkdir()
    old = json.loads(manifest)
    old["shape"]["harness_version"] = "0.0.1"
    (ds.folder.parent / "old" / "dataset.json").write_text(json.dumps(old))
    cases = [
        (["run", "--workloads", "c", "--dataset", "missing"], "no data set 'missing' on sqlite (known: good, old): "
                                                              "load it first with `storagebench load"),
        (["run", "--workloads", "c", "--dataset", "good", "-p", "fieldlength=50"],
         "data set 'good' on sqlite has fieldlength=100, workload 'c' has 50: run with -p fieldlength=100"),
        (["run", "--workloads", "c", "--dataset", "old"],
         "data set 'old' on sqlite was written with harness_version '0.0.1'"),
        (["run", "--workloads", "query", "--dataset", "good"], "workload 'query' computes on fields fixed"),
        (["load", "--workloads", "a", "--dataset", "good"], "data set 'good' already exists on sqlite"),
        (["run", "--workloads", "c", "--dataset", "No-Such"], "data set name 'No-Such' must be"),
    ]
    capsys.readouterr()
    runs = set(tmp_path.iterdir())
    for argv, said in cases:
        code = main([*argv, "--stores", "sqlite", "--results-dir", str(tmp_path)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and said in err[0], (argv, err)
    assert set(tmp_path.iterdir()) == runs  # no run folder
    assert ds.manifest_path.read_text() == manifest
    adapter = _adapter("sqlite")
    try:
        assert adapter.list_namespaces() == before
    finally:
        adapter.close()


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_data_set_whose_records_the_store_lost_is_refused_before_the_run(
        store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The engine's data removed behind the manifest's back (seen on Kudu: `services down --clean`, then a
    run on the 10 M-record data set failed 300,389 of 300,389 answers as NOT_FOUND): refused before the run
    in one line saying what to do, exit 2, no run folder, the manifest as it was."""
    name = unique("lost")
    reach_engine(store, monkeypatch)
    assert _cli(tmp_path, "load", "--stores", store, "--workloads", "a", "--dataset", name,
                "-p", "recordcount=200")[0] == 0
    ds = Dataset(store, name)
    adapter = _adapter(store)
    try:
        adapter.drop(ds.namespace)
    finally:
        adapter.close()
    manifest = ds.manifest_path.read_text()
    runs = set(tmp_path.iterdir())
    capsys.readouterr()
    code = main(["run", "--stores", store, "--workloads", "c", "--dataset", name, "--results-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert f"data set '{name}' on {store}: the store has no sbench_dataset_{name}" in err[0]
    assert f"`storagebench datasets drop {name} --stores {store}` then `storagebench load`" in err[0]
    assert set(tmp_path.iterdir()) == runs and ds.manifest_path.read_text() == manifest
    # what the line says to do works
    assert main(["datasets", "drop", name, "--stores", store]) == 0
    assert _cli(tmp_path, "load", "--stores", store, "--workloads", "a", "--dataset", name,
                "-p", "recordcount=200")[0] == 0
    assert _cli(tmp_path, "run", "--stores", store, "--workloads", "c", "--dataset", name,
                "-p", "operationcount=100")[0] == 0


@pytest.mark.parametrize("store", ["postgres"])
def test_a_load_never_drops_another_homes_data_set_of_the_same_name(
        store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Two homes (two machines, two users) against one server: the second `load --dataset twin` would have
    dropped the first home's records before loading its own; it is refused in one line, and the first
    home's data set still verifies."""
    name = unique("twin")
    reach_engine(store, monkeypatch)
    assert _cli(tmp_path, "load", "--stores", store, "--workloads", "a", "--dataset", name,
                "-p", "recordcount=200")[0] == 0
    first = tmp_path / "home"
    monkeypatch.setenv("STORAGEBENCH_HOME", str(tmp_path / "other-home"))
    capsys.readouterr()
    code = main(["load", "--stores", store, "--workloads", "a", "--dataset", name, "-p", "recordcount=100",
                 "--results-dir", str(tmp_path / "other")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert f"data set '{name}': {store} already holds sbench_dataset_{name}, which no data set of this home" in err[0]
    assert not (tmp_path / "other").exists() and not Dataset(store, name).exists()
    monkeypatch.setenv("STORAGEBENCH_HOME", str(first))
    code, results = _cli(tmp_path, "run", "--stores", store, "--workloads", "c", "--dataset", name,
                         "-p", "operationcount=200")
    assert code == 0 and results[0]["readback"]["checked"] == 200 and results[0]["readback"]["failures"] == 0


def test_clean_keeps_data_sets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(tmp_path, "load", "--stores", "sqlite", "--workloads", "a", "--dataset", "kept",
                "-p", "recordcount=100")[0] == 0
    capsys.readouterr()
    assert main(["clean", "--stores", "sqlite", "--yes", "--results-dir", str(tmp_path)]) == 0
    assert "sbench_dataset_kept kept: a data set" in capsys.readouterr().err
    code, results = _cli(tmp_path, "run", "--stores", "sqlite", "--workloads", "c", "--dataset", "kept",
                         "-p", "operationcount=200")
    assert code == 0 and results[0]["readback"]["checked"] == 100


def test_a_read_only_run_that_stalls_keeps_the_data_set_a_writing_one_does_not(tmp_path: Path) -> None:
    assert resolve("c", {}).writes() is False and resolve("query", {}).writes() is False
    assert resolve("a", {}).writes() is True and resolve("batch", {}).writes() is True
    assert _cli(tmp_path, "load", "--stores", "sqlite", "--workloads", "c", "--dataset", "ro",
                "-p", "recordcount=300")[0] == 0
    ds = Dataset("sqlite", "ro")
    versions = np.array(ds.versions())
    data = datasets.begin_run(ds, ds.read(), "stalled-read-run")
    after = datasets.end_run(ds, data, "stalled-read-run", "stalled", "no operation succeeded for 5 s", None,
                             "now", writes=False)
    assert after["state"] == "complete" and after["generation"] == 0
    assert "read-only: the data set is unchanged" in after["runs"][-1]["note"]
    assert np.array_equal(np.array(ds.versions()), versions)
    code, results = _cli(tmp_path, "run", "--stores", "sqlite", "--workloads", "c", "--dataset", "ro",
                         "-p", "operationcount=300")
    assert code == 0 and results[0]["readback"]["failures"] == 0
    # a writing run that stalled before it sent anything (a 10 M data set's clients slow to start) wrote
    # nothing either: the data set stays usable, where it used to need a reload
    data = datasets.begin_run(ds, ds.read(), "stalled-before-start")
    after = datasets.end_run(ds, data, "stalled-before-start", "aborted", "clients [0] were still connecting",
                             None, "now", writes=False, unwritten="no operation sent")
    assert after["state"] == "complete" and "no operation sent: the data set is unchanged" in after["runs"][-1]["note"]
    # a read judged wrong is not forgiven, and a run that may have written leaves the store unknown
    for status, writes in (("invalid", False), ("stalled", True)):
        data = datasets.begin_run(ds, ds.read(), "r")
        assert datasets.end_run(ds, data, "r", status, "why", None, "now", writes=writes)["state"] == "unusable"
        ds.write({**ds.read(), "state": "complete"})
