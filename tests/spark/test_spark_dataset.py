"""Spark tasks on a data set (`run --dataset NAME --engine spark`): each task runs as one client host of it,
every answer judged against the data set's state; each task reads its own keys back and the driver folds
their parts into the data set, so a later local run verifies every key the tasks wrote or inserted and
catches one of them rolled back; --host with Spark is refused in one line (a load has no --engine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dataset_cases import cli, roll_back_to_loaded_value, unique
from storagebench.workloads.generators import KeyNamer
from storagebench.workloads.spec import WorkloadSpec

from storagebench.cli import main
from storagebench.running.datasets import Dataset, part_paths
from storagebench.testing.engines import reach_engine

pytestmark = pytest.mark.usefixtures("spark_ready", "isolated_home")

RECORDS = 1000
MIX = ["-p", "readproportion=0.5", "-p", "updateproportion=0.4", "-p", "insertproportion=0.1",
       "-p", "operationcount=2000"]


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_spark_tasks_run_on_a_data_set_as_its_hosts_and_a_later_local_run_verifies_their_writes(
        store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = unique("sp")
    reach_engine(store, monkeypatch)
    ds = Dataset(store, name)
    assert cli(tmp_path, "load", "load", "--stores", store, "--workloads", "a", "--dataset", name,
                "-p", f"recordcount={RECORDS}")[0] == 0
    code, results = cli(tmp_path, "spark", "run", "--stores", store, "--workloads", "a", "--dataset", name,
                         "--engine", "spark", "--spark-master", "local[2]", "--clients", "2", *MIX)
    assert code == 0, results
    (run,) = results
    assert run["status"] == "ok" and run["verification"]["verified"], run["reason"]
    assert run["totals"]["operations"] == 2000 and run["totals"]["failed"] == 0
    assert run["operations"]["read"]["status_counts"].get("UNEXPECTED", 0) == 0
    assert run["readback"]["failures"] == 0 and run["readback"]["checked"] >= RECORDS
    assert run["dataset"]["generation"] == 1
    assert run["dataset"]["spark_tasks"]["count"] == 2 and "hosts" not in run["dataset"]
    # the driver folded the two tasks' parts in: the data set is complete, one generation on, with their inserts
    manifest = ds.read()
    assert manifest["state"] == "complete" and manifest["generation"] == 1 and manifest["keys"] > RECORDS
    inserted = []
    for task in (0, 1):
        with np.load(part_paths(tmp_path / "spark", store, name, task)[1]) as npz:
            keys = npz["keys"]
        assert (keys % 2 == task).all()  # each task wrote only the keys it owns
        inserted.append(set(keys[keys >= RECORDS].tolist()))
    assert inserted[0] and inserted[1] and not inserted[0] & inserted[1]
    versions = np.array(ds.versions())
    for task in (0, 1):  # task i writes as host i/2's only client: writer 1 + i
        assert ((versions[sorted(inserted[task])] >> 36) == 1 + task).all()
    # a later local run reads every key back against the state the tasks left, their inserts included
    code, results = cli(tmp_path, "after", "run", "--stores", store, "--workloads", "c", "--dataset", name,
                         "-p", "operationcount=1000", "-p", "requestdistribution=uniform")
    assert code == 0, results
    (after,) = results
    assert after["readback"]["checked"] == manifest["keys"] and after["readback"]["failures"] == 0
    assert after["operations"]["read"]["status_counts"].get("UNEXPECTED", 0) == 0
    # one of task 1's inserts rolled back to an older valid value: the next run says which
    keynum = min(inserted[1])
    key = KeyNamer(WorkloadSpec(name="a")).name(keynum)
    roll_back_to_loaded_value(store, ds.namespace, key, "field3")
    code, results = cli(tmp_path, "caught", "run", "--stores", store, "--workloads", "c", "--dataset", name,
                         "-p", "operationcount=200")
    assert code == 1 and results[0]["status"] == "invalid"
    assert f"{key}: field3 holds version 0/0, from before this run, but the data set held version 2/" \
           in results[0]["reason"]


def test_host_with_spark_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(tmp_path, "load", "load", "--stores", "sqlite", "--workloads", "a", "--dataset", "sp",
                "-p", "recordcount=100")[0] == 0
    manifest = Dataset("sqlite", "sp").manifest_path.read_text()
    capsys.readouterr()
    code = main(["run", "--dataset", "sp", "--host", "0/2", "--stores", "sqlite", "--workloads", "a", "--engine",
                 "spark", "--results-dir", str(tmp_path / "refused")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "the Spark tasks are the data set's hosts; drop --host" in err[0], err
    assert not (tmp_path / "refused").exists()
    assert Dataset("sqlite", "sp").manifest_path.read_text() == manifest
