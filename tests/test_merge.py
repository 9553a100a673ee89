"""`storagebench merge`: two client hosts' runs of one workload, split with insertstart/insertcount (and
their own operationcount), merged into one result whose counts are the exact sums, whose histograms are
the exact HdrHistogram sums, and which the report shows with a per-host breakdown; unmergeable runs are
refused with one line and exit 2, nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from storagebench.report.cells import ok_latency
from storagebench.report.html import page_data

from storagebench.cli import main
from storagebench.measuring.measurement import decode
from storagebench.results.files import load_results

RECORDS = 600
#: (insertstart, insertcount, operationcount) of each host
SHARES = ((0, 300, 1200), (300, 300, 900))


def _run(results: Path, run_id: str, share: tuple[int, int, int], *extra: str) -> subprocess.Popen[bytes]:
    start, count, ops = share
    env = {**os.environ, "STORAGEBENCH_HOME": str(results.parent / "home")}
    argv = [sys.executable, "-m", "storagebench.cli", "run", "--stores", "null", "--workloads", "a",
            "--results-dir", str(results), "--run-id", run_id, "--no-report", "-p", f"recordcount={RECORDS}",
            "-p", f"insertstart={start}", "-p", f"insertcount={count}", "-p", f"operationcount={ops}",
            "-p", "target=400", *extra]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("merge") / "results"
    # both "hosts" at once, paced by the target, so their run phases overlap in time as real clients do
    procs = [_run(results, f"host{i}", share) for i, share in enumerate(SHARES)]
    for proc in procs:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
    return results


def _hist_counts(text: str) -> list[int]:
    return list(decode(text).counts)


def test_merge_is_exact_and_the_report_shows_it(two_hosts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = two_hosts / "merged"
    assert main(["merge", str(two_hosts / "host0"), str(two_hosts / "host1"), "-o", str(out)]) == 0
    inputs = [{r["phase"]: r for r in load_results(two_hosts / f"host{i}")} for i in range(2)]
    merged = {r["phase"]: r for r in load_results(out)}
    assert set(merged) == {"load", "run"}
    assert merged["load"]["totals"]["operations"] == RECORDS  # the two insert slices together
    for phase, m in merged.items():
        parts = [i[phase] for i in inputs]
        assert m["totals"]["operations"] == sum(p["totals"]["operations"] for p in parts)
        for op, stats in m["operations"].items():
            for status, n in stats["status_counts"].items():
                assert n == sum(p["operations"].get(op, {}).get("status_counts", {}).get(status, 0) for p in parts)
        for key, text in m["histograms"].items():  # histogram-exact: every bucket is the sum of the hosts'
            expected = [0] * len(_hist_counts(text))
            for p in parts:
                if key in p["histograms"]:
                    expected = [a + b for a, b in zip(expected, _hist_counts(p["histograms"][key]), strict=True)]
            assert _hist_counts(text) == expected, key
        hosts = m["merge"]["hosts"]
        assert [h["run_id"] for h in hosts] == ["host0", "host1"]
        assert [h["share"]["insertstart"] for h in hosts] == [s[0] for s in SHARES]
    run = merged["run"]
    assert run["totals"]["operations"] == sum(s[2] for s in SHARES)
    assert run["merge"]["window"]["overlap_s"] >= 1, "the two paced runs overlapped"
    # summed over the common window: about twice one host's paced 400 ops/s
    assert 500 < run["totals"]["ops_per_sec"] < 1000, run["totals"]

    data = page_data(load_results(out))
    (cell,) = [c for c in data["cells"] if c["phase"] == "run"]
    assert cell["throughput"] == pytest.approx(run["totals"].get("ok_ops_per_sec", run["totals"]["ops_per_sec"]))
    assert cell["p99"] == pytest.approx(ok_latency(run)["p99_us"])
    (shown,) = [m for m in data["merges"] if m["phase"] == "run"]
    assert [h["operations"] for h in shown["hosts"]] == [s[2] for s in SHARES]
    html = (out / "report.html").read_text()
    assert "Merged from several client hosts" in html and "host0" in html and "host1" in html
    assert str(out / "report.html") in capsys.readouterr().out


def _mutated(source: Path, target: Path, change: Any) -> Path:
    target.mkdir(parents=True)
    for path in source.glob("*__*__*.json"):
        data = json.loads(path.read_text())
        change(data)
        (target / path.name).write_text(json.dumps(data))
    return target


@pytest.mark.parametrize(("what", "change"), [
    ("different seeds", lambda d: d.update(seed=d["seed"] + 1)),
    ("different workloads", lambda d: d["config"]["workload"].update(readproportion=0.9)),
    ("different store configurations", lambda d: d["config"].update(store_options={"other": 1})),
])
def test_merge_refuses_with_the_reason(two_hosts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       what: str, change: Any) -> None:
    other = _mutated(two_hosts / "host1", tmp_path / "other", change)
    out = tmp_path / "merged"
    assert main(["merge", str(two_hosts / "host0"), str(other), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert what in err and len(err.splitlines()) == 1, err
    assert not out.exists()
