"""One decision rule for `compare` and `publish`, on nights made for the purpose (tests/synthetic_nights.py):
16 series per night; n2 has sqlite 1.8x slower (the planted regression); n3 is n1 on a machine whose
noise probe is 1.6x slower, with localdir 1.5x slower (and nothing else changed).  Plus the refusals of
issue 31: unrelated runs, an empty baseline, a corrupt result file, publish over nothing."""

from __future__ import annotations

import json
import re
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import synthetic_nights as sn  # tests/ is on sys.path (pytest's rootdir-relative import)
from storagebench.report.cells import find_results, samples_frame
from storagebench.report.compare import MachineChange, decide, series_of

from storagebench.cli import main


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("rule")
    template = sn.template(base)
    sn.night(template, base / "nights", "n1", 1)
    sn.night(template, base / "nights", "n2", 2, slower={"sqlite": 1.8})
    sn.night(template, base / "nights", "n3", 3, slower={"localdir": 1.5}, machine_slower=1.6)
    return base


@cache  # each pair once: reading 96 result files' histograms takes seconds on a busy machine
def _compare(base: Path, a: str, b: str, *extra: str) -> tuple[int, dict[str, Any]]:
    out = base / f"{a}-{b}.json"
    status = main(["compare", str(base / "nights" / a), str(base / "nights" / b), "--json", str(out),
                   "--markdown", str(base / f"{a}-{b}.md"), *extra])
    return status, json.loads(out.read_text())


def _flagged(changes: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(c["store"], c["workload"], c["metric"]) for c in changes if c["verdict"] in ("regression", "improvement")}


def test_planted_regression_among_16_series_survives_holm(nights: Path) -> None:
    status, data = _compare(nights, "n1", "n2", "--fail-on-regression")
    assert status == 1 and data["tested"] == 16
    regressions = {(c["store"], c["workload"], c["metric"]) for c in data["changes"] if c["verdict"] == "regression"}
    # sqlite 1.8x slower: throughput and p99 on both workloads; its load time too where it moved 10 ms or more
    assert {("sqlite", w, m) for w in sn.WORKLOADS for m in ("throughput", "p99")} <= regressions
    assert {s for s, _w, _m in regressions} == {"sqlite"}
    for c in data["changes"]:
        if c["metric"] == "load_time" and c["store"] == "sqlite":
            moved = (c["after"] - c["before"]) >= 0.010
            assert (c["verdict"] == "regression") == moved, c
    assert _flagged(data["changes"]) == regressions
    for c in data["changes"]:
        if c["verdict"] == "regression":  # corrected: 6 vs 6 separate completely (p 2/924), times up to 16
            assert c["p_value"] == pytest.approx(2 / 924) and c["p_value"] < c["p_adjusted"] <= 0.05
            assert c["coverage"] >= 0.95 and c["change_low"] <= c["change"] <= c["change_high"]
    md = (nights / "n1-n2.md").read_text()
    assert "| regression | sqlite | a | throughput |" in md and "ops/s" in md and not re.search(r"\de[+-]\d", md)
    assert "A: " in md and "n1/run" in md and "commit 01c0ffe" in md and "Holm over 16 series" in md


def test_night_that_differs_only_in_machine_noise_flags_nothing(nights: Path) -> None:
    status, data = _compare(nights, "n1", "n3", "--fail-on-regression")
    assert status == 0 and _flagged(data["changes"]) == set()
    assert data["machine"]["factor"] == pytest.approx(1.6, rel=0.01)
    localdir = [c for c in data["changes"] if c["store"] == "localdir" and c["metric"] != "footprint"]
    # nothing flagged: a change the machine's own change explains is inconclusive, or unchanged when the
    # whole interval happens to fall inside the floor (the synthetic nights' timings vary run to run)
    assert {c["verdict"] for c in localdir} <= {"inconclusive", "unchanged"}
    moved = [c for c in localdir if c["verdict"] == "inconclusive"]
    # the synthetic machine is 1.6x slower in CPU loop rate and memcpy rate alike: the floor names whichever
    # ratio comes out larger in floating point, and every inconclusive verdict cites that same probe
    assert data["machine"]["figure"] in {"cpu_loops_per_sec", "memory_copy_gb_per_sec"}
    assert moved and all("machine's own change" in c["why"] and data["machine"]["describe"] in c["why"]
                         for c in moved)
    # the test can fail: without the probes' floor the same figures are regressions of localdir, and of
    # nothing else (which of its metrics pass the test varies with the synthetic nights' timings)
    sides = [series_of(samples_frame(find_results([nights / "nights" / n]))) for n in ("n1", "n3")]
    blind = decide({k: (sides[0][k], sides[1][k]) for k in sides[0]}, MachineChange(), 0.05, 0.05)
    flagged = {(c.store, c.metric) for c in blind if c.verdict == "regression"}
    assert ("localdir", "throughput") in flagged and {s for s, _m in flagged} == {"localdir"}, flagged


