"""The cost model on the report: the measured server cost, footprint and request mix of each (store,
workload) priced with a price sheet (:mod:`storagebench.pricing`), as plain data the template renders.

Per (store, workload), medians over the repeats:

* at the **measured throughput** (the run phase): the engine's CPU µs per operation priced as vCPU time,
  per million operations;
* at the **maximum sustainable throughput** of a rate sweep of that (store, workload), when there is one:
  the same from the sweep step that achieved it;
* **requests**, for a store whose adapter declares a priced API the sheet lists: the requests its
  operations made (the adapter's ``Capabilities.requests``), per million operations, at the sheet's
  prices; they depend on the operation mix, not on the throughput;
* **storage**: the load phase's footprint as the engine reports it, per month, and per GB of the
  logical data loaded where the space amplification is known.

Where the engine's own processes were not observed (embedded, adopted, remote) the row says so and why,
never a figure.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from storagebench.report.curves import best_step

from storagebench.pricing import GB, PriceSheet

#: statuses of operations the store answered (their requests were made); failed ones are left out
ANSWERED = ("OK", "NOT_FOUND")


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def requests_per_million_ops(result: dict[str, Any], sheet: PriceSheet) -> dict[str, Any] | None:
    """The requests of one run phase priced per million operations, or None when the store declares no API
    the sheet prices.  ``unpriced``: operations whose requests were not counted (count varies with the
    data, or a request class the sheet has no price for)."""
    caps = result.get("capabilities") or {}
    api = str(caps.get("priced_api") or "")
    prices = sheet.apis.get(api) if api else None
    operations = int((result.get("totals") or {}).get("operations") or 0)
    if prices is None or not operations:
        return None
    declared: dict[str, dict[str, int]] = caps.get("requests") or {}
    cost, unpriced = 0.0, []
    for op, stats in sorted((result.get("operations") or {}).items()):
        answered = sum(int(n) for status, n in (stats.get("status_counts") or {}).items() if status in ANSWERED)
        if op == "verify" or not answered:
            continue
        requests = declared.get(op)
        if not requests or any(kind not in prices.requests_per_million for kind in requests):
            unpriced.append(op)
            continue
        cost += answered * sum(n * prices.requests_per_million[kind] for kind, n in requests.items())
    return {"api": api, "per_million_ops": cost / operations, "unpriced": unpriced}


def _cpu(costs: Sequence[dict[str, Any]], sheet: PriceSheet) -> dict[str, Any]:
    """CPU µs per operation and its price from server_cost records (median), or why it was not observed."""
    observed = [float(c["cpu_us_per_op"]) for c in costs if c.get("cpu_us_per_op") is not None]
    if observed:
        cpu = statistics.median(observed)
        return {"cpu_us_per_op": cpu, "per_million_ops": sheet.cpu_per_million_ops(cpu)}
    why = next((str(c.get("reason", "")) for c in costs if c.get("observed") is False), "")
    return {"not_observed": why or "no server cost recorded"}


def cost_table(results: Sequence[dict[str, Any]], sweeps: Sequence[dict[str, Any]],
               sheet: PriceSheet) -> dict[str, Any]:
    """The sheet's provenance and one row per (store, workload) with a run phase, a load or a rate sweep."""
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    loads: dict[tuple[str, str], list[dict[str, Any]]] = {}
    not_ok: dict[tuple[str, str], list[str]] = {}  # run phases not priced: a failed run's work is no price
    for r in results:
        if r.get("status") == "ok" and r.get("phase") in ("run", "load"):
            (runs if r["phase"] == "run" else loads).setdefault((r["store"], r["workload"]), []).append(r)
        elif r.get("phase") == "run":
            not_ok.setdefault((r["store"], r["workload"]), []).append(str(r.get("status")))
    rated = {(s["store"], str(s.get("workload"))): s for s in sweeps
             if s.get("status") == "ok" and s.get("ladder") == "rate"}
    rows = []
    for store, workload in dict.fromkeys([*runs, *loads, *rated]):
        key = (store, workload)
        row: dict[str, Any] = {"store": store, "workload": workload}
        group = runs.get(key, [])
        if not group and key in not_ok:
            row["no_run"] = f"run phase {', '.join(dict.fromkeys(not_ok[key]))}: not priced"
        if group:
            row["measured"] = {"ops_per_sec": _median([float(t.get("ok_ops_per_sec", t.get("ops_per_sec")) or 0.0)
                                                       for r in group if (t := r.get("totals") or {})]),
                               **_cpu([r.get("server_cost") or {} for r in group], sheet)}
            priced = [p for r in group if (p := requests_per_million_ops(r, sheet)) is not None]
            if priced:
                row["requests"] = {"api": priced[0]["api"], "unpriced": priced[0]["unpriced"],
                                   "per_million_ops": statistics.median(p["per_million_ops"] for p in priced)}
        sweep = rated.get(key)
        if sweep is not None:
            step = best_step(sweep)
            row["max_sustainable"] = {"ops_per_sec": sweep.get("max_sustainable_ops_per_sec"),
                                      "objective": (sweep.get("objective") or {}).get("label", ""),
                                      **(_cpu([step.get("server_cost") or {}], sheet) if step else
                                         {"none": "no step met the objective"})}
        # the load phases' footprints, else the rate sweep's own load
        footprints = [float(b) for r in loads.get(key, []) if (b := (r.get("footprint") or {}).get("bytes"))]
        swept = ((sweep or {}).get("load") or {}).get("footprint") or {}
        if not footprints and swept.get("bytes"):
            footprints = [float(swept["bytes"])]
        if footprints:
            first = (loads.get(key) or group or [{}])[0]
            price, basis = sheet.storage_price(str((first.get("capabilities") or {}).get("priced_api") or ""))
            size = statistics.median(footprints)
            amplification = _median([float(a) for r in loads.get(key, [])
                                     if (a := (r.get("server_cost") or {}).get("space_amplification"))])
            row["storage"] = {"bytes": size, "gb": size / GB, "price_gb_month": price, "basis": basis,
                              "per_month": size / GB * price, "space_amplification": amplification,
                              "per_logical_gb_month": None if amplification is None else amplification * price}
        rows.append(row)
    return {"source": sheet.source, "as_of": sheet.as_of.isoformat(), "currency": sheet.currency,
            "vcpu_hour": sheet.vcpu_hour, "storage_gb_month": sheet.storage_gb_month,
            "apis": {name: p.model_dump() for name, p in sheet.apis.items()}, "rows": rows}
