"""``storagebench merge RUN_DIR... -o OUT``: one result from the result files of several client hosts.

Each host ran the same workload on the same store (YCSB style: its own ``insertstart``/``insertcount``
slice in the load phase, its own ``operationcount`` share in the run phase).  For every (store,
workload, phase) the merged result has

* the **exact** sum of every HdrHistogram (service time and intended latency), so counts, status counts
  and percentiles are those of all operations of all hosts together;
* **throughput summed over the common time window**: hosts' 1-second series are aligned on their
  wall-clock start (``timeseries.start_epoch``), and ``totals.ops_per_sec`` is the operations all hosts
  completed in the whole seconds where every host was measuring, divided by those seconds (when the
  hosts never overlapped, it is all operations over the span from the first start to the last end, and
  ``merge.overlap_s`` is 0);
* ``merge.hosts``: per host its run, hostname, operations, failures, ops/s, p50/p99 and its share of
  the workload (provenance).

Hosts that shared one data set (``run --dataset NAME --host I/N``) are merged only when they ran on the
same data set and generation, as distinct host indexes, all N of them (``merge.shared_dataset``).

Results are merged only when the workload (apart from the share fields :data:`SHARE_FIELDS`), the seed,
the store, the server that answered and the store options are the same, every input is ``ok``, every
result file of every input is readable, and no two inputs measured the same thing (the same folder or a
copy of a run: the same run's worker on the same host; load slices that overlap); otherwise
:func:`merge_runs` raises :class:`UsageError` with the reason, before anything is written.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from storagebench.errors import UsageError
from storagebench.measuring.measurement import decode, new_histogram, summarize
from storagebench.measuring.measurement import encode as encode_hist
from storagebench.results.files import RESULT_FILE_BYTES, check_room, result_path, scan_results, write_json
from storagebench.running.runner import PhaseOutcome
from storagebench.running.suite import _operations

#: workload properties each host may set differently (its share of the work; ``hostindex``: which host of a
#: shared data set it was, ``run --dataset NAME --host I/N``)
SHARE_FIELDS = ("insertstart", "insertcount", "operationcount", "hostindex")


def _label(result: dict[str, Any]) -> str:
    return f"{result['store']}/{result['workload']}/{result['phase']} of run {result.get('run_id')}"


def _epoch(result: dict[str, Any]) -> float:
    start = result.get("timeseries", {}).get("start_epoch")
    if isinstance(start, int | float):
        return float(start)
    return dt.datetime.fromisoformat(str(result["started_at"])).timestamp()


def _workers(result: dict[str, Any]) -> set[tuple[Any, ...]]:
    """Who measured a result: (run, host, worker) of each of its workers."""
    host = result.get("machine", {}).get("hostname")
    return {(result.get("run_id"), w.get("host", host), w.get("worker")) for w in result.get("workers", [])} or \
        {(result.get("run_id"), host, None)}


def _slice(result: dict[str, Any]) -> tuple[int, int]:
    """The key numbers [start, end) the result's load inserted (YCSB's insertstart/insertcount)."""
    workload = result["config"]["workload"]
    start = int(workload.get("insertstart") or 0)
    count = workload.get("insertcount")
    return start, start + (int(count) if count is not None else int(workload["recordcount"]) - start)


def shared_dataset(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The data set generation the results' hosts shared (``run --dataset NAME --host I/N``), checked: one
    data set, one generation, distinct host indexes, all N present; None when no input ran as such a host.
    Raises UsageError naming the first difference."""
    shares = [(r, (r.get("dataset") or {}).get("hosts")) for r in results]
    if all(h is None for _, h in shares):
        return None
    alone = next((r for r, h in shares if h is None), None)
    if alone is not None:
        raise UsageError(f"cannot merge {_label(alone)} with hosts of a shared data set: it did not run with "
                         f"--dataset NAME --host I/N")
    first = results[0]["dataset"]
    count = int(first["hosts"]["count"])
    seen: dict[int, dict[str, Any]] = {}
    for r, host in shares:
        ds = r["dataset"]
        if (ds["name"], ds["generation"]) != (first["name"], first["generation"]):
            raise UsageError(f"cannot merge {_label(r)}: it ran on data set {ds['name']} generation "
                             f"{ds['generation']}, {_label(results[0])} on {first['name']} generation "
                             f"{first['generation']}")
        assert host is not None
        if int(host["count"]) != count:
            raise UsageError(f"cannot merge {_label(r)}: host {host['index']} of {host['count']}, the others "
                             f"of {count}")
        if int(host["index"]) in seen:
            raise UsageError(f"cannot merge {_label(r)} with {_label(seen[int(host['index'])])}: both are host "
                             f"{host['index']}/{count}")
        seen[int(host["index"])] = r
    missing = sorted(set(range(count)) - set(seen))
    if missing:
        raise UsageError(f"cannot merge: host(s) {', '.join(map(str, missing))} of {count} that shared data set "
                         f"{first['name']} generation {first['generation']} are missing")
    return {"name": first["name"], "generation": first["generation"], "hosts": count,
            "foreign_versions": sum(int(h["foreign_versions"]) for _, h in shares if h is not None),
            "foreign_absent": sum(int(h.get("foreign_absent", 0)) for _, h in shares if h is not None)}