def test_compare_and_publish_give_the_same_verdicts(nights: Path) -> None:
    site = nights / "site"
    assert main(["publish", *(str(nights / "nights" / n) for n in ("n1", "n2", "n3")), "-o", str(site)]) == 0
    history = pd.read_parquet(site / "history.parquet")
    for before, after in (("n1", "n2"), ("n2", "n3")):
        _status, data = _compare(nights, before, after, "--fail-on-regression")
        rows = history[history["night"] == after]
        published = {(r["store"], r["workload"], r["metric"]): (r["verdict"], r["p_adjusted"], r["floor"])
                     for _, r in rows.iterrows()}
        compared = {(c["store"], c["workload"], c["metric"]): (c["verdict"], c["p_adjusted"], c["floor"])
                    for c in data["changes"]}
        assert published == compared and set(rows["previous"]) == {before}
    listed = json.loads((site / "regressions.json").read_text())["regressions"]
    _status, data = _compare(nights, "n1", "n2", "--fail-on-regression")
    assert {(r["night"], r["store"], r["workload"], r["metric"]) for r in listed} == \
        {("n2", c["store"], c["workload"], c["metric"]) for c in data["changes"] if c["verdict"] == "regression"}
    assert {r["next_verdict"] for r in listed} == {"improvement"}  # n3 is n1's speed again
    assert "sqlite / a / throughput: -4" in (site / "feed.xml").read_text()


def _only(base: Path, name: str, store: str) -> Path:
    """A copy of night n1 holding one store's result files."""
    out = base / name / "run"
    out.mkdir(parents=True)
    for path in (base / "nights" / "n1" / "run").glob(f"{store}__*.json"):
        shutil.copy(path, out / path.name)
    return base / name


def test_refusals_no_answer_over_nothing(nights: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sqlite, localdir = _only(nights, "only-sqlite", "sqlite"), _only(nights, "only-localdir", "localdir")
    capsys.readouterr()
    assert main(["compare", str(sqlite), str(localdir), "--fail-on-regression"]) == 2
    assert "no result in A matches one in B (store, workload, phase)" in capsys.readouterr().err
    empty = nights / "empty"
    empty.mkdir()
    assert main(["compare", str(empty), str(nights / "nights" / "n1")]) == 2
    assert f"no result files in A ({empty})" in capsys.readouterr().err
    assert main(["compare", str(nights / "nights" / "n1"), str(nights / "missing")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    # a corrupt result file in the baseline: named, exit 1, the rest compared
    corrupt = nights / "corrupt"
    shutil.copytree(nights / "nights" / "n1", corrupt)
    bad = corrupt / "run" / "sqlite__a__run__r3.json"
    bad.write_text(bad.read_text()[:200])
    assert main(["compare", str(corrupt), str(nights / "nights" / "n1")]) == 1
    out = capsys.readouterr()
    assert str(bad) in out.err and "corrupt or truncated JSON" in out.err and "unchanged" in out.out
    # publish over a folder holding no runs: refused, nothing written
    site = nights / "empty-site"
    assert main(["publish", str(empty), "-o", str(site)]) == 2
    assert "nothing to publish" in capsys.readouterr().err and not site.exists()
