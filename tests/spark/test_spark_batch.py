"""The batch dataset through each store's Spark connector: written, read back verified, filtered, summed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from storagebench.adapters.duckdb.adapter import DuckDBAdapter
from storagebench.workloads import spec as wspec

from storagebench.cli import main
from storagebench.registry import available, load_adapter, store_module
from storagebench.results.files import load_results
from storagebench.spark.batch import run_spark_batch
from storagebench.spark.connectors import connector
from storagebench.testing.engines import require_engine

pytestmark = pytest.mark.usefixtures("spark_ready")

#: no server: these run wherever pyspark and a Java are installed
EMBEDDED = ("sqlite", "duckdb", "localdir")
#: every registered store with a Spark connector in its folder
CONNECTORS = {name: connector(name) for name in sorted(available()) if store_module(name, "spark") is not None}
ENGINES = sorted(set(CONNECTORS) - set(EMBEDDED))


def embedded_options(store: str, base: Path) -> dict[str, Any]:
    return {"localdir": {"root": str(base / "objects")}}.get(store, {"path": str(base / f"{store}.db")})


def test_every_embedded_store_has_a_connector() -> None:
    assert set(EMBEDDED) <= set(CONNECTORS)


@pytest.mark.parametrize("store", ENGINES)
def test_batch_through_spark(store: str) -> None:
    options = require_engine(store)
    _batch_verified(store, options)


@pytest.mark.parametrize("store", EMBEDDED)
def test_batch_through_spark_embedded(store: str, tmp_path: Path) -> None:
    options = embedded_options(store, tmp_path)
    namespace = f"sbench_spark_batch_{store}"
    adapter = load_adapter(store)
    # this process holds the store open during the run, as the suite does: DuckDB's handle (cached per
    # process) would lock Spark's JVM out of the file, so the run detaches it and attaches it again after
    holder = adapter(options)
    holder.connect()
    try:
        holder.prepare("sbench_spark_other", ["field0"])
        holder.insert("sbench_spark_other", "k", {"field0": "kept"})
        _batch_verified(store, options, namespace)
        # the open adapter still works, and sees what Spark wrote
        assert holder.read("sbench_spark_other", "k") == {"field0": "kept"}
        if store == "localdir":  # one Parquet dataset under <root>/<namespace>/spark, beside the records
            assert list((tmp_path / "objects" / namespace / "spark").glob("part-*.parquet"))
        else:  # the rows are in the adapter's own table, readable by the Python client
            assert holder.read_batch(namespace).num_rows == 3000
        holder.drop(namespace)
    finally:
        holder.close()


def _batch_verified(store: str, options: dict[str, Any], namespace: str | None = None) -> None:
    spec = wspec.resolve("batch", {"recordcount": 3000, "batchqueries": 3})
    namespace = namespace or f"sbench_spark_batch_{store}"
    try:
        result = run_spark_batch(store, options, spec, namespace, seed=5, master="local[2]")
    finally:
        if store not in EMBEDDED:
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
    result = run_spark_batch("null", {}, spec, "sbench_spark_none", seed=1)
    assert result["verified"] is False
    assert any("no Spark connector" in p for p in result["problems"]), result


def test_cli_batch_workload_on_spark(tmp_path: Path) -> None:
    require_engine("postgres")
    code = main(["run", "--engine", "spark", "--spark-master", "local[2]", "--stores", "postgres",
                 "--workloads", "batch", "--no-report",
                 "--results-dir", str(tmp_path), "--run-id", "sb", "-p", "recordcount=2000", "-p", "batchqueries=2"])
    assert code == 0
    results = load_results(tmp_path / "sb")
    assert sorted(r["phase"] for r in results) == ["load", "run"]
    for r in results:
        assert r["status"] == "ok", r["reason"]
        assert r["batch"]["verified"] is True and r["batch"]["rows_per_sec"] > 0
        assert r["spark"]["connector"]["packages"] == list(CONNECTORS["postgres"].packages)


def test_cli_batch_workload_on_spark_duckdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end: the suite holds the DuckDB file open (preflight, drop, prepare) when Spark's JVM writes."""
    monkeypatch.setenv("STORAGEBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STORAGEBENCH_DUCKDB_PATH", str(tmp_path / "d.db"))
    code = main(["run", "--engine", "spark", "--spark-master", "local[2]", "--stores", "duckdb",
                 "--workloads", "batch", "--no-report",
                 "--results-dir", str(tmp_path / "results"), "--run-id", "sd", "-p", "recordcount=2000",
                 "-p", "batchqueries=2"])
    assert code == 0
    results = load_results(tmp_path / "results" / "sd")
    assert sorted(r["phase"] for r in results) == ["load", "run"]
    for r in results:
        assert r["status"] == "ok", r["reason"]
        assert r["batch"]["verified"] is True and r["batch"]["rows_per_sec"] > 0
        assert r["spark"]["connector"]["packages"] == list(CONNECTORS["duckdb"].packages)
    # the suite's own handle outlived the Spark run: it dropped the namespace afterwards
    after = DuckDBAdapter({"path": str(tmp_path / "d.db")})
    after.connect()
    try:
        tables = after.conn.execute("SELECT table_name FROM information_schema.tables").fetchall()
    finally:
        after.close()
    assert tables == []
