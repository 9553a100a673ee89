"""Harness overhead: YCSB-C on the null adapter with full measurement (timing proxy + HdrHistograms).

Prints ops/s per process, the per-operation overhead in µs, and the 2-process / 1-process ratio.
Targets: >= 1 M ops/s per process (issue 13; issue 2 asked 250 k), >= 1.8x with 2 processes.
With ``--rss`` it also prints the runner's peak RSS after 2 M and after 20 M null operations (each in a
fresh process): memory must stay flat in the operation count (issue 13: growth < 20 MB).

    .venv/bin/python benchmarks/overhead.py [--ops 2000000] [--repeat 3] [--rss]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource

from storagebench.workloads.spec import resolve

from storagebench.running.phase import run_phase
from storagebench.running.runner import PhasePlan


def measure(processes: int, ops_per_process: int) -> tuple[float, int]:
    spec = resolve("c", {"recordcount": 100_000, "operationcount": ops_per_process * processes})
    outcome = run_phase(PhasePlan("null", {}, spec, "run", "sbench_overhead", 42, threads=1, processes=processes))
    assert not outcome.fatal, outcome.fatal
    count = sum(h.get_total_count() for h in outcome.merged["histograms"].values())
    return count / outcome.measured_seconds, count


def _peak_rss(ops: int, queue: object) -> None:
    measure(1, ops)
    queue.put(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # type: ignore[attr-defined]


def peak_rss_mb(ops: int) -> float:
    """Peak RSS (MB) of a fresh process that ran ``ops`` null operations through the runner."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_peak_rss, args=(ops, queue))
    proc.start()
    rss = float(queue.get())
    proc.join()
    return rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=2_000_000, help="operations per process")
    parser.add_argument("--repeat", type=int, default=3, help="runs per setting; the best is reported")
    parser.add_argument("--rss", action="store_true", help="also print peak RSS after 2 M and 20 M operations")
    args = parser.parse_args()
    if args.rss:
        small, large = peak_rss_mb(2_000_000), peak_rss_mb(20_000_000)
        print(f"runner peak RSS: {small:,.1f} MB after 2 M ops, {large:,.1f} MB after 20 M ops; "
              f"growth {large - small:+,.1f} MB   target < 20 MB")
    print(f"machine: {os.cpu_count()} cores; YCSB-C (zipfian reads), null adapter, {args.ops:,} ops per process")
    best: dict[int, float] = {}
    for processes in (1, 2):
        rates = []
        for _ in range(args.repeat):
            rate, count = measure(processes, args.ops)
            rates.append(rate)
            print(f"  {processes} process(es): {rate:,.0f} ops/s total ({count:,} ops recorded)")
        best[processes] = max(rates)
    per_proc = best[1]
    print(f"ops/s per process (1 process): {per_proc:,.0f}   target >= 1,000,000")
    print(f"per-operation overhead: {1e6 / per_proc:.2f} µs")
    print(f"ops/s with 2 processes: {best[2]:,.0f} ({best[2] / 2:,.0f} per process)")
    print(f"ratio 2 processes / 1 process: {best[2] / best[1]:.2f}x   target >= 1.8x")


if __name__ == "__main__":
    main()
