"""Hostile but fair input: every case gives one line on stderr and exit 2, with nothing created; plus
property-based fuzzing of workload files and configs (Hypothesis, a few seconds).  Full disks, FIFOs, alias
bombs and the other cases of issue 31 are rows of tests/test_hostile_cases.py."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storagebench.workloads import spec as wspec

from storagebench import config as cfg
from storagebench.cli import main
from storagebench.errors import UsageError

pytestmark = pytest.mark.usefixtures("isolated_home")

SMALL = ["-p", "recordcount=20", "-p", "operationcount=20"]


def refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Runs `storagebench run ARGS`; asserts one line on stderr, exit 2 and no run folder; returns the line."""
    capsys.readouterr()
    results = tmp_path / "results"
    code = main(["run", "--stores", "sqlite", "--no-report", *SMALL, *args] +
                ([] if "--results-dir" in args else ["--results-dir", str(results)]))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("storagebench: error: "), err
    assert not results.exists() or not any(results.iterdir()), "nothing created"
    return err[0]


@pytest.mark.parametrize(("content", "why"), [
    (b"\xff\xfe\x00\x01\x02binary", "not UTF-8"),
    ("name: x\ndescription: caf\xe9\n".encode("latin-1"), "not UTF-8"),
    ("name: x\nrecordcount: 5\n".encode("utf-16"), "not UTF-8"),
    (b"a: " + b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
    (b"a: " + b"[" * 40 + b"]" * 40, "nested deeper"),
])
@pytest.mark.parametrize("flag", ["-P", "--config"])
def test_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, why: str,
                          flag: str) -> None:
    path = tmp_path / "input.yaml"
    path.write_bytes(content)
    extra = ["--workloads", "c"] if flag == "--config" else []
    assert why in refused(tmp_path, capsys, flag, str(path), *extra)


def test_dev_zero_stops_at_the_size_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "not a regular file (a character device)" in refused(tmp_path, capsys, "-P", "/dev/zero")


def test_huge_description_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("name: big\nreadproportion: 1\nupdateproportion: 0\ndescription: " + "x" * 50_000 + "\n")
    assert "description" in refused(tmp_path, capsys, "-P", str(path))


@pytest.mark.parametrize(("args", "why"), [
    (["--config", "PROPS5"], "properties must be a mapping"),
    (["--stores", ""], "--stores is empty"),
    (["--workloads", ""], "--workloads is empty"),
    (["--workloads", "c", "-p", "recordcount=true"], "recordcount must be a number, not true"),
    (["--workloads", "c", "-p", "maxexecutiontime=inf"], "maxexecutiontime must be a finite number"),
    (["--workloads", "c", "-p", "recordcount=1e23"], "recordcount"),
    (["--workloads", "c", "-p", "operationcount=1000000000000000"], "operationcount"),
    (["--workloads", "a", "-p", "readproportion=1", "-p", "updateproportion=1", "-p", "scanproportion=0.3"],
     "sum to 2.3"),
    (["--workloads", "c", "--config", "UNKNOWN_OPTIONS"], "options given for unknown store 'nosuchstore'"),
    (["--workloads", "c", "--run-id", "r" * 300], "run_id"),
])
def test_bad_values(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], why: str) -> None:
    (tmp_path / "props5.yaml").write_text("properties: 5\n")
    (tmp_path / "unknown.yaml").write_text(json.dumps({"options": {"nosuchstore": {"a": 1}}}))
    args = [str(tmp_path / "props5.yaml") if a == "PROPS5" else str(tmp_path / "unknown.yaml")
            if a == "UNKNOWN_OPTIONS" else a for a in args]
    assert why in refused(tmp_path, capsys, *args)


def test_results_dir_that_is_a_file_or_under_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for target in (a_file, a_file / "below"):
        line = refused(tmp_path, capsys, "--workloads", "c", "--results-dir", str(target))
        assert "cannot create run folder" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_results_dir_without_write_permission(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    assert "Permission denied" in refused(tmp_path, capsys, "--workloads", "c", "--results-dir", str(locked))


# -- property-based: whatever the file says, the answer is a workload or one UsageError ---------------
FIELDS = sorted(wspec.WorkloadSpec.model_fields)
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**25, 10**25), st.floats(allow_nan=True),
                   st.text(max_size=30), st.lists(st.integers(), max_size=3),
                   st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
KEYS = st.one_of(st.sampled_from(FIELDS), st.text(max_size=12))
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.dictionaries(KEYS, VALUES, max_size=8))
def test_fuzzed_workload_properties(data: dict[str, Any]) -> None:
    try:
        spec = wspec.build({"name": "fuzz", **data}, "fuzz")
    except UsageError:
        return
    assert spec.recordcount <= wspec.MAX_COUNT and sum(spec.proportions().values()) <= 1 + 1e-9


@FUZZ
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_fuzzed_workload_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(content)
    try:
        wspec.load_file(path)
    except UsageError:
        pass


CONFIG_KEYS = st.one_of(st.sampled_from(sorted(cfg.RunConfig.model_fields)), st.text(max_size=10))


@FUZZ
@given(st.dictionaries(CONFIG_KEYS, VALUES | st.dictionaries(st.sampled_from(["sqlite", "x"]), VALUES,
                                                              max_size=2), max_size=6))
def test_fuzzed_configs(tmp_path: Path, data: dict[str, Any]) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(json.dumps(data, default=str))
    try:
        cfg.build_config(cfg.load_config_file(path), {})
    except UsageError:
        pass


def test_env_options_of_a_store_leave_a_longer_named_store_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # a contributor's `sqlite_fast` next to `sqlite`: STORAGEBENCH_SQLITE_FAST_PATH is not sqlite's "fast_path"
    monkeypatch.setattr(cfg, "available", lambda: {"sqlite": "x:A", "sqlite_fast": "y:B"})
    env = {"STORAGEBENCH_SQLITE_PATH": "/a.db", "STORAGEBENCH_SQLITE_FAST_PATH": "/b.db"}
    assert cfg.env_options("sqlite", env) == {"path": "/a.db"}
    assert cfg.env_options("sqlite_fast", env) == {"path": "/b.db"}
