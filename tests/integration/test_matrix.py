"""Every registered store x every built-in workload, end to end through the CLI against the real engines, at
tiny sizes: each cell is `ok`, or `skipped` for a declared unsupported operation with its reason.  A new store
(entry point) or workload (YAML in workloads/) joins the matrix with no edit here.  The Spark engine is one
more column: per-operation and batch workloads in one ``--engine spark`` run on every store with a server.

The cells are written as Markdown and JSON under ``results/matrix/`` (CI keeps ``results/`` as artefacts), so
the README's capability table can be checked against them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from storagebench.workloads.spec import builtin_names

from storagebench.registry import available, load_adapter, store_module
from storagebench.results.files import load_results
from storagebench.testing.engines import require_engine

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "results" / "matrix"
TINY = ["-p", "recordcount=50", "-p", "operationcount=100"]
SPARK_WORKLOADS = ("a", "batch")
#: status of a phase and what it says, per (engine, store, workload)
CELLS: dict[tuple[str, str, str], dict[str, Any]] = {}


def _with_server(store: str) -> bool:
    return store_module(store, "service") is not None


STORES = sorted(available())
SERVER_STORES = [s for s in STORES if _with_server(s)]


def _run(store: str, workloads: list[str], results: Path, *extra: str) -> list[dict[str, Any]]:
    if _with_server(store):
        require_engine(store)
    proc = subprocess.run([sys.executable, "-m", "storagebench.cli", "run", "--stores", store,
                           "--workloads", ",".join(workloads), "--results-dir", str(results), "--run-id", "m",
                           "--no-report", *TINY, *extra], capture_output=True, text=True, timeout=900, check=False)
    found = load_results(results / "m") if (results / "m").is_dir() else []
    assert found, proc.stdout[-3000:] + proc.stderr[-3000:]
    return found


def _record(engine: str, store: str, found: list[dict[str, Any]]) -> dict[str, str]:
    problems: dict[str, str] = {}
    for workload in sorted({r["workload"] for r in found}):
        phases = [r for r in found if r["workload"] == workload]
        run = next((r for r in phases if r["phase"] == "run"), phases[-1])
        caps = run.get("capabilities", {})
        paths = sorted({f"{op}: {caps.get(op, '?')}" for op in run.get("operations", {}) if op in caps})
        CELLS[(engine, store, workload)] = {
            "status": run["status"], "reason": run.get("reason", ""), "paths": paths,
            "ops_per_sec": run.get("totals", {}).get("ops_per_sec"), "seconds": run.get("duration_s")}
        for r in phases:
            declared_gap = r["status"] == "skipped" and "unsupported" in r.get("reason", "")
            if r["status"] != "ok" and not declared_gap:
                problems[f"{workload}/{r['phase']}"] = f"{r['status']}: {r.get('reason', '')}"
    return problems


#: workloads whose emulated operation reads the whole namespace each time (a client-side join scans every
#: record: about 0.6 s an operation on HDFS at 50 records): fewer operations, two clients, in a run of their own
SCANNING = {"join": ["-p", "operationcount=10", "--threads", "2"]}


@pytest.mark.parametrize("store", STORES)
def test_every_builtin_workload_on_every_store(store: str, tmp_path: Path) -> None:
    found = _run(store, [w for w in builtin_names() if w not in SCANNING], tmp_path / "all")
    for workload, fewer in SCANNING.items():
        found += _run(store, [workload], tmp_path / workload, *fewer)
    ran = {r["workload"] for r in found}
    assert ran == set(builtin_names()), f"workloads without a result: {sorted(set(builtin_names()) - ran)}"
    assert _record("local", store, found) == {}


@pytest.mark.parametrize("store", STORES)
def test_a_batched_load_of_records_is_read_back_on_every_store(store: str, tmp_path: Path) -> None:
    """`-p loadbatchsize` loads a per-record workload through the bulk path where its rows are records: every
    record then reads back (S3 and HDFS kept batches as Parquet beside the records' own objects, so all 20,000
    loaded records of a 1,000-row-batch load read NOT_FOUND); elsewhere the load goes record by record."""
    found = _run(store, ["c"], tmp_path, "-p", "loadbatchsize=25")
    load = next(r for r in found if r["phase"] == "load")
    assert all(r["status"] == "ok" for r in found), [(r["phase"], r["status"], r["reason"]) for r in found]
    caps = load_adapter(store).capabilities
    if caps.stores_data:  # the null adapter keeps nothing: nothing to read back
        assert load["readback"]["failures"] == 0 and load["readback"]["checked"] > 0
    bulk = caps.batch_write.value == "native" and caps.batch_rows_are_records
    assert ("batch_write" in load["operations"]) == bulk, sorted(load["operations"])


@pytest.mark.usefixtures("spark_ready")
@pytest.mark.parametrize("store", SERVER_STORES)
def test_per_operation_and_batch_workloads_in_one_spark_run(store: str, tmp_path: Path) -> None:
    require_engine("spark")
    found = _run(store, list(SPARK_WORKLOADS), tmp_path, "--engine", "spark")
    assert {r["workload"] for r in found} == set(SPARK_WORKLOADS)
    assert _record("spark", store, found) == {}


@pytest.fixture(scope="module", autouse=True)
def write_matrix() -> Any:
    """After the module: the cell table as results/matrix/matrix.{json,md}."""
    yield
    if not CELLS:
        return
    OUT.mkdir(parents=True, exist_ok=True)
    rows = [{"engine": e, "store": s, "workload": w, **cell} for (e, s, w), cell in sorted(CELLS.items())]
    (OUT / "matrix.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["| engine | store | workload | status | paths | ops/s | phase s |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        status = row["status"] + (f" ({row['reason']})" if row["reason"] else "")
        ops = f"{row['ops_per_sec']:,.0f}" if row["ops_per_sec"] else "—"
        seconds = f"{row['seconds']:.2f}" if row["seconds"] is not None else "—"
        lines.append(f"| {row['engine']} | {row['store']} | {row['workload']} | {status} | "
                     f"{', '.join(row['paths'])} | {ops} | {seconds} |")
    (OUT / "matrix.md").write_text("\n".join(lines) + "\n")


def test_registry_lists_every_store_it_can_load() -> None:
    """The matrix is only as good as the registry: every entry point loads."""
    assert all(load_adapter(name) for name in STORES)
