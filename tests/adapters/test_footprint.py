"""Storage footprint after a load, as each engine itself reports it: non-zero and plausible against the
bytes that were written (embedded stores here; server engines through the shared running instances)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from storagebench.adapters.base import Adapter, Support
from storagebench.workloads.spec import WorkloadSpec
from storagebench.workloads.values import Values

from storagebench.registry import load_adapter
from storagebench.testing.engines import require_engine

RECORDS = 1000
SERVER_STORES = ["postgres", "mongodb", "s3", "hdfs", "hbase", "kudu"]


def _options(store: str, tmp_path: Path) -> dict[str, Any]:
    embedded = {"sqlite": {"path": tmp_path / "db.sqlite"}, "duckdb": {"path": tmp_path / "db.duckdb"},
                "localdir": {"root": tmp_path / "store"}}
    return embedded[store] if store in embedded else require_engine(store)


def _load(adapter: Adapter, namespace: str) -> int:
    spec = WorkloadSpec(name="fp", recordcount=RECORDS)
    values = Values(spec, seed=7)
    fields = spec.field_names()
    keys = [f"user{i:010d}" for i in range(RECORDS)]
    records = [values.load_record(k) for k in keys]
    columns = {f: [r[f] for r in records] for f in fields}
    adapter.drop(namespace)
    adapter.prepare(namespace, fields)
    if adapter.capabilities.batch_write is Support.NATIVE:
        adapter.write_batch(namespace, pa.table({"key": keys, **columns}))
    else:
        for i, key in enumerate(keys):
            adapter.insert(namespace, key, {f: columns[f][i] for f in fields})
    return sum(len(k) for k in keys) + sum(len(v) for col in columns.values() for v in col)


@pytest.mark.parametrize("store", ["sqlite", "duckdb", "localdir", *SERVER_STORES])
def test_footprint_is_nonzero_and_plausible(store: str, tmp_path: Path) -> None:
    adapter = load_adapter(store)(_options(store, tmp_path))
    # a fresh name per run: an engine's size metrics of a dropped table of the same name may linger
    namespace = f"sbench_footprint_{store}_{uuid.uuid4().hex[:8]}"
    adapter.connect()
    try:
        raw = _load(adapter, namespace)
        size = adapter.footprint(namespace)
        assert size is not None and size > 0
        # random values barely compress; no engine should need 50x what it was given for 1,000 records
        assert 0.3 * raw <= size <= 50 * raw, (store, size, raw)
    finally:
        adapter.drop(namespace)
        adapter.close()


def test_neo4j_says_it_cannot_tell_rather_than_guessing() -> None:
    """Neo4j keeps one store for all labels and exposes no per-label size: None, never a made-up figure."""
    adapter = load_adapter("neo4j")(require_engine("neo4j"))
    adapter.connect()
    try:
        adapter.prepare("sbench_footprint_neo4j", ["field0"])
        assert adapter.footprint("sbench_footprint_neo4j") is None
    finally:
        adapter.drop("sbench_footprint_neo4j")
        adapter.close()
