"""Nights made for the purpose: one real run as a template, then copies whose figures and noise probe the
test sets (a store slower by a factor, a machine slower by a factor), with a small seeded jitter per
result file so that no two nights tie.  Used by the decision-rule and history-page tests."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from storagebench.measuring.measurement import decode, encode, new_histogram

#: the template: 2 stores x 2 workloads x (throughput, p99, load time, footprint) = 16 series
STORES, WORKLOADS, REPEATS = ("sqlite", "localdir"), ("a", "c"), 6


def template(base: Path) -> Path:
    """One real run of the template's stores and workloads (small counts, two repeats: the file names of
    repeats); each night builds its ``REPEATS`` repeats from the first, jittered."""
    from storagebench.cli import main

    env = {"STORAGEBENCH_SQLITE_PATH": str(base / "s.db"), "STORAGEBENCH_LOCALDIR_ROOT": str(base / "ld")}
    os.environ.update(env)
    try:
        assert main(["run", "--stores", ",".join(STORES), "--workloads", ",".join(WORKLOADS), "--repeat",
                     "2", "--results-dir", str(base / "template"), "--run-id", "run", "--no-report",
                     "-p", "recordcount=100", "-p", "operationcount=300"]) == 0
    finally:
        for key in env:
            del os.environ[key]
    return base / "template" / "run"


def _scaled_histogram(text: str, factor: float) -> str:
    source, out = decode(text), new_histogram()
    for item in source.get_recorded_iterator():
        out.record_value(max(1, round(item.value_iterated_to * factor)), item.count_at_value_iterated_to)
    return encode(out)


def _slow_down(result: dict[str, Any], factor: float) -> None:
    """Every figure of one result file ``factor`` times slower (throughput divided, times multiplied)."""
    totals = result["totals"]
    for key in ("ops_per_sec", "ok_ops_per_sec"):
        if totals.get(key):
            totals[key] /= factor
    result["duration_s"] *= factor
    result["histograms"] = {k: _scaled_histogram(v, factor) for k, v in result["histograms"].items()}


def night(template_run: Path, nights: Path, name: str, day: int, slower: Mapping[str, float] | None = None,
          machine_slower: float = 1.0, seed: int = 0) -> Path:
    """A copy of the template as night ``name`` (started ``day`` days after it, its own commit): stores in
    ``slower`` that many times slower, the noise probe that many times slower with ``machine_slower``
    (CPU and memcpy rates divided, fsync latency and load multiplied), 1 % jitter per file."""
    rng = random.Random(f"{name}-{seed}")
    out = nights / name / "run"
    out.mkdir(parents=True)
    for path, index in ((p, i) for p in sorted(template_run.glob("*__*__*__r1.json")) for i in range(1, REPEATS + 1)):
        result = json.loads(path.read_text())
        result["repeat"] = {**result["repeat"], "index": index, "of": REPEATS}
        started = dt.datetime.fromisoformat(result["started_at"]) + dt.timedelta(days=day)
        result["started_at"] = started.isoformat()
        result["harness"]["commit"] = f"{day:02d}" + "c0ffee" * 6 + "00"
        noise = result["noise"]
        noise["cpu_loops_per_sec"] /= machine_slower
        noise["memory_copy_gb_per_sec"] /= machine_slower
        noise["fsync_p50_us"] *= machine_slower
        noise["loadavg"] = [max(2.0, v) * machine_slower for v in noise["loadavg"]]
        factor = (slower or {}).get(result["store"], 1.0) * (1 + rng.uniform(-0.01, 0.01))
        _slow_down(result, factor)
        (out / path.name.replace("__r1.json", f"__r{index}.json")).write_text(json.dumps(result))
    return nights / name
