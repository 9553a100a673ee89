"""The typed result model, its published JSON Schema, and the standard outputs derived from it (tidy table,
HdrHistogram logs), on the result files of a real run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd
import pytest
from hdrh.log import HistogramLogReader

from storagebench.cli import main
from storagebench.measuring.keys import HistKey
from storagebench.measuring.measurement import decode, new_histogram, summarize
from storagebench.results.files import check_result, load_results
from storagebench.results.model import SCHEMA_FILE, ok_histogram, schema_text

pytestmark = pytest.mark.usefixtures("isolated_home")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("model")
    mp = pytest.MonkeyPatch()
    mp.setenv("STORAGEBENCH_HOME", str(base / "home"))
    mp.setenv("STORAGEBENCH_SQLITE_PATH", str(base / "home" / "s.db"))
    mp.setenv("STORAGEBENCH_LOCALDIR_ROOT", str(base / "home" / "objects"))
    try:
        assert main(["run", "--stores", "sqlite,localdir", "--workloads", "a,e", "--repeat", "2", "--no-report",
                     "--results-dir", str(base), "--run-id", "m", "-p", "recordcount=200",
                     "-p", "operationcount=400"]) == 0
    finally:
        mp.undo()
    return base / "m"


def test_key_parse_and_format_round_trip() -> None:
    key = HistKey.parse("update|UNEXPECTED")
    assert key == HistKey("update", "UNEXPECTED") and str(key) == "update|UNEXPECTED"
    assert not key.succeeded and key.is_operation
    assert not HistKey.parse("verify|OK").is_operation and HistKey.parse("read|NOT_FOUND").succeeded
    for bad in ("read", "|OK", "read|"):
        with pytest.raises(ValueError, match="not an operation"):
            HistKey.parse(bad)


def test_published_schema_is_the_models() -> None:
    assert SCHEMA_FILE.read_text() == schema_text(), \
        "result.schema.json is stale: python -m storagebench.results.model > storagebench/results/result.schema.json"


def test_every_result_file_of_a_run_validates_against_the_published_schema(run: Path) -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    files = sorted(run.glob("*__*__*.json"))
    assert len(files) == 2 * 2 * 2 * 2  # stores x workloads x phases x repeats
    for path in files:
        jsonschema.validate(json.loads(path.read_text()), schema)


def test_a_file_that_breaks_the_schema_is_named_not_read(run: Path) -> None:
    data: dict[str, Any] = json.loads(next(run.glob("sqlite__a__run__r1.json")).read_text())
    assert check_result(data) is None
    broken = {**data, "status": "splendid"}
    assert "does not match the result schema" in str(check_result(broken))
    assert "status" in str(check_result(broken))
    older = {k: v for k, v in data.items() if k not in ("steady_state", "intended_histograms", "liveness")}
    assert check_result(older) is None, "files without fields added later still read"


def test_tidy_table_has_a_row_per_operation_and_repeat_with_the_results_figures(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "all.parquet"
    assert main(["export", str(run), "--format", "parquet", "-o", str(out)]) == 0
    table = pd.read_parquet(out)
    results = load_results(run)
    expected_rows = sum(1 + len({HistKey.parse(k).op for k in r["histograms"] if HistKey.parse(k).is_operation})
                        for r in results)
    assert len(table) == expected_rows
    assert set(table["repeat"]) == {1, 2} and set(table["store"]) == {"sqlite", "localdir"}
    r = next(x for x in results if x["store"] == "sqlite" and x["workload"] == "e" and x["phase"] == "run"
             and x["repeat"]["index"] == 2)
    row = table[(table.store == "sqlite") & (table.workload == "e") & (table.phase == "run") & (table.repeat == 2)]
    scan = row[row.operation == "scan"].iloc[0]
    assert scan["p99_us"] == r["operations"]["scan"]["latency"]["p99_us"]
    assert scan["ok"] == r["operations"]["scan"]["status_counts"]["OK"]
    overall = row[row.operation == "ALL"].iloc[0]
    assert overall["ops_per_sec"] == r["totals"]["ops_per_sec"]
    assert overall["p99_us"] == summarize(ok_histogram(r["histograms"]), r["duration_s"])["p99_us"]
    assert overall["commit"] == r["harness"]["commit"] and overall["clients"] == 1
    csv = tmp_path / "all.csv"
    assert main(["export", str(run), "--format", "csv", "-o", str(csv)]) == 0
    assert len(pd.read_csv(csv)) == expected_rows


def test_hlog_is_read_by_hdrhistograms_log_reader(run: Path, tmp_path: Path) -> None:
    assert main(["export", str(run), "--format", "hlog", "-o", str(tmp_path)]) == 0
    result = next(r for r in load_results(run) if r["store"] == "localdir" and r["workload"] == "a"
                  and r["phase"] == "run" and r["repeat"]["index"] == 1)
    path = tmp_path / "m" / "localdir__a__run__r1.hlog"
    assert path.is_file()
    reader = HistogramLogReader(str(path), new_histogram())
    read = []
    while (hist := reader.get_next_interval_histogram()) is not None:
        read.append(hist)
    ops = [(HistKey.parse(k), decode(v)) for k, v in result["histograms"].items() if HistKey.parse(k).is_operation]
    assert [h.get_total_count() for h in read] == [h.get_total_count() for _k, h in ops]
    assert [h.get_value_at_percentile(99) for h in read] == [h.get_value_at_percentile(99) for _k, h in ops]
    tags = [line.split(",")[0] for line in path.read_text().splitlines() if line.startswith("Tag=")]
    assert tags == [f"Tag={k.op}" if k.status == "OK" else f"Tag={k.op}-{k.status}" for k, _h in ops]
