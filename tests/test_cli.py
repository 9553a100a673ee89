"""The command line as a user meets it: a full run, YCSB files, and every kind of bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from storagebench.cli import main
from storagebench.results.files import load_results

pytestmark = pytest.mark.usefixtures("isolated_home")

SMALL = ["-p", "recordcount=60", "-p", "operationcount=80"]


def run(tmp_path: Path, *args: str) -> int:
    return main(["run", "--results-dir", str(tmp_path / "results"), *args])


def test_run_writes_results_and_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "--stores", "sqlite,duckdb,localdir,null", "--workloads", "a,e,query,graph",
               "--run-id", "r1", *SMALL) == 0
    report = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert report == (tmp_path / "results" / "r1" / "report.html").resolve()
    results = load_results(tmp_path / "results" / "r1")
    got = {(r["store"], r["workload"], r["phase"]) for r in results}
    assert got == {(s, w, p) for s in ("sqlite", "duckdb", "localdir", "null") for w in ("a", "e", "query", "graph")
                   for p in ("load", "run")}
    for r in results:
        assert r["status"] == "ok", r
        assert r["totals"]["failed"] == 0, r["errors"]  # every read, scan and traversal verified
        if r["phase"] == "run":
            assert r["totals"]["operations"] == 80
    page = report.read_text()
    for name in ("sqlite", "duckdb", "localdir", "null", "Workload a", "Workload e", "Workload query"):
        assert name in page
    # nothing fetched, no chart library: the page opens offline from file:// (charts are inline SVG)
    assert "<script src" not in page and "<link" not in page and "plotly" not in page


def test_ycsb_properties_workload(tmp_path: Path) -> None:
    props = tmp_path / "workloadc"
    props.write_text("recordcount=1000\noperationcount=1000\nworkload=site.ycsb.workloads.CoreWorkload\n"
                     "readproportion=1\nupdateproportion=0\nrequestdistribution=zipfian\n")
    assert run(tmp_path, "--stores", "sqlite", "-P", str(props), "--run-id", "y", "--no-report",
               "-p", "recordcount=50", "-p", "operationcount=70") == 0
    (result,) = [r for r in load_results(tmp_path / "results" / "y") if r["phase"] == "run"]
    assert result["workload"] == "c" and result["config"]["workload"]["recordcount"] == 50
    assert result["operations"]["read"]["status_counts"] == {"OK": 70}


@pytest.mark.parametrize(("args", "message"), [
    (["--stores", "nosuchdb"], "unknown adapter 'nosuchdb'"),
    (["--workloads", "zz"], "unknown workload 'zz'"),
    (["-p", "recordcount=-5"], "recordcount"),
    (["-p", "bogus=1"], "bogus"),
    (["--threads", "0"], "threads"),
    (["--stores", "sqlite", "--processes", "2", "--stores", "duckdb"], "cannot be used from several processes"),
    (["--clients", "2", "--threads", "2"], "either clients"),
    (["--clients", "0"], "clients"),
])
def test_bad_input_one_line_exit_2_nothing_created(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   args: list[str], message: str) -> None:
    assert run(tmp_path, *args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "results").exists()


def test_malformed_workload_and_config_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("readproportion: [1,\n")
    assert run(tmp_path, "-P", str(bad_yaml)) == 2
    assert "not valid YAML" in capsys.readouterr().err
    bad_cfg = tmp_path / "cfg.toml"
    bad_cfg.write_text("threads = \n")
    assert run(tmp_path, "--config", str(bad_cfg)) == 2
    assert "malformed" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


def test_unreachable_store_fails_before_anything_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where the store's directory should be: cannot connect
    monkeypatch.setenv("STORAGEBENCH_LOCALDIR_ROOT", str(blocker / "sub"))
    assert run(tmp_path, "--stores", "sqlite,localdir") == 2
    err = capsys.readouterr().err
    assert "cannot reach store 'localdir'" in err and "services up" not in err  # no such service to start
    assert not (tmp_path / "results").exists()


def test_existing_run_is_never_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "--stores", "null", "--workloads", "c", "--run-id", "same", *SMALL) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "results" / "same").iterdir()}
    assert run(tmp_path, "--stores", "null", "--workloads", "c", "--run-id", "same", *SMALL) == 2
    assert "already exists" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in (tmp_path / "results" / "same").iterdir()} == before


def test_secrets_from_environment_are_redacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import SecretStr
    from storagebench.adapters.base import AdapterOptions

    from storagebench.config import redacted_options

    class Opts(AdapterOptions):
        password: SecretStr = SecretStr("")

    assert "hunter2" not in json.dumps(redacted_options(Opts(password=SecretStr("hunter2"))))


def test_list_shows_adapters_and_workloads(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("null", "sqlite", "duckdb", "localdir", "query", "delete"):
        assert name in out


def test_report_of_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "no such run folder" in capsys.readouterr().err


def test_help_explains() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "--help"])
    assert exc.value.code == 0
    assert os.environ.get("STORAGEBENCH_HOME")


def test_duration_limit_and_target_rate(tmp_path: Path) -> None:
    """maxexecutiontime stops the run; target ops/s paces it and records intended latency too."""
    assert run(tmp_path, "--stores", "null", "--workloads", "c", "--run-id", "t", "--no-report",
               "-p", "recordcount=10", "-p", "operationcount=100000000", "-p", "maxexecutiontime=1.5",
               "-p", "target=400") == 0
    (r,) = [r for r in load_results(tmp_path / "results" / "t") if r["phase"] == "run"]
    assert 1.2 < r["duration_s"] < 3.0
    assert 400 <= r["totals"]["operations"] <= 700  # ~1.5 s at 400 ops/s
    assert "intended_latency" in r["operations"]["read"]


def test_processes_and_threads_merge_exactly(tmp_path: Path) -> None:
    assert run(tmp_path, "--stores", "sqlite", "--workloads", "a", "--run-id", "mp", "--no-report",
               "--processes", "2", "--threads", "2", "-p", "recordcount=200", "-p", "operationcount=1001") == 0
    results = {r["phase"]: r for r in load_results(tmp_path / "results" / "mp")}
    assert results["load"]["totals"]["operations"] == 200
    run_ = results["run"]
    assert run_["status"] == "ok" and run_["totals"]["failed"] == 0
    assert run_["totals"]["operations"] == 1001
    assert sum(sum(s.values()) for s in (o["status_counts"] for o in run_["operations"].values())) == 1001


def test_durability_profile_is_recorded_in_every_result_file(tmp_path: Path) -> None:
    """--durability reaches every store's options and every result file says what it meant there
    (an adapter that cannot tell says so: honoured None, not a guess)."""
    assert run(tmp_path, "--stores", "sqlite,null", "--workloads", "a", "--run-id", "dur",
               "--durability", "fast", *SMALL) == 0
    results = load_results(tmp_path / "results" / "dur")
    assert len(results) == 4
    for r in results:
        assert r["durability"]["profile"] == "fast"
        assert r["config"]["store_options"]["durability"] == "fast"
        assert r["durability"]["honoured"] in (True, False, None)
        assert "fsync" in r["durability"]["caveat"]
    page = (tmp_path / "results" / "dur" / "report.html").read_text()
    assert 'id="stores"' in page and "what an acknowledged write meant" in page


def test_report_says_ferretdb_is_not_mongodb() -> None:
    from storagebench.report.html import store_facts

    ferret = {"store": "mongodb", "server": {"engine": "FerretDB", "label": "FerretDB 1.24.2"},
              "durability": {"profile": "durable", "honoured": True, "observed": True,
                             "settings": {"synchronous_commit": "on"}, "note": "n", "caveat": "c"}}
    s3 = {"store": "s3", "server": {"engine": "versitygw"},
          "durability": {"profile": "durable", "honoured": False, "observed": False, "settings": {}}}
    facts = {f["store"]: f for f in store_facts([ferret, s3])}
    assert facts["mongodb"]["ferretdb"] and facts["mongodb"]["settings"] == "synchronous_commit=on"
    assert facts["s3"]["honoured"] == "NO" and facts["s3"]["source"] == "as configured / documented"


def test_bad_durability_profile_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(tmp_path, "--stores", "sqlite", "--durability", "maybe")
    assert exit_info.value.code == 2
    assert not (tmp_path / "results").exists()


def test_clients_spread_over_processes_and_the_layout_is_recorded(tmp_path: Path) -> None:
    """--clients N: a process per client where the store allows it, threads where it does not."""
    assert run(tmp_path, "--stores", "sqlite,duckdb", "--workloads", "c", "--run-id", "cl", "--no-report",
               "--clients", "2", "-p", "recordcount=100", "-p", "operationcount=301") == 0
    runs = {r["store"]: r for r in load_results(tmp_path / "results" / "cl") if r["phase"] == "run"}
    assert runs["sqlite"]["config"]["client_layout"] == {
        "clients": 2, "processes": 2, "threads_per_process": [1, 1], "engine": "local", "clients_share": "threads"}
    assert runs["duckdb"]["config"]["client_layout"]["threads_per_process"] == [2]  # multiprocess=False
    for r in runs.values():
        assert r["status"] == "ok" and r["totals"]["operations"] == 301 and r["totals"]["failed"] == 0
