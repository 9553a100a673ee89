"""The nightly pipeline end to end on embedded stores: planted regression caught, identical night quiet.

Four synthetic nights of scripts/nightly.sh (sqlite, plus the null adapter as a control; the quick
profile: one insert per commit in the load): n1 and n2 with SQLite ``synchronous=OFF`` (identical: no
alarm), n3 with ``synchronous=FULL`` (every insert waits for an fsync: the planted regression, which the
comparison must flag on sqlite and on nothing else), n4 FULL again (no alarm against n3; the published
history shows a change point at n3 that held).  The minimum effect is 100 % and alpha 0.005 (5 against 5
must separate completely): these are tiny runs on a shared CI machine; the planted effect is ~10x.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_nightly_workflow_is_a_valid_github_workflow() -> None:
    workflow = ROOT / ".github" / "workflows" / "nightly.yml"
    done = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                           str(workflow)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    data = yaml.safe_load(workflow.read_text())
    triggers = data[True]  # YAML 1.1 reads the key `on` as True
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    steps = data["jobs"]["nightly"]["steps"]
    uses = {s.get("uses", "").split("@")[0] for s in steps}
    assert {"actions/cache", "actions/upload-pages-artifact", "actions/deploy-pages"} <= uses
    assert any("scripts/nightly.sh" in s.get("run", "") for s in steps)
    assert any("GITHUB_STEP_SUMMARY" in s.get("run", "") for s in steps)


def test_detect_change_point_outlier_and_pending() -> None:
    from storagebench.report.publish import detect

    def pts(values: list[float]) -> list[dict[str, object]]:
        return [{"night": f"n{i}", "night_started": "", "median": v, "low": v, "high": v}
                for i, v in enumerate(values)]

    # a spike that reverts is an outlier; a step that holds is one change point, at its first night
    events = detect(pts([100, 101, 99, 300, 100, 100, 200, 201, 199]), higher_is_better=False, min_effect=0.05)
    assert [(e.kind, e.night, e.harmful) for e in events] == [("outlier", "n3", True), ("change", "n6", True)]
    # the last night alone deviating is pending, not a change; throughput falling is harmful
    events = detect(pts([100, 100, 100, 50]), higher_is_better=True, min_effect=0.05)
    assert [(e.kind, e.harmful) for e in events] == [("pending", True)]
    assert detect(pts([100, 103, 98, 102]), higher_is_better=True, min_effect=0.05) == []


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("nightly")
    statuses = {}
    for night, synchronous in (("n1", "OFF"), ("n2", "OFF"), ("n3", "FULL"), ("n4", "FULL")):
        env = {**os.environ, "SB": str(BIN / "storagebench"), "PY": sys.executable,
               "NIGHTS_DIR": str(base / "nights"), "SITE": str(base / "site"), "NIGHT": night,
               "PROFILE": "quick", "STORES": "sqlite,null", "WORKLOADS": "a", "REPEATS": "5", "RECORDS": "100",
               "OPERATIONS": "300",
               "MIN_EFFECT": "1.0", "ALPHA": "0.005", "BENCHMARK_MAX_TIME": "0.01",
               "STORAGEBENCH_SQLITE_PATH": str(base / "sqlite.db"), "STORAGEBENCH_SQLITE_SYNCHRONOUS": synchronous,
               "HARNESS_BENCHMARKS": "1" if night in ("n1", "n4") else "0"}
        done = subprocess.run(["bash", str(ROOT / "scripts" / "nightly.sh")], env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode in (0, 1), done.stderr[-3000:]
        statuses[night] = done.returncode
    return {"base": base, "statuses": statuses}


def _regressions(night_dir: Path) -> list[tuple[str, str]]:
    changes = json.loads((night_dir / "compare.json").read_text())["changes"]
    return sorted({(c["store"], c["metric"]) for c in changes if c["verdict"] == "regression"})


def test_planted_regression_is_flagged_and_nothing_else(nights: dict[str, object]) -> None:
    base, statuses = Path(str(nights["base"])), nights["statuses"]
    assert statuses == {"n1": 0, "n2": 0, "n3": 1, "n4": 0}
    assert _regressions(base / "nights" / "n2") == []  # the identical night: no alarm
    flagged = _regressions(base / "nights" / "n3")
    assert ("sqlite", "load_time") in flagged and {s for s, _ in flagged} == {"sqlite"}
    assert _regressions(base / "nights" / "n4") == []
    assert "| regression | sqlite | a | load_time |" in (base / "nights" / "n3" / "compare.md").read_text()


def test_published_site_has_history_change_point_feed_and_harness_health(nights: dict[str, object]) -> None:
    site = Path(str(nights["base"])) / "site"
    held = json.loads((site / "regressions.json").read_text())["regressions"]
    changes = {(r["night"], r["store"], r["metric"]) for r in held if r["kind"] == "change"}
    # FULL makes every commit wait for an fsync: the load, and (updates write) the run phase's p99 too
    assert ("n3", "sqlite", "load_time") in changes and {(n, s) for n, s, _ in changes} == {("n3", "sqlite")}
    assert "sqlite / a / load_time" in (site / "feed.xml").read_text()
    for name in ("index.html", "latest/report.html", "harness.html", "history.parquet", "plotly.min.js"):
        assert (site / name).is_file(), name
    history_pages = list(site.glob("history-*.html"))
    assert len(history_pages) == 1  # one machine fingerprint
    # size budget: a history page embeds summaries, not raw results (plotly.js is one shared file)
    assert history_pages[0].stat().st_size < 200_000
    import pandas as pd

    history = pd.read_parquet(site / "history.parquet")
    assert set(history["night"]) == {"n1", "n2", "n3", "n4"}
    assert "test_timing_proxy" in set(history[history["store"] == "harness"]["workload"])
