"""YCSB-A and YCSB-C through the harness on real engines, with the null adapter alongside.

The null adapter's row is the harness's own cost per operation: when a store's p99 is orders of magnitude
above it, the store (not the harness) dominates.  Engines must be up (`storagebench services up ...`).

    .venv/bin/python benchmarks/engines.py --stores hdfs,hbase,kudu,neo4j [--records 2000] [--ops 4000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from storagebench.cli import main as cli
from storagebench.results.files import load_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", default="hdfs,hbase,kudu,neo4j")
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--ops", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="sbench-engines-"))
    code = cli(["run", "--stores", f"null,{args.stores}", "--workloads", "a,c", "--results-dir", str(out),
                "--run-id", "bench", "--threads", str(args.threads), "-p", f"recordcount={args.records}",
                "-p", f"operationcount={args.ops}"])
    if code:
        sys.exit(code)
    rows = [r for r in load_results(out / "bench") if r["phase"] == "run"]
    print(f"\nYCSB A and C, {args.records:,} records, {args.ops:,} operations, {args.threads} threads "
          f"(report: {out / 'bench' / 'report.html'})")
    print(f"{'store':<10}{'workload':<10}{'ops/s':>12}{'read p99 µs':>14}{'update p99 µs':>15}  server")
    for r in sorted(rows, key=lambda r: (r["workload"], r["store"] != "null", r["store"])):
        ops = r.get("operations", {})
        read = ops.get("read", {}).get("latency", {}).get("p99_us")
        update = ops.get("update", {}).get("latency", {}).get("p99_us")
        rate = r.get("totals", {}).get("ops_per_sec") or 0
        print(f"{r['store']:<10}{r['workload']:<10}{rate:>12,.0f}{read or 0:>14,.1f}{update or 0:>15,.1f}  "
              f"{r['server']['label']}" + ("" if r["status"] == "ok" else f"  [{r['status']}: {r['reason']}]"))


if __name__ == "__main__":
    main()