def check_distinct(results: list[dict[str, Any]]) -> None:
    """Raise UsageError when two inputs measured the same thing: the same run's worker on the same host
    (one run given twice, or a copy of it), or load slices that overlap (those keys counted twice; not for
    hosts sharing one data set, whose runs read the same keys by design)."""
    shared = shared_dataset(results) is not None
    for i, a in enumerate(results):
        for b in results[i + 1:]:
            same = sorted(_workers(a) & _workers(b), key=str)
            if same:
                run, host, worker = same[0]
                who = f"worker {worker} of run {run} on host {host}" if worker is not None else \
                    f"run {run} on host {host}"
                raise UsageError(f"cannot merge {_label(b)} with {_label(a)}: both hold {who} (the same run "
                                 f"given twice?)")
            (a0, a1), (b0, b1) = _slice(a), _slice(b)
            if not shared and max(a0, b0) < min(a1, b1):
                raise UsageError(f"cannot merge {_label(b)} with {_label(a)}: their load slices overlap (keys "
                                 f"[{b0}, {b1}) and [{a0}, {a1}), set by insertstart/insertcount): those records "
                                 f"would be counted twice")


def check_compatible(results: list[dict[str, Any]]) -> None:
    """Raise UsageError naming the first difference that makes ``results`` unmergeable."""
    first = results[0]
    base_workload = {k: v for k, v in first["config"]["workload"].items() if k not in SHARE_FIELDS}
    for r in results:
        if r.get("status") != "ok":
            raise UsageError(f"cannot merge {_label(r)}: its status is {r.get('status')!r}, not 'ok'")
        if "histograms" not in r:
            raise UsageError(f"cannot merge {_label(r)}: it has no histograms")
    for r in results[1:]:
        workload = {k: v for k, v in r["config"]["workload"].items() if k not in SHARE_FIELDS}
        if workload != base_workload:
            diff = sorted(k for k in set(workload) | set(base_workload) if workload.get(k) != base_workload.get(k))
            raise UsageError(f"cannot merge {_label(r)} with {_label(first)}: different workloads "
                             f"({', '.join(diff)} differ)")
        if r.get("seed") != first.get("seed"):
            raise UsageError(f"cannot merge {_label(r)} with {_label(first)}: different seeds "
                             f"({r.get('seed')} vs {first.get('seed')})")
        if r["config"].get("store_options") != first["config"].get("store_options"):
            raise UsageError(f"cannot merge {_label(r)} with {_label(first)}: different store configurations")
        if r.get("server", {}).get("label") != first.get("server", {}).get("label"):
            raise UsageError(f"cannot merge {_label(r)} with {_label(first)}: different servers answered "
                             f"({r.get('server', {}).get('label')} vs {first.get('server', {}).get('label')})")
    check_distinct(results)


