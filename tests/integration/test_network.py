"""Network profiles: every connection of a store's client goes through a Toxiproxy proxy with the profile's
latency and bandwidth; the result file records the profile and what it does not cover."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from storagebench.results.files import load_results
from storagebench.services.network import PROFILES
from storagebench.testing.engines import require_engine


def _run(tmp_path: Path, run_id: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "storagebench.cli", "run", "--results-dir", str(tmp_path),
                           "--run-id", run_id, "--no-report", "-p", "recordcount=500", "-p", "operationcount=1500",
                           *args], capture_output=True, text=True, timeout=600, check=False)


def test_cross_zone_adds_its_round_trip_to_postgres_reads(tmp_path: Path) -> None:
    require_engine("postgres")
    require_engine("toxiproxy")
    p50 = {}
    for profile in ("loopback", "cross-zone"):
        done = _run(tmp_path, profile, "--stores", "postgres", "--workloads", "c", "--network", profile)
        assert done.returncode == 0, done.stderr[-2000:]
        result = next(r for r in load_results(tmp_path / profile) if r["phase"] == "run")
        assert result["network"]["name"] == profile
        p50[profile] = result["operations"]["read"]["latency"]["p50_us"]
    added_us = PROFILES["cross-zone"].added_rtt_ms * 1000
    assert p50["cross-zone"] >= p50["loopback"] + added_us, p50
    network = next(r for r in load_results(tmp_path / "cross-zone"))["network"]
    assert network["added_rtt_ms"] == 2 and network["through"].startswith("toxiproxy")
    assert "127.0.0.1:" in network["covered"] and network["not_covered"] == ""


def test_a_store_whose_endpoints_are_unknown_is_refused_before_anything_runs(tmp_path: Path) -> None:
    require_engine("toxiproxy")
    done = _run(tmp_path, "x", "--stores", "sqlite", "--workloads", "c", "--network", "lan")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "cannot run under a network profile" in done.stderr
    assert not (tmp_path / "x").exists()


def test_kudu_says_what_the_profile_does_not_cover(tmp_path: Path) -> None:
    require_engine("kudu")
    require_engine("toxiproxy")
    done = _run(tmp_path, "k", "--stores", "kudu", "--workloads", "c", "--network", "lan")
    assert done.returncode == 0, done.stderr[-2000:]
    network = load_results(tmp_path / "k")[0]["network"]
    assert "tablet server" in network["not_covered"]


@pytest.mark.parametrize("bad", ["moon", "LAN"])
def test_unknown_profile_is_refused(tmp_path: Path, bad: str) -> None:
    done = _run(tmp_path, "u", "--network", bad)
    assert done.returncode == 2 and "--network" in done.stderr
