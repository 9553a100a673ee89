"""The nightly pipeline end to end on embedded stores: planted regression caught, identical night quiet.

Four synthetic nights of scripts/nightly.sh on two healthy SQLite stores whose speed the test sets
(tests/misbehaving_adapters.py: ``paced`` sleeps before every insert, read and update; ``paced_control``
always 1 ms, the control).  n1 and n2: paced 1 ms (identical: no alarm); n3: paced 10 ms (the planted
regression, ~9x, which the comparison must flag on paced and on nothing else); n4: 10 ms again (no
alarm against n3; the published site flags n3 and says n4 did not revert it).  The minimum effect is
300 % and alpha 0.05 over the night's series with Holm's correction (6 against 6 must separate
completely).  The speed is a sleep, not SQLite's own work: CI saw two identical nights of plain
SQLite 4 ms -> 16 ms apart (synchronous=OFF) and two FULL nights flagged against each other, while a
sleep moves a few percent on a busy machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_misbehaving import register  # tests/ is on sys.path (pytest's rootdir-relative import)

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


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("nightly")
    statuses = {}
    installed = register(base)
    for night, pause_ms in (("n1", 1), ("n2", 1), ("n3", 10), ("n4", 10)):
        env = {**installed, "SB": str(BIN / "storagebench"), "PY": sys.executable,
               "NIGHTS_DIR": str(base / "nights"), "SITE": str(base / "site"), "NIGHT": night,
               "PROFILE": "quick", "STORES": "paced,paced_control", "WORKLOADS": "a", "REPEATS": "6",
               "RECORDS": "50", "OPERATIONS": "150",
               "MIN_EFFECT": "3.0", "ALPHA": "0.05", "BENCHMARK_MAX_TIME": "0.01",
               "STORAGEBENCH_PACED_PAUSE_MS": str(pause_ms), "STORAGEBENCH_PACED_CONTROL_PAUSE_MS": "1",
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
    tables = "\n".join(f"{n}:\n{(base / 'nights' / str(n) / 'compare.md').read_text()}" for n in ("n2", "n3", "n4"))
    assert statuses == {"n1": 0, "n2": 0, "n3": 1, "n4": 0}, tables
    assert _regressions(base / "nights" / "n2") == []  # the identical night: no alarm
    flagged = _regressions(base / "nights" / "n3")
    assert {"load_time", "throughput"} <= {m for _, m in flagged} and {s for s, _ in flagged} == {"paced"}
    assert _regressions(base / "nights" / "n4") == []
    assert "| regression | paced | a | load_time |" in (base / "nights" / "n3" / "compare.md").read_text()


def test_published_site_has_history_change_point_feed_and_harness_health(nights: dict[str, object]) -> None:
    site = Path(str(nights["base"])) / "site"
    listed = json.loads((site / "regressions.json").read_text())["regressions"]
    flagged = {(r["night"], r["store"], r["metric"]) for r in listed}
    # every operation waits 10 ms instead of 1: the load, the run phase's p99 and its throughput
    assert ("n3", "paced", "load_time") in flagged and {(n, s) for n, s, _ in flagged} == {("n3", "paced")}
    assert {r["next_verdict"] for r in listed} <= {"unchanged", "inconclusive"}  # n4 stayed at 10 ms
    # publish's verdicts are compare's (scripts/nightly.sh ran compare n2 -> n3)
    assert {(s, m) for _, s, m in flagged} == set(_regressions(Path(str(nights["base"])) / "nights" / "n3"))
    assert "paced / a / load_time" in (site / "feed.xml").read_text()
    for name in ("index.html", "nights/n4/report.html", "harness.html", "history.parquet", "plotly.min.js"):
        assert (site / name).is_file(), name
    history_pages = list(site.glob("history-*.html"))
    assert len(history_pages) == 1  # one machine fingerprint
    # size budget: a history page embeds summaries, not raw results (plotly.js is one shared file)
    assert history_pages[0].stat().st_size < 200_000
    import pandas as pd

    history = pd.read_parquet(site / "history.parquet")
    assert set(history["night"]) == {"n1", "n2", "n3", "n4"}
    assert "test_timing_proxy" in set(history[history["store"] == "harness"]["workload"])


def test_data_set_nights_load_once_run_every_night_and_publish_apart(isolated_home: Path, tmp_path: Path) -> None:
    """DATASET_STORES: the first night loads the data set, the next runs on it without loading (its
    generation grows), a night killed midway makes the next one drop and load again; the data set's
    nights are compared and published apart from the profile's (another data size, never one series)."""
    import os

    base = tmp_path / "nightly"
    env = {**os.environ, "SB": str(BIN / "storagebench"), "PY": sys.executable,
           "NIGHTS_DIR": str(base / "nights"), "SITE": str(base / "site"), "PROFILE": "quick",
           "STORES": "sqlite", "WORKLOADS": "c", "REPEATS": "1", "RECORDS": "50", "OPERATIONS": "100",
           "HARNESS_BENCHMARKS": "0", "DATASET_STORES": "sqlite", "DATASET_RECORDS": "400",
           "DATASET_PROCESSES": "1", "DATASET_CLIENTS": "1", "DATASET_SECONDS": "1", "DATASET_REPEATS": "2"}
    manifest = isolated_home / "datasets" / "sqlite" / "nightly" / "dataset.json"

    def night(name: str) -> str:
        done = subprocess.run(["bash", str(ROOT / "scripts" / "nightly.sh")], env={**env, "NIGHT": name},
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stderr

    def generations(name: str) -> dict[str, list[int]]:
        found: dict[str, list[int]] = {}
        for path in (base / "nights-dataset" / name / "run").glob("*__run*.json"):
            result = json.loads(path.read_text())
            assert result["status"] == "ok" and result["verification"]["verified"], path
            found.setdefault(result["workload"], []).append(result["dataset"]["generation"])
        assert sorted(found) == ["a", "c"] and all(len(g) == 2 for g in found.values()), found
        return found

    assert "load data set nightly on sqlite: 400 records" in night("n1")
    loaded_at = json.loads(manifest.read_text())["loaded_at"]
    assert _every_generation(generations("n1")) == [1, 2, 3, 4]  # c and a, two repeats each
    said = night("n2")
    assert "data set nightly on sqlite kept" in said and "load data set" not in said
    assert json.loads(manifest.read_text())["loaded_at"] == loaded_at  # no second load
    assert _every_generation(generations("n2")) == [5, 6, 7, 8]
    assert (base / "nights-dataset" / "n2" / "compare.json").is_file()
    # a night killed while it ran on the data set: the next night drops it and loads it again
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "state": "running", "pid": 2**22 + 12345}))
    said = night("n3")
    assert "not usable, dropped and loaded again" in said and "load data set nightly on sqlite" in said
    assert _every_generation(generations("n3")) == [1, 2, 3, 4]
    import pandas as pd

    apart = pd.read_parquet(base / "site" / "dataset" / "history.parquet")
    main = pd.read_parquet(base / "site" / "history.parquet")
    assert set(apart["night"]) == set(main["night"]) == {"n1", "n2", "n3"}
    assert set(apart["workload"]) == {"a", "c"} and set(main["workload"]) == {"c"}  # never one series
    index = (base / "site" / "dataset" / "index.html").read_text()
    # the reload is another load: said apart
    assert ("sqlite: nightly, 400 records loaded by run n1-sqlite, generations 1\u20138 in these nights; "
            "sqlite: nightly, 400 records loaded by run n3-sqlite, generations 1\u20134 in these nights.") in index
    assert 'id="datasets"' not in (base / "site" / "index.html").read_text()


def _every_generation(found: dict[str, list[int]]) -> list[int]:
    return sorted(g for gens in found.values() for g in gens)
