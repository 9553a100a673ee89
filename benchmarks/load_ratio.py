"""The load phase against the store's own bulk path, on the same data shape: the ratio issue 26 asks for.

For each store:

* **harness**: ``storagebench run --workloads c -p recordcount=N -p loadbatchsize=B`` (values generated and
  made self-checking, every batch timed, the ledger kept), load records per second from the load phase's
  result (records ÷ the phase's measured ``duration_s``);
* **bulk**: the adapter's own ``write_batch`` (PostgreSQL ``COPY FROM STDIN``, Parquet objects for S3 and
  HDFS, the Kudu and HBase batch clients, ...) with the same number of records in the same batches,
  generated before the clock starts, no harness around it;
* PostgreSQL also: one ``psql \\copy`` of the same rows from a CSV file written beforehand.

The ratio is harness records/s ÷ bulk records/s (target >= 0.8).  Each side runs ``--repeat`` times, the
best counts; run it on a quiet machine.

    storagebench services up postgres
    .venv/bin/python benchmarks/load_ratio.py [--records 200000] [--batch 1000] [--repeat 2] [--stores postgres]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from storagebench.workloads.spec import resolve
from storagebench.workloads.values import Values

from storagebench.registry import load_adapter
from storagebench.services.manager import load_endpoints

NAMESPACE = "sbench_load_ratio"
BIN = Path(sys.executable).parent


def harness(store: str, records: int, batch: int, processes: int, workdir: Path) -> float:
    out = workdir / "results"
    done = subprocess.run([str(BIN / "storagebench"), "run", "--stores", store, "--workloads", "c", "--no-report",
                           "--results-dir", str(out), "--run-id", "lr", "--processes", str(processes),
                           "-p", f"recordcount={records}", "-p", f"loadbatchsize={batch}", "-p", "operationcount=1"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{store}: `storagebench run` exit {done.returncode}: {done.stderr.strip()[-600:]}")
    result = json.loads(next((out / "lr").glob(f"{store}__c__load*.json")).read_text())
    subprocess.run(["rm", "-rf", str(out)], check=True)
    if result["status"] != "ok":
        raise SystemExit(f"{store}: load {result['status']}: {result['reason']}")
    return records / float(result["duration_s"])


def tables(records: int, batch: int) -> list[pa.Table]:
    spec = resolve("c", {"recordcount": records})
    values = Values(spec, 42)
    out = []
    for lo in range(0, records, batch):
        keys = values.namer.names(np.arange(lo, min(records, lo + batch), dtype=np.int64))
        columns = values.load_columns(keys)
        assert columns is not None
        out.append(pa.table({"key": keys, **columns}))
    return out


def bulk(adapter: Any, fields: list[str], batches: list[pa.Table]) -> float:
    adapter.drop(NAMESPACE)
    adapter.prepare(NAMESPACE, fields)
    t0 = time.perf_counter()
    for table in batches:
        adapter.write_batch(NAMESPACE, table)
    seconds = time.perf_counter() - t0
    adapter.drop(NAMESPACE)
    return sum(t.num_rows for t in batches) / seconds


def psql_copy(options: dict[str, Any], adapter: Any, fields: list[str], batches: list[pa.Table],
              workdir: Path) -> float:
    from storagebench.adapters.postgres.service import bin_dir

    data = pa.concat_tables(batches)
    path = workdir / "rows.csv"
    pacsv.write_csv(data, path, pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
    command = f"\\copy {NAMESPACE} ({', '.join(data.column_names)}) FROM '{path}' WITH (FORMAT csv)"
    argv = [str(bin_dir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", options.get("host", "127.0.0.1"),
            "-p", str(options.get("port", 5432)), "-U", options.get("user", "postgres"),
            "-d", options.get("database", "postgres"), "-c", command]
    env = {"PGPASSWORD": str(options.get("password", "")), "PATH": "/usr/bin:/bin"}
    adapter.drop(NAMESPACE)
    adapter.prepare(NAMESPACE, fields)
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, env=env)
    seconds = time.perf_counter() - t0
    adapter.drop(NAMESPACE)
    return data.num_rows / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000, help="records per write_batch call (loadbatchsize)")
    parser.add_argument("--processes", type=int, default=1, help="harness load processes")
    parser.add_argument("--repeat", type=int, default=2, help="runs per side; the best is reported")
    parser.add_argument("--stores", default="postgres")
    args = parser.parse_args()
    batches = tables(args.records, args.batch)
    fields = resolve("c", {}).field_names()
    endpoints = load_endpoints()
    with tempfile.TemporaryDirectory(prefix="sbench-load-ratio-") as tmp:
        for store in [s.strip() for s in args.stores.split(",") if s.strip()]:
            cls = load_adapter(store)
            options = endpoints.get(store, {}) if cls.default_store else endpoints.get(store)
            if options is None:
                print(f"{store}: not up (storagebench services up {store})")
                continue
            adapter = cls(options)
            adapter.connect()
            try:
                rates = {"adapter write_batch (bulk path, data made before)":
                         max(bulk(adapter, fields, batches) for _ in range(args.repeat))}
                if store == "postgres":
                    rates["psql \\copy of one CSV file"] = max(
                        psql_copy(options, adapter, fields, batches, Path(tmp)) for _ in range(args.repeat))
            finally:
                adapter.close()
            ours = max(harness(store, args.records, args.batch, args.processes, Path(tmp))
                       for _ in range(args.repeat))
            print(f"{store}: {args.records:,} records x {len(fields)} fields, batches of {args.batch:,}")
            if not cls.capabilities.batch_rows_are_records:
                print("  (its batches are not records the reads see: the harness loads record by record)")
            print(f"  {'storagebench load phase':<52}: {ours:10,.0f} records/s")
            for label, rate in rates.items():
                print(f"  {label:<52}: {rate:10,.0f} records/s   ratio {ours / rate:.2f}")


if __name__ == "__main__":
    main()
