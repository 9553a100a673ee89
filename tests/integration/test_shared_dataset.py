"""Several client hosts on one data set (`run --dataset NAME --host I/N`, `datasets join`, `merge`): two
processes standing for two hosts run at the same time on one loaded data set, reading every key and
writing and inserting only their own; merged exactly; their inserts disjoint; joined, a later plain run
verifies every key, inserts of both hosts included, and catches one of them rolled back; two hosts running
the delete workload, each deleting only its own keys, joined so that a later plain run verifies the deleted
keys gone, and a store that keeps or loses a host's own key caught by that host; a host killed midway
leaves the other valid and the data set refused with what to do; bad input is one line, exit 2, nothing
written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dataset_cases import cli, roll_back_to_loaded_value, unique
from storagebench.workloads.generators import KeyNamer
from storagebench.workloads.spec import WorkloadSpec
from storagebench.workloads.values import Values

from storagebench.cli import main
from storagebench.config import RunConfig, store_options
from storagebench.errors import NotFound
from storagebench.measuring.ledger import ABSENT
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


def _hosts(tmp_path: Path, store: str, name: str, count: int, workload: str = "a", mix: list[str] = MIX,
           env: dict[str, str] | None = None, codes: list[int] | None = None) -> list[dict[str, Any]]:
    """``count`` processes, started together, each `run --dataset name --host i/count` (exit statuses
    ``codes``, 0 for each by default)."""
    procs = [subprocess.Popen(
        [sys.executable, "-m", "storagebench.cli", "run", "--stores", store, "--workloads", workload, "--dataset",
         name, "--host", f"{i}/{count}", "--clients", "2", *mix, "--results-dir", str(tmp_path), "--run-id",
         f"h{i}", "--no-report"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        for i in range(count)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == (codes or [0] * count), outs
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
    name = unique("shared")
    reach_engine(store, monkeypatch)
    ds = Dataset(store, name)
    assert cli(tmp_path, "load", "load", "--stores", store, "--workloads", "a", "--dataset", name,
                "-p", f"recordcount={RECORDS}")[0] == 0
    h0, h1 = _hosts(tmp_path, store, name, 2)
    for i, r in enumerate((h0, h1)):
        assert r["status"] == "ok" and r["readback"]["failures"] == 0, r.get("reason")
        assert r["dataset"]["generation"] == 1 and r["dataset"]["hosts"]["index"] == i
        assert r["operations"]["read"]["status_counts"].get("UNEXPECTED", 0) == 0
    # each read the other's writes of its own keys (judged by key and owner)
    assert h0["dataset"]["hosts"]["foreign_versions"] + h1["dataset"]["hosts"]["foreign_versions"] > 0
    assert ds.read()["state"] == "shared"
    capsys.readouterr()
    assert main(["datasets", "list"]) == 0
    listed = capsys.readouterr().out
    assert f"generation 1 shared by 2 hosts (0: done; 1: done): `storagebench datasets join {name}" in listed
    # each host's part: only keys it owns; the inserts of the two disjoint, each host's on its stripe
    parts = []
    for i in (0, 1):
        with np.load(part_paths(tmp_path / f"h{i}", store, name, i)[1]) as npz:
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
    assert merged["merge"]["shared_dataset"]["name"] == name
    assert merged["merge"]["shared_dataset"]["generation"] == 1 and merged["merge"]["shared_dataset"]["hosts"] == 2
    # before the join a plain run is refused; one host's folder alone is refused too
    capsys.readouterr()
    code, _ = cli(tmp_path, "early", "run", "--stores", store, "--workloads", "c", "--dataset", name)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and f"datasets join {name}" in err[0]
    assert main(["datasets", "join", name, str(tmp_path / "h0")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "host(s) 1 of 2 missing" in err[0]
    assert main(["datasets", "join", name, str(tmp_path / "h0"), str(tmp_path / "h1")]) == 0
    manifest = ds.read()
    high = max(max(parts[0]), max(parts[1])) + 1
    assert manifest["state"] == "complete" and manifest["generation"] == 1 and manifest["keys"] == high
    versions = np.array(ds.versions())
    writers = versions[sorted(parts[0] | parts[1])] >> 36
    # host i's workers write as 1 + i + 2w: host 0's inserts odd writers, host 1's even
    assert (writers[np.isin(sorted(parts[0] | parts[1]), sorted(parts[0]))] % 2 == 1).all()
    assert (writers[np.isin(sorted(parts[0] | parts[1]), sorted(parts[1]))] % 2 == 0).all()
    # a third run reads every key back against the joined state, inserts of both hosts included
    code, results = cli(tmp_path, "third", "run", "--stores", store, "--workloads", "c", "--dataset", name,
                         "-p", "operationcount=2000", "-p", "requestdistribution=uniform")
    assert code == 0, results
    (third,) = results
    assert third["dataset"]["generation"] == 2 and third["dataset"]["keys"] == high
    assert third["readback"]["checked"] == high and third["readback"]["failures"] == 0
    assert third["operations"]["read"]["status_counts"].get("UNEXPECTED", 0) == 0
    # one of host 1's inserts rolled back to an older valid value of its own: the next run says which
    keynum = min(parts[1])
    key = KeyNamer(WorkloadSpec(name="a")).name(keynum)
    roll_back_to_loaded_value(store, ds.namespace, key, "field2")
    code, results = cli(tmp_path, "fourth", "run", "--stores", store, "--workloads", "c", "--dataset", name,
                         "-p", "operationcount=200")
    assert code == 1 and results[0]["status"] == "invalid"
    assert f"{key}: field2 holds version 0/0, from before this run, but the data set held version " \
           f"{int(versions[keynum, 2] >> 36)}/" in results[0]["reason"]


#: each host of the delete workload (50 % read, 20 % update, 15 % insert, 15 % delete, uniform)
DELETES = ["-p", "operationcount=3000"]
TESTS = Path(__file__).resolve().parents[1]


def _failures(result: dict[str, Any]) -> list[str]:
    return [*result["verification"]["first_failures"], *(result.get("readback") or {}).get("first_failures", [])]


def _key_numbers(count: int) -> dict[str, int]:
    """Key name -> key number of the data set (hosts' inserts included), for ``count`` key numbers."""
    return dict(zip(KeyNamer(WorkloadSpec(name="delete")).names(np.arange(count)), range(count), strict=True))


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_two_hosts_delete_on_one_data_set_and_after_the_join_the_deleted_keys_are_gone(
        store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two hosts run the delete workload at once, each deleting only keys it owns and accepting either answer
    for the other's keys; joined, the data set's state has the deleted keys absent, and a plain run verifies
    strictly that they are gone and the rest present, and catches one of them brought back."""
    name = unique("churn")
    reach_engine(store, monkeypatch)
    ds = Dataset(store, name)
    assert cli(tmp_path, "load", "load", "--stores", store, "--workloads", "delete", "--dataset", name,
                "-p", f"recordcount={RECORDS}")[0] == 0
    h0, h1 = _hosts(tmp_path, store, name, 2, "delete", DELETES)
    for r in (h0, h1):
        assert r["status"] == "ok" and r["readback"]["failures"] == 0, r.get("reason")
        assert r["verification"]["verified"] and r["operations"]["delete"]["status_counts"].get("OK", 0) > 100
        assert all(op["status_counts"].get("UNEXPECTED", 0) == 0 for op in r["operations"].values())
    # keys the other host had deleted answered NOT_FOUND, and were accepted as such (counted)
    assert h0["dataset"]["hosts"]["foreign_absent"] + h1["dataset"]["hosts"]["foreign_absent"] > 0
    # each host's part: only keys it owns, the ones it deleted as rows of absent fields
    deleted: set[int] = set()
    owned: set[int] = set()
    for i, r in enumerate((h0, h1)):
        with np.load(part_paths(tmp_path / f"h{i}", store, name, i)[1]) as npz:
            keys, versions = npz["keys"], npz["versions"]
        assert (keys % 2 == i).all()
        gone = keys[(versions == ABSENT).all(axis=1)]
        assert 0 < len(gone) <= r["operations"]["delete"]["status_counts"]["OK"]
        deleted |= set(gone.tolist())
        owned |= set(keys.tolist())
    assert main(["datasets", "join", name, str(tmp_path / "h0"), str(tmp_path / "h1")]) == 0
    manifest = ds.read()
    assert manifest["state"] == "complete" and manifest["generation"] == 1
    versions = np.array(ds.versions())
    absent = set(np.flatnonzero((versions == ABSENT).all(axis=1)).tolist())
    # absent: what the hosts deleted, and key numbers above the loaded ones that no host inserted
    assert absent == deleted | (set(range(RECORDS, len(versions))) - owned)
    # the store agrees: the absent keys are gone, every other key is there
    names = _key_numbers(len(versions))
    adapter = load_adapter(store)(store_options(store, RunConfig()))
    adapter.connect()
    try:
        present = set()
        for key, keynum in names.items():
            try:
                adapter.read(ds.namespace, key)
                present.add(keynum)
            except NotFound:
                pass
    finally:
        adapter.close()
    assert present == set(range(len(versions))) - absent
    # a plain run verifies every key against the joined state: the deleted ones must answer NOT_FOUND
    code, results = cli(tmp_path, "after", "run", "--stores", store, "--workloads", "c", "--dataset", name,
                         "-p", "operationcount=2000", "-p", "requestdistribution=uniform")
    assert code == 0, results
    (after,) = results
    assert after["status"] == "ok" and after["verification"]["verified"] and after["dataset"]["generation"] == 2
    assert after["readback"]["checked"] == len(versions) and after["readback"]["failures"] == 0
    assert after["operations"]["read"]["status_counts"].get("NOT_FOUND", 0) > 0
    # one deleted key brought back (its loaded record): the next run says which
    spec = WorkloadSpec(name="delete")
    keynum = min(deleted)
    key = KeyNamer(spec).name(keynum)
    adapter = load_adapter(store)(store_options(store, RunConfig()))
    adapter.connect()
    try:
        adapter.insert(ds.namespace, key, Values(spec, 42).load_record(key))
    finally:
        adapter.close()
    code, results = cli(tmp_path, "back", "run", "--stores", store, "--workloads", "c", "--dataset", name,
                         "-p", "operationcount=200")
    assert code == 1 and results[0]["status"] == "invalid"
    assert f"{key}: found, but its delete was acknowledged before this was sent" in results[0]["reason"]


def _liars(tmp_path: Path) -> dict[str, str]:
    """The environment of a `storagebench` whose store ``keeps_deleted`` acknowledges deletes and deletes
    nothing (tests/misbehaving_adapters.py), installed as an adapter (a .dist-info with its entry point)."""
    dist = tmp_path / "site" / "sbtest_host_liars-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: sbtest-host-liars\nVersion: 0\n")
    (dist / "entry_points.txt").write_text("[storagebench.adapters]\n"
                                           "keeps_deleted = misbehaving_adapters:KeepsDeleted\n")
    env = dict(os.environ)  # the test's STORAGEBENCH_HOME and store paths
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "site"), str(TESTS),
                                         *filter(None, [os.environ.get("PYTHONPATH")])])
    env["STORAGEBENCH_KEEPS_DELETED_PATH"] = str(tmp_path / "home" / "keeps_deleted.db")
    return env


def test_a_host_whose_store_brings_back_or_loses_its_own_keys_is_caught(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With deletes, a host accepts NOT_FOUND and found for the other hosts' keys, but not for its own: a
    store that keeps what a host deleted, or loses a key the host owns and never deleted, is caught by that
    host (the run invalid, the key named), and the data set is left unusable."""
    names = _key_numbers(RECORDS + 2000)
    # keeps_deleted: each host's own deletes acknowledged, the records still found after
    env = _liars(tmp_path)
    load = subprocess.run([sys.executable, "-m", "storagebench.cli", "load", "--stores", "keeps_deleted",
                           "--workloads", "delete", "--dataset", "kept", "-p", f"recordcount={RECORDS}",
                           "--results-dir", str(tmp_path), "--run-id", "load-kept", "--no-report"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert load.returncode == 0, load.stdout + load.stderr
    for i, r in enumerate(_hosts(tmp_path / "kept", "keeps_deleted", "kept", 2, "delete", DELETES, env, [1, 1])):
        assert r["status"] == "invalid", r["reason"]
        failures = _failures(r)
        assert failures and all("found, but its delete was acknowledged before this was sent" in f
                                for f in failures), failures
        # every key named is one this host owns (the other host's kept keys were accepted: it may not delete)
        named = [names[f.split(": found, but")[0].rpartition(" ")[2]] for f in failures]
        assert all(n % 2 == i for n in named), (i, named)
    assert Dataset("keeps_deleted", "kept").read()["state"] == "unusable"
    # sqlite losing one loaded key of host 0 (gone from the store, never deleted by anyone)
    assert cli(tmp_path, "load-lost", "load", "--stores", "sqlite", "--workloads", "delete", "--dataset", "lost",
                "-p", f"recordcount={RECORDS}")[0] == 0
    ds = Dataset("sqlite", "lost")
    key = KeyNamer(WorkloadSpec(name="delete")).name(10)
    adapter = load_adapter("sqlite")(store_options("sqlite", RunConfig()))
    adapter.connect()
    try:
        adapter.delete(ds.namespace, key)
    finally:
        adapter.close()
    h0, h1 = _hosts(tmp_path / "lost", "sqlite", "lost", 2, "delete", DELETES, codes=[1, 0])
    assert h0["status"] == "invalid", h0["reason"]
    failures = _failures(h0)
    assert failures and all(f"{key}: NOT_FOUND, but the record was loaded" in f for f in failures), failures
    assert h1["status"] == "ok", h1["reason"]  # to host 1 it is host 0's key: deleted by its owner, maybe
    assert ds.read()["state"] == "unusable" and "host 0/2" in ds.read()["reason"]
    capsys.readouterr()
    assert main(["datasets", "join", "lost", str(tmp_path / "lost" / "h0"), str(tmp_path / "lost" / "h1")]) == 2
    assert "unusable" in capsys.readouterr().err


def test_host_bad_input_is_one_line_exit_2_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(tmp_path, "load", "load", "--stores", "sqlite", "--workloads", "a", "--dataset", "good",
                "-p", f"recordcount={RECORDS}")[0] == 0
    ds = Dataset("sqlite", "good")
    manifest = ds.manifest_path.read_text()
    cases = [
        (["--workloads", "c", "--host", "0/2"], "--host 0/2 shares a data set between hosts: give --dataset NAME"),
        (["--workloads", "c", "--dataset", "good", "--host", "2/2"], "--host 2/2: the host index must be in 0..1"),
        (["--workloads", "c", "--dataset", "good", "--host", "0/0"], "the number of hosts must be at least 1"),
        (["--workloads", "c", "--dataset", "good", "--host", "one/2"], "--host 'one/2': give I/N"),
        (["--workloads", "c", "--dataset", "good", "--host", "1"], "--host '1': give I/N"),
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
    assert cli(tmp_path, "h0", "run", "--stores", "sqlite", "--workloads", "c", "--dataset", "good",
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


def test_a_host_killed_midway_leaves_the_data_set_refused_with_what_to_do_and_the_other_host_valid(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two hosts on one data set; host 1's process group is killed (SIGKILL) in the middle of its run phase:
    host 0 still ends ok and verified; the data set then says which host stopped midway, `datasets join`
    and any later run refuse it in one line with exit 2 and what to do (drop and load again), and nothing
    in the data set's state is changed by the refusals."""
    import signal
    import time

    assert cli(tmp_path, "load", "load", "--stores", "sqlite", "--workloads", "a", "--dataset", "killed",
                "-p", f"recordcount={RECORDS}")[0] == 0
    ds = Dataset("sqlite", "killed")
    state_before = ds.state_path.read_bytes()
    argv = ["run", "--stores", "sqlite", "--workloads", "a", "--dataset", "killed", "--clients", "2",
            "-p", "operationcount=0", "-p", "maxexecutiontime=6", "--no-report", "--results-dir", str(tmp_path)]
    survivor = subprocess.Popen([sys.executable, "-m", "storagebench.cli", *argv, "--host", "0/2", "--run-id", "h0"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    victim = subprocess.Popen([sys.executable, "-m", "storagebench.cli", *argv, "--host", "1/2", "--run-id", "h1"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # host 1 has begun its part of the generation
        if ds.read().get("shared", {}).get("parts", {}).get("1", {}).get("state") == "running":
            break
        time.sleep(0.1)
    else:
        pytest.fail("host 1 never began its run")
    time.sleep(2.0)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=60)
    out = survivor.communicate(timeout=300)[0]
    assert survivor.returncode == 0, out
    (h0,) = load_results(tmp_path / "h0")
    assert h0["status"] == "ok" and h0["verification"]["verified"] and h0["readback"]["failures"] == 0
    assert ds.read()["state"] == "shared"
    capsys.readouterr()
    assert main(["datasets", "list"]) == 0
    listed = capsys.readouterr().out
    assert "(0: done; 1: stopped midway): its keys' state is unknown: `storagebench datasets drop killed " \
           "--stores sqlite` then `storagebench load`" in listed, listed
    manifest = ds.manifest_path.read_text()
    for argv2 in (["datasets", "join", "killed", str(tmp_path / "h0"), str(tmp_path / "h1")],
                  ["run", "--stores", "sqlite", "--workloads", "c", "--dataset", "killed", "--results-dir",
                   str(tmp_path / "later"), "--no-report"],
                  ["run", "--stores", "sqlite", "--workloads", "c", "--dataset", "killed", "--host", "1/2",
                   "--results-dir", str(tmp_path / "later"), "--no-report"]):
        code = main(argv2)
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1, (argv2, err)
        assert "host(s) 1 " in err[0] and "stopped midway" in err[0], (argv2, err)
        assert "`storagebench datasets drop killed --stores sqlite` then `storagebench load`" in err[0], (argv2, err)
    assert ds.manifest_path.read_text() == manifest and ds.state_path.read_bytes() == state_before
    assert not (tmp_path / "later").exists()
    # what the line says to do works: dropped, loaded again, run on
    assert main(["datasets", "drop", "killed", "--stores", "sqlite"]) == 0
    assert cli(tmp_path, "again", "load", "--stores", "sqlite", "--workloads", "a", "--dataset", "killed",
                "-p", f"recordcount={RECORDS}")[0] == 0
    assert cli(tmp_path, "after", "run", "--stores", "sqlite", "--workloads", "a", "--dataset", "killed",
                "-p", "operationcount=500")[0] == 0
