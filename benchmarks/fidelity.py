"""YCSB fidelity figures: what a run reports versus what YCSB would, on the same workload file.

Prints, for the built-in workloads:

* F: operations reported for ``operationcount`` read/read-modify-write operations (YCSB's OVERALL count);
* D, 1 thread: share of reads that hit the newest record (YCSB's acknowledged-counter algorithm: ~10.7 %);
* D, 4 threads on SQLite: reads answered NOT_FOUND (keys chosen before they were inserted);
* E (1,000 records, 1,000 operations, 20 seeds): share of scans starting at key numbers 0-99 (YCSB's
  scrambled zipfian with redraw: ~9.7 %).

    .venv/bin/python benchmarks/fidelity.py [--ops 20000]

Key choices are observed through a small in-memory recording store (this script only) and the SQLite
adapter on a temporary file; the figures come from the same runner every store uses.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from storagebench.adapters.base import Adapter, Capabilities, Query, QueryResult, Record, ServerInfo
from storagebench.workloads.generators import KeyNamer
from storagebench.workloads.spec import resolve

from storagebench.errors import NotFound
from storagebench.running import runner
from storagebench.running.phase import run_phase
from storagebench.running.runner import PhasePlan


class Recording(Adapter):
    """Keeps the set of keys; logs which key number each read / scan asked for."""

    name = "recording"
    capabilities: ClassVar[Capabilities] = Capabilities(stores_data=False)
    lock = threading.Lock()
    keys: ClassVar[dict[str, int]] = {}
    names: ClassVar[dict[str, int]] = {}
    newest = -1
    reads: ClassVar[list[tuple[int, int]]] = []  # (key number read, newest key number at that moment)
    scans: ClassVar[list[int]] = []

    @classmethod
    def reset(cls, names: dict[str, int]) -> None:
        cls.keys, cls.names, cls.newest, cls.reads, cls.scans = {}, names, -1, [], []

    def connect(self) -> None:
        pass

    def prepare(self, namespace: str, fields: Sequence[str]) -> None:
        pass

    def drop(self, namespace: str) -> None:
        pass

    def server_info(self) -> ServerInfo:
        return ServerInfo("recording", "0")

    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        with self.lock:
            num = self.names[key]
            type(self).keys[key] = num
            type(self).newest = max(self.newest, num)

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        with self.lock:
            self.reads.append((self.names[key], self.newest))
            if key not in self.keys:
                raise NotFound(key)
        return {}

    def update(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        pass

    def delete(self, namespace: str, key: str) -> None:
        pass

    def scan(self, namespace: str, start_key: str, count: int,
             fields: Sequence[str] | None = None) -> list[tuple[str, Record]]:
        with self.lock:
            self.scans.append(self.names[start_key])
        return []

    def query(self, namespace: str, query: Query) -> QueryResult:
        return QueryResult(0, None)


def _recorded(workload: str, props: dict[str, Any], threads: int = 1, seed: int = 42) -> dict[str, Any]:
    spec = resolve(workload, props)
    span = spec.recordcount + spec.operationcount + 10
    Recording.reset(dict(zip(KeyNamer(spec).names(np.arange(span)), range(span), strict=True)))
    original = runner.load_adapter
    runner.load_adapter = lambda name: Recording  # type: ignore[assignment]
    try:
        for phase in ("load", "run"):
            outcome = run_phase(PhasePlan("recording", {}, spec, phase, "sbench_fid", seed, threads=threads))
            assert not outcome.fatal, outcome.fatal
    finally:
        runner.load_adapter = original  # type: ignore[assignment]
    return outcome.merged


def reported_operations(merged: dict[str, Any]) -> int:
    """The run's operation total as the result file's ``totals.operations`` computes it."""
    from storagebench.measuring import measurement

    fn = getattr(measurement, "operation_totals", None)
    if fn is not None:
        return int(fn(merged)[0])
    return sum(h.get_total_count() for k, h in merged["histograms"].items() if not k.startswith("verify|"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=20_000, help="run-phase operations for D and E")
    args = parser.parse_args()

    merged = _recorded("f", {"recordcount": 1000, "operationcount": 1000})
    print(f"F: 1,000 operations reported as {reported_operations(merged):,}")

    _recorded("d", {"recordcount": 1000, "operationcount": args.ops})
    reads = np.array(Recording.reads)
    share = float(np.mean(reads[:, 0] == reads[:, 1]))
    print(f"D, 1 thread: {share:.2%} of {len(reads):,} reads hit the newest record")

    with tempfile.TemporaryDirectory() as tmp:
        spec = resolve("d", {"recordcount": 1000, "operationcount": args.ops})
        options = {"path": str(Path(tmp) / "d.db")}
        from storagebench.registry import load_adapter

        control = load_adapter("sqlite")(options)
        control.connect()
        control.prepare("sbench_fid_d", spec.field_names())
        for phase in ("load", "run"):
            outcome = run_phase(PhasePlan("sqlite", options, spec, phase, "sbench_fid_d", 42, threads=4))
            assert not outcome.fatal, outcome.fatal
        control.close()
        hists = outcome.merged["histograms"]
        missing = hists["read|NOT_FOUND"].get_total_count() if "read|NOT_FOUND" in hists else 0
        total = sum(h.get_total_count() for k, h in hists.items() if k.startswith("read|"))
        print(f"D, 4 threads (sqlite): {missing:,} of {total:,} reads NOT_FOUND")

    scans: list[int] = []
    for seed in range(20):  # YCSB's E file as it is (1,000 records, 1,000 operations), 20 seeds
        _recorded("e", {"recordcount": 1000, "operationcount": 1000}, seed=seed)
        scans.extend(Recording.scans)
    print(f"E: {np.mean(np.array(scans) < 100):.2%} of {len(scans):,} scans start at key numbers 0-99")

if __name__ == "__main__":
    main()