def _host_summary(r: dict[str, Any]) -> dict[str, Any]:
    lat = _combined(r)
    workload = r["config"]["workload"]
    return {
        "run_id": r.get("run_id"), "hostname": r.get("machine", {}).get("hostname"),
        "started_at": r.get("started_at"), "start_epoch": _epoch(r), "duration_s": r.get("duration_s"),
        "operations": r["totals"]["operations"], "failed": r["totals"]["failed"],
        "ops_per_sec": r["totals"]["ops_per_sec"], "p50_us": lat.get("p50_us"), "p99_us": lat.get("p99_us"),
        "share": {k: workload[k] for k in SHARE_FIELDS if k in workload},
        "engine": r["config"].get("engine"), "spark_master": r["config"].get("spark_master"),
    }


def _combined(r: dict[str, Any]) -> dict[str, Any]:
    hist = new_histogram()
    for key, text in r.get("histograms", {}).items():
        if not key.startswith("verify|"):
            hist.add(decode(text))
    return summarize(hist, r.get("duration_s") or 0.0)


def _sum_histograms(results: list[dict[str, Any]], field: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for r in results:
        for key, text in r.get(field, {}).items():
            h = decode(text)
            if key in merged:
                merged[key].add(h)
            else:
                merged[key] = h
    return merged


def merge_results(results: list[dict[str, Any]], run_id: str) -> dict[str, Any]:
    """One merged result from compatible results of one (store, workload, phase)."""
    check_compatible(results)
    first = results[0]
    starts = [_epoch(r) for r in results]
    t0 = min(starts)
    shifts = [round(s - t0) for s in starts]
    series = [r.get("timeseries", {}).get("ops", []) for r in results]
    failed_series = [r.get("timeseries", {}).get("failed", []) for r in results]
    complete = [min(len(s), int(r.get("duration_s") or 0)) for s, r in zip(series, results, strict=True)]
    # whole seconds (on the common timeline) in which every host was measuring
    window_start = max(shifts)
    window_end = min(shift + n for shift, n in zip(shifts, complete, strict=True))
    length = max(shift + len(s) for shift, s in zip(shifts, series, strict=True))
    ops_series = [0] * length
    errors_series = [0] * length
    for shift, ops, errs in zip(shifts, series, failed_series, strict=True):
        for i, v in enumerate(ops):
            ops_series[shift + i] += v
        for i, v in enumerate(errs):
            errors_series[shift + i] += v
    histograms = _sum_histograms(results, "histograms")
    intended = _sum_histograms(results, "intended_histograms")
    # counts are exact sums; the rate is the successful operations of the common window
    totals: dict[str, Any] = {k: sum(int(r["totals"].get(k) or 0) for r in results)
                              for k in ("operations", "failed", "succeeded", "ok", "not_found")
                              if k in first["totals"]}
    span = max(s + (r.get("duration_s") or 0.0) for s, r in zip(starts, results, strict=True)) - t0
    overlap = window_end - window_start
    ops_per_sec: float | None
    if overlap >= 1:
        succeeded = sum(ops_series[window_start:window_end]) - sum(errors_series[window_start:window_end])
        ops_per_sec = succeeded / overlap
    else:
        good = totals.get("succeeded", totals["operations"] - totals.get("failed", 0))
        ops_per_sec = good / span if span > 0 else None
    totals["ops_per_sec"] = ops_per_sec
    operations = _operations(PhaseOutcome({"histograms": histograms, "intended": intended}, span, 0.0), span)
    for op, entry in operations.items():
        nested = sum(int(r["operations"].get(op, {}).get("in_read_modify_write") or 0) for r in results)
        if nested:
            entry["in_read_modify_write"] = nested
    shared = shared_dataset(results)
    # per-host analyses of the first input do not describe the merged figures
    merged = {k: v for k, v in first.items() if k not in ("steady_state", "spark")}
    if shared is not None:
        merged["dataset"] = {k: v for k, v in first["dataset"].items() if k != "hosts"}
    merged.update({
        "run_id": run_id,
        "started_at": min(str(r["started_at"]) for r in results),
        "finished_at": max(str(r["finished_at"]) for r in results),
        "duration_s": span,
        "wall_s": max(r.get("wall_s") or 0.0 for r in results),
        "totals": totals,
        "operations": operations,
        "rows": _sum_counts(r.get("rows", {}) for r in results),
        "histograms": {k: encode_hist(h) for k, h in histograms.items()},
        "intended_histograms": {k: encode_hist(h) for k, h in intended.items()},
        "timeseries": {"interval_s": 1, "ops": ops_series, "failed": errors_series, "start_epoch": t0},
        "workers": [dict(w, host_run=r.get("run_id")) for r in results for w in r.get("workers", [])],
        "errors": _sum_counts(r.get("errors", {}) for r in results),
        "problems": [p for r in results for p in r.get("problems", [])],
        "machine": {**first.get("machine", {}),
                    "hostname": ", ".join(dict.fromkeys(str(r.get("machine", {}).get("hostname")) for r in results))},
        "merge": {
            "hosts": [_host_summary(r) for r in results],
            "window": {"start_s": window_start, "end_s": max(window_end, window_start),
                       "overlap_s": max(overlap, 0)},
            "ops_per_sec_sum_of_hosts": sum(r["totals"]["ops_per_sec"] or 0.0 for r in results),
            **({"shared_dataset": shared} if shared is not None else {}),
        },
    })
    return merged


def _sum_counts(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for counts in items:
        for k, n in counts.items():
            out[k] = out.get(k, 0) + n
    return out


def merge_runs(run_dirs: list[Path], output: Path) -> list[Path]:
    """Merge the run folders into ``output`` (a new run folder); everything is checked before writing."""
    if len(run_dirs) < 2:
        raise UsageError("merge needs at least two run folders")
    if output.exists():
        raise UsageError(f"output folder {output} already exists (earlier runs are never overwritten)")
    runs: list[dict[tuple[str, str, str], dict[str, Any]]] = []
    for run_dir in run_dirs:
        if not run_dir.is_dir():
            raise UsageError(f"no such run folder: {run_dir}")
        twice = [d for d in run_dirs if d.resolve() == run_dir.resolve()]
        if len(twice) > 1:
            raise UsageError(f"cannot merge {run_dir} with itself: it is given {len(twice)} times "
                             f"({', '.join(map(str, twice))})")
        results, bad = scan_results(run_dir)
        if bad:
            path, why = bad[0]
            raise UsageError(f"cannot merge {run_dir}: {path} is not a usable result file ({why})"
                             + (f"; and {len(bad) - 1} more" if len(bad) > 1 else ""))
        found = {(r["store"], r["workload"], r["phase"]): r for r in results}
        if not found:
            raise UsageError(f"no result files in {run_dir}")
        if len(found) != len(results):
            raise UsageError(f"{run_dir} holds repeats (--repeat); merge runs of one repeat each")
        runs.append(found)
    keys = list(runs[0])
    for run_dir, found in zip(run_dirs[1:], runs[1:], strict=True):
        if set(found) != set(keys):
            odd = sorted(set(found) ^ set(keys))[0]
            raise UsageError(f"cannot merge {run_dir} with {run_dirs[0]}: only one of them has "
                             f"{'/'.join(odd)}")
    merged = {key: merge_results([found[key] for found in runs], output.name) for key in keys}
    check_room(output, (len(merged) + 1) * RESULT_FILE_BYTES, f"the merged run ({len(merged)} result file(s))",
               "free some space or choose another -o")
    written = []
    for (store, workload, phase), result in merged.items():
        path = result_path(output, store, workload, phase)
        write_json(path, result)
        written.append(path)
    write_json(output / "merge.json", {"merged_from": [str(p) for p in run_dirs]})
    return written
