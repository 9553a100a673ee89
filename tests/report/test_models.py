"""Data models: each workload's model from its operations, ``operation_support`` in the result files, and the
report grouped by model with its store x model matrix, from a real run (embedded stores; Neo4j and
PostgreSQL too when they answer) and in a real browser at desk and phone size.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from storagebench.report.cells import find_results
from storagebench.report.html import page_data
from storagebench.workloads import spec
from storagebench.workloads.models import phase_operations, workload_model
from test_browser import ARGS, CHROMIUM, SHOTS, TIMEOUT_MS

from storagebench.registry import load_adapter
from storagebench.testing.engines import unavailable

DESK = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize(("workload", "model"), [
    *[(w, "key-value") for w in ("a", "b", "c", "d", "f", "delete")], ("e", "ordered"), ("scan", "ordered"),
    ("query", "query"), ("graph", "graph"), ("shortestpath", "graph"), ("join", "relational"),
    ("batch", "columnar")])
def test_builtin_workloads_get_the_model_of_their_operations(workload: str, model: str) -> None:
    assert workload_model(spec.resolve(workload).model_dump(mode="json")) == model


def test_a_custom_workload_gets_the_model_of_most_of_its_operations_or_mixed() -> None:
    def model(**props: float) -> str:
        return workload_model(spec.build({"name": "custom", "readproportion": 0.0, "updateproportion": 0.0,
                                          **props}, "test").model_dump(mode="json"))

    assert model(graphproportion=0.3, shortestpathproportion=0.3, readproportion=0.4) == "graph"
    assert model(graphproportion=0.5, readproportion=0.5) == "mixed"
    assert model(queryproportion=0.4, scanproportion=0.3, readproportion=0.3) == "mixed"
    assert model(readmodifywriteproportion=0.6, scanproportion=0.4) == "key-value"
    assert model(joinproportion=0.6, readproportion=0.4) == "relational"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """graph, shortestpath and a on SQLite, DuckDB and localdir (graph emulated), plus Neo4j and PostgreSQL
    when their engines answer (shared engines: nothing is stopped)."""
    from storagebench.cli import main

    base = tmp_path_factory.mktemp("models")
    env = {"STORAGEBENCH_SQLITE_PATH": str(base / "s.db"), "STORAGEBENCH_DUCKDB_PATH": str(base / "d.duckdb"),
           "STORAGEBENCH_LOCALDIR_ROOT": str(base / "ld")}
    stores = ["sqlite", "duckdb", "localdir", *(s for s in ("neo4j", "postgres") if not unavailable(s))]
    os.environ.update(env)
    try:
        assert main(["run", "--stores", ",".join(stores), "--workloads", "graph,shortestpath,a",
                     "--results-dir", str(base), "--run-id", "run",
                     "-p", "recordcount=150", "-p", "operationcount=150"]) == 0
    finally:
        for key in env:
            del os.environ[key]
    return base / "run"


def test_result_files_record_how_each_operation_of_the_phase_was_answered(run: Path) -> None:
    files = sorted(run.glob("*__*__*.json"))
    assert len(files) >= 3 * 3 * 2
    for path in files:
        result = json.loads(path.read_text())
        caps = load_adapter(result["store"]).capabilities
        ops = phase_operations(result["config"]["workload"], result["phase"])
        assert result["operation_support"] == {op: str(caps.support(op)) for op in ops}, path.name
    graph_run = json.loads((run / "localdir__graph__run.json").read_text())
    assert graph_run["operation_support"] == {"read": "native", "graph": "emulated"}


def test_report_groups_by_model_and_the_matrix_is_the_declared_support(run: Path) -> None:
    data = page_data(find_results([run]))
    assert [(m["key"], m["workloads"]) for m in data["models"]] == [("key-value", ["a"]),
                                                                     ("graph", ["graph", "shortestpath"])]
    matrix = data["model_matrix"]
    assert [m["key"] for m in matrix["models"]] == ["key-value", "graph"]
    for row in matrix["rows"]:
        caps = load_adapter(row["store"]).capabilities
        graph = {str(caps.support("graph")), str(caps.support("shortest_path"))}
        expected = graph.pop() if len(graph) == 1 else "partly"
        assert row["cells"]["graph"]["how"] == expected, row["store"]
        assert row["cells"]["graph"]["ops"] == {op: str(caps.support(op)) for op in ("graph", "shortest_path")}
        kv = {str(caps.support(op)) for op in ("insert", "read", "update")}
        assert row["cells"]["key-value"]["how"] == (kv.pop() if len(kv) == 1 else "partly"), row["store"]
    cells = {c["id"]: c for c in data["cells"]}
    assert cells["cell-localdir-graph-run"]["emulated"] == ["graph"]
    assert cells["cell-sqlite-graph-run"]["emulated"] == []
    # the index each graph workload declares (an edge table), per store as its load recorded it
    indexes = {(row["workload"], row["index"]): row["cells"] for row in data["indexes"]}
    assert set(indexes) == {("graph", "field9 links (edge table)"), ("shortestpath", "field9 links (edge table)")}
    for by_store in indexes.values():
        assert re.fullmatch(r"built in [\d.,]+ (s|ms|µs) · [\d.,]+ (KiB|MiB|bytes)", by_store["sqlite"]["text"])
        assert by_store["duckdb"] == by_store["localdir"] == {"how": "none", "text": "none"}
        if "neo4j" in by_store:  # a graph store: its relationships, whose size Neo4j does not report
            assert by_store["neo4j"]["text"].startswith("its relationships, made by the load (checked in ")
            assert by_store["neo4j"]["text"].endswith("· size not reported")
        if "postgres" in by_store:
            assert by_store["postgres"]["how"] == "built" and by_store["postgres"]["text"].endswith("KiB")


def test_the_document_workload_is_the_document_model() -> None:
    workload = spec.resolve("document").model_dump(mode="json")
    assert workload_model(workload) == "document"
    assert phase_operations(workload, "run") == ["read", "find", "find_range", "update_nested"]


def test_the_document_model_is_in_the_matrix_native_or_emulated_as_declared(isolated_home: Path,
                                                                            tmp_path: Path) -> None:
    """SQLite (JSON functions, an expression index) native, localdir (a scan filtered on the client) emulated."""
    from storagebench.cli import main

    assert main(["run", "--stores", "sqlite,localdir", "--workloads", "document", "--results-dir", str(tmp_path),
                 "--run-id", "doc", "--no-report", "-p", "recordcount=150", "-p", "operationcount=100"]) == 0
    data = page_data(find_results([tmp_path / "doc"]))
    assert [(m["key"], m["workloads"]) for m in data["models"]] == [("document", ["document"])]
    rows = {row["store"]: row["cells"]["document"] for row in data["model_matrix"]["rows"]}
    assert rows["sqlite"]["how"] == "native" and rows["localdir"]["how"] == "emulated"
    assert rows["localdir"]["ops"] == {"find": "emulated", "find_range": "emulated", "update_nested": "emulated"}
    cells = {c["id"]: c for c in data["cells"]}
    assert cells["cell-localdir-document-run"]["emulated"] == ["find", "find_range", "update_nested"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.mark.parametrize(("size", "viewport"), [("desk", DESK), ("phone", PHONE)])
def test_the_model_matrix_is_visible_without_overflow_and_emulation_is_marked(
        browser: Any, run: Path, size: str, viewport: dict[str, int]) -> None:
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto((run / "report.html").resolve().as_uri())
        page.wait_for_selector("#unranked-graph li, #ranking-graph tbody tr")
        matrix = page.locator("#model-matrix")
        matrix.scroll_into_view_if_needed()
        assert matrix.is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        # the matrix fits its box: no horizontal scrolling needed to read it
        assert page.evaluate("(() => { const t = document.querySelector('#model-matrix'); "
                             "return t.getBoundingClientRect().right <= innerWidth && "
                             "t.parentElement.scrollWidth <= t.parentElement.clientWidth; })()")
        assert page.locator("#index-table td[data-store=sqlite]").first.inner_text().startswith("built in ")
        for store in ("sqlite", "duckdb", "localdir"):
            caps = load_adapter(store).capabilities
            assert page.locator(f"#model-matrix tr[data-store={store}] td[data-model=graph]").inner_text() == \
                {"native": "native", "emulated": "emulated"}[str(caps.graph)]
        # grouped by model, in both per-workload sections
        for section in ("#rankings", "#workloads"):
            assert page.locator(f"{section} .model-group[data-model=graph] [data-workload=shortestpath]").count() == 1
            assert page.locator(f"{section} .model-group[data-model=key-value] [data-workload=a]").count() == 1
        # emulated figures are marked where they stand next to native ones (runs this short are listed, not ranked)
        graph = page.locator("#rankings [data-workload=graph]")
        assert graph.locator("[data-rank-store=localdir] .emulated, [data-unranked=localdir] .emulated").inner_text() \
            == "emulated: graph"
        assert graph.locator("[data-rank-store=sqlite] .emulated, [data-unranked=sqlite] .emulated").count() == 0
        assert graph.locator("[data-rank-store=sqlite], [data-unranked=sqlite]").count() == 1
        # a long list of emulated operations wraps instead of pushing the page sideways (it did at 390 px:
        # "hbase emulated: find, find_range, update_nested" was 421 px wide)
        page.evaluate("document.querySelectorAll('.store .emulated').forEach(e => { e.textContent = "
                      "'emulated: find, find_range, update_nested, shortest_path, join'; })")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        table_cell = page.locator("#results-table tr[data-store=localdir] td[data-workload=graph]")
        assert "emulated: graph" in table_cell.inner_text()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.locator("#models").screenshot(path=str(SHOTS / f"report-models-{size}.png"))
        assert errors == []
    finally:
        page.close()
