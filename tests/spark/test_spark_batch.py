"""The batch dataset through each store's Spark connector: written, read back verified, filtered, summed."""

from __future__ import annotations

from pathlib import Path

import pytest

from storagebench.adapters import load_adapter
from storagebench.cli import main
from storagebench.results import load_results
from storagebench.spark.batch import run_spark_batch
from storagebench.spark.connectors import CONNECTORS
from storagebench.testing.engines import require_engine
from workloads import spec as wspec

pytestmark = pytest.mark.usefixtures("spark_ready")

@pytest.mark.parametrize("store", sorted(CONNECTORS))
def test_batch_through_spark(store: str) -> None:
    options = require_engine(store)
    spec = wspec.resolve("batch", {"recordcount": 3000, "batchqueries": 3})
    namespace = f"sbench_spark_batch_{store}"
    try:
        result = run_spark_batch(store, options, spec, namespace, seed=5, master="local[2]")
    finally:
        with load_adapter(store)(options) as control:
            control.drop(namespace)
    assert result["problems"] == [], result
    assert result["verified"] is True
    steps = result["steps"]
    assert steps["write"]["rows"] == 3000 and steps["read"]["rows"] == 3000
    assert steps["write"]["rows_per_sec"] > 0 and steps["read"]["mb_per_sec"] > 0
    assert steps["filtered_read"]["queries"] == 3 and steps["aggregate"]["queries"] == 3
    assert result["connector"]["packages"] == list(CONNECTORS[store].packages)
    assert result["spark_version"].startswith("3.5")
    assert set(result["summary"]) == {"load", "run"}


def test_unknown_store_is_reported_not_raised() -> None:
    spec = wspec.resolve("batch", {"recordcount": 10})
    result = run_spark_batch("sqlite", {}, spec, "sbench_spark_none", seed=1)
    assert result["verified"] is False
    assert any("no Spark connector" in p for p in result["problems"]), result


def test_cli_batch_workload_on_spark(tmp_path: Path) -> None:
    require_engine("postgres")
    code = main(["run", "--engine", "spark", "--stores", "postgres", "--workloads", "batch", "--no-report",
                 "--results-dir", str(tmp_path), "--run-id", "sb", "-p", "recordcount=2000", "-p", "batchqueries=2"])
    assert code == 0
    results = load_results(tmp_path / "sb")
    assert sorted(r["phase"] for r in results) == ["load", "run"]
    for r in results:
        assert r["status"] == "ok", r["reason"]
        assert r["batch"]["verified"] is True and r["batch"]["rows_per_sec"] > 0
        assert r["spark"]["connector"]["packages"] == list(CONNECTORS["postgres"].packages)
