"""Which data model each workload exercises, derived from its operations: the one place that says so.

Every operation belongs to one data model (:data:`OPERATION_MODEL`): reads and writes of one record to the
key-value record (YCSB's), scans in key order to ordered ranges (what wide-column stores are built for), the
equality filter with an aggregate to filter-and-aggregate (what SQL does), k-hop neighbours and shortest
paths to the graph, the join of two record types with a group-by to relational, finds by a nested field and
updates of one nested field to documents, the Arrow batch paths to columnar batches (files).  A workload's
model is the model of more than half of its operations, by its proportions (a batch workload's is
columnar); with none over half, ``mixed``.  So a custom workload gets a model without a list of workload
names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KEY_VALUE = "key-value"
ORDERED = "ordered"
QUERY = "query"
GRAPH = "graph"
RELATIONAL = "relational"
DOCUMENT = "document"
COLUMNAR = "columnar"
MIXED = "mixed"

#: model -> what the report calls it, in the order the report shows them
MODEL_LABELS: dict[str, str] = {
    KEY_VALUE: "key-value records (YCSB: read, update, insert, delete one record)",
    ORDERED: "ordered ranges (scans in key order, as wide-column stores keep rows)",
    QUERY: "filter and aggregate (an equality filter with a sum, as SQL answers it)",
    GRAPH: "graph (k-hop neighbours, shortest paths over links)",
    RELATIONAL: "relational (a join of two record types with a group-by, as SQL answers it)",
    DOCUMENT: "documents (nested orders: find by a nested field and by a range of a nested number through "
              "indexes, update one nested field)",
    COLUMNAR: "columnar batches (Arrow batches written and read back, filtered reads)",
    MIXED: "mixed (no data model has more than half of the operations)",
}

#: operation -> the data model it exercises
OPERATION_MODEL: dict[str, str] = {
    "read": KEY_VALUE, "update": KEY_VALUE, "insert": KEY_VALUE, "delete": KEY_VALUE,
    "read_modify_write": KEY_VALUE, "scan": ORDERED, "query": QUERY, "graph": GRAPH, "shortest_path": GRAPH,
    "join": RELATIONAL,
    "batch_write": COLUMNAR, "batch_read": COLUMNAR, "batch_filter": COLUMNAR,
    # finds by a nested field and updates of one nested field: the document model
    "find": DOCUMENT, "find_range": DOCUMENT, "update_nested": DOCUMENT,
}

#: workload property -> the operations it makes the run phase do
PROPORTION_OPERATIONS: dict[str, tuple[str, ...]] = {
    "readproportion": ("read",), "updateproportion": ("update",), "insertproportion": ("insert",),
    "scanproportion": ("scan",), "readmodifywriteproportion": ("read_modify_write",),
    "deleteproportion": ("delete",), "queryproportion": ("query",), "graphproportion": ("graph",),
    "shortestpathproportion": ("shortest_path",), "joinproportion": ("join",),
    "findproportion": ("find",), "findrangeproportion": ("find_range",),
    "updatenestedproportion": ("update_nested",),
}


def workload_model(workload: Mapping[str, Any]) -> str:
    """The data model of a workload given by its properties (a workload file's, or ``config.workload`` of a
    result file): the model of more than half of its operations, else :data:`MIXED`."""
    if workload.get("kind") == "batch":
        return COLUMNAR
    shares: dict[str, float] = {}
    for prop, ops in PROPORTION_OPERATIONS.items():
        for op in ops:
            model = OPERATION_MODEL[op]
            shares[model] = shares.get(model, 0.0) + float(workload.get(prop) or 0.0)
    total = sum(shares.values())
    if total <= 0:
        return MIXED
    best = max(shares, key=lambda m: shares[m])
    return best if shares[best] > total / 2 else MIXED


def phase_operations(workload: Mapping[str, Any], phase: str) -> list[str]:
    """The operations a phase of this workload asks the store for (as the workload names them: a batch
    written row by row through the fallback is still ``batch_write``)."""
    if workload.get("kind") == "batch":
        return ["batch_write"] if phase == "load" else ["batch_read", "batch_filter", "query"]
    if phase == "load":
        return ["batch_write" if int(workload.get("loadbatchsize") or 1) > 1 else "insert"]
    ops = [op for prop, names in PROPORTION_OPERATIONS.items() if float(workload.get(prop) or 0.0) > 0
           for op in names]
    if "read_modify_write" in ops:
        ops = [op for op in ops if op != "read_modify_write"] + ["read", "update"]
    return list(dict.fromkeys(ops))
