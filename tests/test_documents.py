"""The document workload: what each record's document holds and how a reader's check judges it, and the
workload end to end on the stores with a document model (SQLite, DuckDB, PostgreSQL, MongoDB: native) and
one without (localdir: emulated), every answer verified, with one client and with several."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from storagebench.workloads import spec as workloads
from storagebench.workloads.documents import FIND_PATH, Document
from storagebench.workloads.values import Values, Version

from storagebench.errors import UsageError
from storagebench.registry import load_adapter
from storagebench.results.files import load_results
from storagebench.testing.engines import unavailable


def test_a_document_tells_its_write_and_refuses_anything_not_written_for_its_key() -> None:
    spec = workloads.resolve("document", {"recordcount": 100})
    values = Values(spec, seed=1, writer=3)
    loaded = values.load_record("user1")["field9"]
    assert values.check("user1", "field9", loaded) == Version(0, 0)
    doc = json.loads(loaded)
    assert set(doc) == {"customer", "status", "items"} and 1 <= len(doc["items"]) <= 3
    status = values.write_status("user1")
    assert values.seq == 1
    assert values.check("user1", "field9", json.dumps({**doc, "status": status})) == Version(3, 1)
    document = values.document
    assert isinstance(document, Document)
    wrong = {
        "another key's status": {**doc, "status": document.status("user2", 3, 1)},
        "a changed word": {**doc, "status": "cancelled" + status[status.index(":"):]},
        "another customer": {**doc, "customer": "c99999"},
        "an item changed": {**doc, "items": [{**doc["items"][0], "qty": doc["items"][0]["qty"] + 1}]},
        "a field added": {**doc, "note": "x"},
    }
    for what, bad in wrong.items():
        assert isinstance(values.check("user1", "field9", json.dumps(bad)), str), what
    assert isinstance(values.check("user1", "field9", "not json"), str)
    # plain updates never rewrite the document: only nested updates change it
    assert "field9" not in values.writable_fields


def test_a_document_workload_cannot_insert_or_delete_and_its_field_must_exist() -> None:
    with pytest.raises(UsageError, match="cannot also insert or delete"):
        workloads.resolve("document", {"insertproportion": 0.05, "readproportion": 0.4})
    with pytest.raises(UsageError, match="docfield 'field99'"):
        workloads.resolve("document", {"docfield": "field99"})
    # nor on a data set: what a find must return is computed from a fresh load
    from storagebench.running.datasets import unsupported

    assert "finds documents" in (unsupported(workloads.resolve("document"), "local") or "")


STORES = ["sqlite", "duckdb", "localdir", "postgres", "mongodb"]


def test_document_workload_verified_native_and_emulated(isolated_home: Path, tmp_path: Path) -> None:
    """300 records: every find and nested update answered and verified; support and index as declared."""
    from storagebench.cli import main

    stores = [s for s in STORES if s in ("sqlite", "duckdb", "localdir") or not unavailable(s)]
    assert main(["run", "--stores", ",".join(stores), "--workloads", "document", "--results-dir", str(tmp_path),
                 "--run-id", "doc", "--no-report", "-p", "recordcount=300", "-p", "operationcount=200"]) == 0
    results = {(r["store"], r["phase"]): r for r in load_results(tmp_path / "doc")}
    for store in stores:
        caps = load_adapter(store).capabilities
        load, run = results[(store, "load")], results[(store, "run")]
        for r in (load, run):
            assert r["status"] == "ok" and r["verification"]["verified"], (store, r["reason"])
        assert run["operation_support"] == {"read": "native", "find": str(caps.find),
                                            "update_nested": str(caps.update_nested)}, store
        assert run["operations"]["find"]["status_counts"] == {"OK": run["operations"]["find"]["latency"]["count"]}
        assert run["operations"]["update_nested"]["latency"]["count"] > 0
        # every version read back was judged against its write's acknowledgement (the ledger kept them all)
        assert run["readback"]["unjudged_versions"] == 0, store
        (index,) = load["indexes"]
        assert index["field"] == "field9" and index["path"] == FIND_PATH
        assert (index["build_s"] is not None and index["build_s"] > 0) == index["built"], store
    assert {s: results[(s, "load")]["indexes"][0]["built"] for s in ("sqlite", "duckdb", "localdir")} == {
        "sqlite": True, "duckdb": False, "localdir": False}  # DuckDB indexes no expressions; localdir none
    assert results[("localdir", "run")]["operation_support"]["find"] == "emulated"


def test_several_clients_updating_and_finding_are_verified(isolated_home: Path, tmp_path: Path) -> None:
    """Two clients: finds judge each record's status against both clients' acknowledged nested updates."""
    from storagebench.cli import main

    store = "sqlite" if unavailable("postgres") else "postgres"
    assert main(["run", "--stores", store, "--workloads", "document", "--clients", "2", "--results-dir",
                 str(tmp_path), "--run-id", "two", "--no-report", "-p", "recordcount=300",
                 "-p", "operationcount=400", "-p", "updatenestedproportion=0.3", "-p", "readproportion=0.25",
                 "-p", "findproportion=0.45"]) == 0
    run = next(r for r in load_results(tmp_path / "two") if r["phase"] == "run")
    assert run["status"] == "ok" and run["verification"]["verified"], run["reason"]
    assert run["config"]["client_layout"]["processes"] * max(run["config"]["client_layout"]["threads_per_process"]) == 2
    assert run["operations"]["update_nested"]["latency"]["count"] > 50
