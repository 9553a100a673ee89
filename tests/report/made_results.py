"""Result and sweep files made for the report's tests: known figures, real HdrHistograms, real steady-state
detection on their per-second series; written where ``storagebench report`` reads them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from storagebench.analysis.stats import steady_state
from storagebench.measuring.measurement import encode, new_histogram, record_many, summarize
from storagebench.results.files import result_path, write_json

MIXES: dict[str, dict[str, float]] = {
    "a": {"readproportion": 0.5, "updateproportion": 0.5},
    "c": {"readproportion": 1.0},
    "e": {"scanproportion": 0.95, "insertproportion": 0.05},
}
_OPS = {"readproportion": "read", "updateproportion": "update", "scanproportion": "scan",
        "insertproportion": "insert"}
CAPS = {"insert": "native", "read": "native", "update": "native", "delete": "native", "scan": "native",
        "query": "emulated", "family": "relational"}


def result(store: str, workload: str, phase: str, *, seconds: float = 6.0, ops_per_sec: float = 1000.0,
           p50_us: float = 100.0, index: int = 1, of: int = 1, status: str = "ok", reason: str = "",
           clients: int = 1, seed: int = 0, family: str = "relational") -> dict[str, Any]:
    """One result file: ``ops_per_sec`` for ``seconds`` (a steady per-second series), latencies log-normal
    around ``p50_us``."""
    rng = np.random.default_rng(seed)
    mix = MIXES[workload] if phase == "run" else {"insertproportion": 1.0}
    total = max(1, round(ops_per_sec * seconds)) if status in ("ok", "invalid") else 0
    histograms, operations = {}, {}
    left = total
    for i, (prop, share) in enumerate(mix.items()):
        n = left if i == len(mix) - 1 else round(total * share)
        left -= n
        if n <= 0:
            continue
        hist = new_histogram()
        record_many(hist, (p50_us * 1000 * np.exp(rng.normal(0, 0.5, n))).astype(np.int64))
        histograms[f"{_OPS[prop]}|OK"] = encode(hist)
        operations[_OPS[prop]] = {"status_counts": {"OK": n}, "latency": summarize(hist, seconds)}
    whole = int(seconds)
    series = [round(ops_per_sec * (1 + 0.01 * rng.normal())) for _ in range(whole)]
    if seconds > whole or not series:
        series.append(total - sum(series))
    out: dict[str, Any] = {
        "kind": "storagebench.result", "schema_version": 1, "run_id": f"made-r{index}", "store": store,
        "workload": workload, "phase": phase, "status": status,
        "workload_description": f"made {workload}: a description as long as YCSB's, of the mix and its distribution",
        "reason": reason, "started_at": f"2026-01-01T00:00:{index:02d}+00:00",
        "harness": {"version": "test", "commit": "0" * 40, "dirty": False},
        "machine": {"cpu": "test cpu", "cpu_count": 2, "memory_gib": 8, "platform": "Linux-6.1-x86_64"},
        "server": {"engine": store, "label": f"{store} (file /root/.cache/storagebench/data/embedded/{store}.db)"},
        "client": {},
        "capabilities": {**CAPS, "family": family},
        "durability": {"profile": "durable", "settings": {}, "observed": False, "honoured": None,
                       "note": "this adapter does not report its durability", "caveat": "about 0.15 ms here"},
        "seed": seed, "repeat": {"index": index, "of": of},
        "config": {"threads": clients, "processes": 1, "client_layout": {"clients": clients, "processes": 1},
                   "workload": {"name": workload, "recordcount": 1000, **mix}},
        "noise": {"fsync_p50_us": 222.0, "fsync_p99_us": 810.0, "loadavg": [0.5, 0.5, 0.5]},
        "duration_s": seconds, "totals": {"operations": total, "failed": 0, "ops_per_sec": total / seconds},
        "operations": operations, "histograms": histograms, "timeseries": {"interval_s": 1, "ops": series},
        "first_error": reason if status == "invalid" else None, "errors": {},
    }
    if phase == "run":
        out["steady_state"] = steady_state(series[:whole]).as_dict()
    else:
        out["footprint"] = {"bytes": 1_000_000, "records": 1000, "bytes_per_record": 1000.0}
    return out


def write(run_dir: Path, results: list[dict[str, Any]]) -> Path:
    for r in results:
        index = r["repeat"]["index"] if r["repeat"]["of"] > 1 else None
        write_json(result_path(run_dir, r["store"], r["workload"], r["phase"], index), r)
    return run_dir


def repeats(store: str, workload: str, n: int, ops_per_sec: float, spread: float = 0.02,
            **kw: Any) -> list[dict[str, Any]]:
    """Load and run files of ``n`` repeats; run throughput ``ops_per_sec`` x (1 +- spread) across them."""
    out = []
    for i in range(1, n + 1):
        factor = 1 + spread * (2 * (i - 1) / max(1, n - 1) - 1)
        out.append(result(store, workload, "load", seconds=1.0, index=i, of=n, seed=i, **kw))
        out.append(result(store, workload, "run", ops_per_sec=ops_per_sec * factor, index=i, of=n, seed=100 + i, **kw))
    return out


def rate_sweep(run_dir: Path, store: str, capacity: float, best: float, objective_ms: float = 10.0) -> dict[str, Any]:
    """A rate sweep file as ``storagebench sweep --ladder rate`` writes it: intended p99 grows with the rate."""
    steps = [{"target": 0.0, "ops_per_sec": capacity, "failed": 0, "sustainable": None,
              "service": {"p99_us": 900.0}, "intended": {"p99_us": 900.0}}]
    for f in (0.25, 0.5, 0.7, 0.85, 1.0, 1.15):
        rate = round(f * capacity, 1)
        achieved = min(rate, capacity)
        intended = 800.0 * math.exp(4 * achieved / capacity) if achieved < best * 1.01 else 50_000.0
        steps.append({"target": rate, "ops_per_sec": achieved, "failed": 0,
                      "service": {"p99_us": 700.0 * (1 + achieved / capacity)}, "intended": {"p99_us": intended},
                      "sustainable": intended <= objective_ms * 1000})
    steps.append({"target": best, "ops_per_sec": best, "failed": 0, "service": {"p99_us": 900.0},
                  "intended": {"p99_us": objective_ms * 900}, "sustainable": True})
    record = {"kind": "storagebench.sweep", "run_id": "made", "store": store, "workload": "c", "ladder": "rate",
              "status": "ok", "reason": "", "step_seconds": 4.0, "config": {"threads": 1},
              "steps": steps, "objective": {"percentile": 99.0, "max_ms": objective_ms,
                                            "label": f"p99 <= {objective_ms:g} ms", "on": "intended latency"},
              "capacity_ops_per_sec": capacity, "max_sustainable_ops_per_sec": best, "max_sustainable_target": best,
              "load": {"records": 1000, "footprint": {"bytes": 2_000_000,
                                                      "bytes_per_record": 2000.0 if store == "sqlite" else 900.0}}}
    write_json(run_dir / f"sweep-{store}-c-rate.json", record)
    return record


def ladder_sweep(run_dir: Path, store: str, ladder: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """A clients or records sweep file: ``steps`` as :mod:`storagebench.running.sweep` writes them."""
    record = {"kind": "storagebench.sweep", "run_id": "made", "store": store, "workload": "c", "ladder": ladder,
              "status": "ok", "reason": "", "step_seconds": 4.0, "config": {"threads": 1}, "steps": steps}
    write_json(run_dir / f"sweep-{store}-c-{ladder}.json", record)
    return record


def clients_steps(per_client: float, clients: tuple[int, ...] = (1, 2, 4)) -> list[dict[str, Any]]:
    return [{"threads": n, "ops_per_sec": per_client * n ** 0.8, "service": {"p99_us": 500.0 * n}} for n in clients]


def records_steps(bytes_per_record: float, records: tuple[int, ...] = (1000, 10_000, 100_000),
                  memory: int = 2**30, cold: bool = False) -> list[dict[str, Any]]:
    """Steps of a records ladder; each one's footprint over ``memory``; ``cold``: also run cold (slower)."""
    return [{"records": n, "ops_per_sec": 5000 / (1 + n / 1e5), "service": {"p99_us": 400.0},
             "load": {"records": n, "seconds": n / 20_000, "records_per_sec": 20_000.0,
                      "footprint": {"bytes": int(n * bytes_per_record), "bytes_per_record": bytes_per_record}},
             "data_to_memory": n * bytes_per_record / memory,
             "memory_denominator": {"what": "engine memory cap" if cold else "machine RAM", "bytes": memory},
             **({"cold": {"ops_per_sec": 2500 / (1 + n / 1e5), "cache": {"state": "cold"}}} if cold else {})}
            for n in records]
