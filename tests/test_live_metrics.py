"""``--metrics-port``: the live metrics endpoint, scraped over HTTP while a real SQLite run goes."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from storagebench.workloads.spec import resolve

from storagebench.cli import main
from storagebench.measuring.keys import keyed
from storagebench.running import live
from storagebench.running.phase import run_phase
from storagebench.running.runner import PhasePlan

pytestmark = pytest.mark.usefixtures("isolated_home")

LABELS = {"store", "workload", "phase", "operation"}


def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {family.name: [(dict(s.labels), s.value) for s in family.samples]
            for family in text_string_to_metric_families(text)}


def run_ok(metrics: dict[str, list[tuple[dict[str, str], float]]], op: str) -> float:
    return sum(v for labels, v in metrics.get("storagebench_operations", [])
               if labels["phase"] == "run" and labels["operation"] == op and labels["status"] == "ok")


def test_live_metrics_while_a_sqlite_run_goes(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "storagebench.cli", "run", "--stores", "sqlite", "--workloads", "a", "--no-report",
         "-p", "recordcount=2000", "-p", "operationcount=0", "-p", "maxexecutiontime=5",
         "--results-dir", str(tmp_path / "r"), "--metrics-port", "0"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        assert proc.stderr is not None
        first_line = proc.stderr.readline()
        found = re.search(r"live metrics on http://127\.0\.0\.1:(\d+)/metrics", first_line)
        assert found, first_line
        port = int(found.group(1))
        deadline = time.monotonic() + 30
        first = scrape(port)
        while run_ok(first, "read") == 0 and time.monotonic() < deadline:  # the load, then the run's first report
            time.sleep(0.2)
            first = scrape(port)
        time.sleep(1.5)
        second = scrape(port)
        assert proc.poll() is None, "the run ended before the second scrape"
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == 0
    for op in ("read", "update"):
        assert 0 < run_ok(first, op) < run_ok(second, op)
    samples = second["storagebench_operations"]
    assert {labels["status"] for labels, _ in samples} == {"ok", "failed"}
    assert {(labels["phase"], labels["operation"]) for labels, _ in samples} >= {
        ("load", "insert"), ("run", "read"), ("run", "update")}
    for name in ("storagebench_throughput_ops_per_second", "storagebench_interval_latency_seconds",
                 "storagebench_latency_seconds"):
        run = [(labels, v) for labels, v in second[name] if labels["phase"] == "run"]
        assert run and all(v > 0 for _, v in run), name
        assert all(set(labels) - {"quantile"} == LABELS for labels, _ in run), name
    for name in ("storagebench_interval_latency_seconds", "storagebench_latency_seconds"):
        quantiles = {labels["quantile"] for labels, _ in second[name]}
        assert quantiles == {"0.5", "0.95", "0.99"}
        assert all(v < 1.0 for _, v in second[name])  # seconds, not nanoseconds: SQLite answers in microseconds
    (elapsed,) = [v for labels, v in second["storagebench_phase_elapsed_seconds"] if labels["phase"] == "run"]
    assert 1.5 < elapsed < 10
    # the server is closed with the command: nothing answers, and the port can be listened on again (the
    # scrapes' connections may linger in TIME_WAIT, which SO_REUSEADDR allows, as the server itself does)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()


def _refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], port: int) -> str:
    results = tmp_path / "r"
    code = main(["run", "--stores", "sqlite", "--workloads", "a", "-p", "recordcount=100", "--no-report",
                 "--results-dir", str(results), "--metrics-port", str(port)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert not results.exists()
    return err


def test_without_prometheus_client_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # `import prometheus_client` raises ImportError
    assert "needs prometheus_client" in _refused(tmp_path, capsys, 0)


def test_port_in_use_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert f"cannot listen on 127.0.0.1:{port}" in _refused(tmp_path, capsys, port)


@pytest.mark.parametrize("processes", [1, 2])
def test_live_totals_equal_the_result_files(processes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every measured operation reaches the endpoint exactly once, from threads and from processes."""
    metrics = live.LiveMetrics()
    monkeypatch.setattr(live, "ACTIVE", metrics)
    spec = resolve("a", {"recordcount": 100, "operationcount": 20_000})
    outcome = run_phase(PhasePlan("null", {}, spec, "run", "sbench_live", 1, threads=2, processes=processes))
    expected: dict[tuple[str, str], int] = {}
    for key, hist in keyed(outcome.merged["histograms"]):
        status = "ok" if key.succeeded else "failed"
        expected[(key.op, status)] = expected.get((key.op, status), 0) + hist.get_total_count()
    (ops,) = [f for f in metrics.collect() if f.name == "storagebench_operations"]
    shown = {(s.labels["operation"], s.labels["status"]): int(s.value) for s in ops.samples if s.value}
    assert shown == expected and sum(shown.values()) == 20_000
    assert {s.labels["store"] for s in ops.samples} == {"null"}
