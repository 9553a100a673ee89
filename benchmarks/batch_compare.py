"""Batch ingest through the harness against the plain tool doing the same work, on the same server.

* PostgreSQL: :func:`storagebench.running.batch.write_phase` with the postgres adapter (``COPY FROM STDIN`` per
  batch of ``--batchsize`` rows, timing proxy, HdrHistograms) against one ``psql \\copy`` of the same rows
  from a CSV file written beforehand (not timed).
* S3: :func:`storagebench.running.batch.write_phase` with the s3 adapter (each batch serialised to Parquet and
  uploaded) against plain boto3 ``put_object`` calls of the same Parquet bytes, serialised beforehand
  (not timed), with the same client settings as the adapter (checksums only where required).

The ratio is baseline seconds / harness seconds: the share of the plain tool's throughput the harness
keeps (target >= 90%).  Each side runs ``--repeat`` times into a freshly prepared namespace; the best
run counts.

    storagebench services up postgres s3
    .venv/bin/python benchmarks/batch_compare.py [--rows 100000] [--batchsize 10000] [--repeat 3] [--stores postgres,s3]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from storagebench.adapters.base import Adapter
from storagebench.workloads.spec import WorkloadSpec, resolve

from storagebench.registry import load_adapter
from storagebench.running.batch import expected_table, table_bytes, write_phase
from storagebench.services.manager import load_endpoints

NAMESPACE = "sbench_batch_compare"


def fresh(adapter: Adapter, spec: WorkloadSpec) -> None:
    adapter.drop(NAMESPACE)
    adapter.prepare(NAMESPACE, spec.field_names())


def harness_seconds(adapter: Adapter, spec: WorkloadSpec, data: pa.Table) -> float:
    fresh(adapter, spec)
    result = write_phase(adapter, spec, NAMESPACE, data)
    if result.problems:
        raise SystemExit(f"harness write failed: {result.problems}")
    return result.outcome.measured_seconds


def postgres_baseline(options: dict[str, Any], adapter: Adapter, spec: WorkloadSpec, data: pa.Table,
                      csv_path: Path) -> Callable[[], float]:
    from storagebench.adapters.postgres.service import bin_dir

    columns = ", ".join(data.column_names)
    command = f"\\copy {NAMESPACE} ({columns}) FROM '{csv_path}' WITH (FORMAT csv)"
    argv = [str(bin_dir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", options.get("host", "127.0.0.1"),
            "-p", str(options.get("port", 5432)), "-U", options.get("user", "postgres"),
            "-d", options.get("database", "postgres"), "-c", command]

    def run() -> float:
        fresh(adapter, spec)
        t0 = time.perf_counter()
        subprocess.run(argv, check=True)
        return time.perf_counter() - t0

    return run


def _parquet(chunk: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(chunk, buffer, compression="zstd")  # what the s3 adapter writes
    return buffer.getvalue()


def s3_baseline(adapter: Any, spec: WorkloadSpec, data: pa.Table, encode: bool) -> Callable[[], float]:
    """put_object per batch; ``encode``: serialise each batch inside the timed loop (else beforehand)."""
    from storagebench.adapters.s3.adapter import BATCH_PREFIX, bucket_name

    chunks = [data.slice(start, spec.batchsize) for start in range(0, data.num_rows, spec.batchsize)]
    bodies = [] if encode else [_parquet(c) for c in chunks]
    client = adapter.client  # a boto3 client configured like the adapter's (endpoint, credentials, checksums)

    def run() -> float:
        fresh(adapter, spec)
        bucket = bucket_name(NAMESPACE)
        t0 = time.perf_counter()
        for i, chunk in enumerate(chunks):
            body = _parquet(chunk) if encode else bodies[i]
            client.put_object(Bucket=bucket, Key=f"{BATCH_PREFIX}part-{uuid.uuid4().hex}.parquet", Body=body)
        return time.perf_counter() - t0

    return run


def compare(store: str, spec: WorkloadSpec, data: pa.Table, repeat: int, workdir: Path) -> None:
    options = load_endpoints().get(store)
    if options is None:
        print(f"{store}: not up (storagebench services up {store})")
        return
    adapter = load_adapter(store)(options)
    adapter.connect()
    try:
        baselines: dict[str, Callable[[], float]] = {}
        if store == "postgres":
            csv_path = workdir / "rows.csv"
            pacsv.write_csv(data, csv_path, pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
            baselines["psql \\copy (one COPY of a CSV file)"] = postgres_baseline(options, adapter, spec, data,
                                                                                 csv_path)
        else:
            baselines["boto3 put_object, bytes encoded before"] = s3_baseline(adapter, spec, data, encode=False)
            baselines["pyarrow encode + boto3 put_object"] = s3_baseline(adapter, spec, data, encode=True)
        harness = min(harness_seconds(adapter, spec, data) for _ in range(repeat))
        plain = {label: min(run() for _ in range(repeat)) for label, run in baselines.items()}
        adapter.drop(NAMESPACE)
    finally:
        adapter.close()
    mb = table_bytes(data) / 1e6
    print(f"{store}: {data.num_rows:,} rows, {mb:.1f} MB of values, batches of {spec.batchsize:,}")
    for name, seconds in (("harness write_phase", harness), *plain.items()):
        print(f"  {name:<40}: {seconds:7.3f} s  {data.num_rows / seconds:10,.0f} rows/s  {mb / seconds:6.1f} MB/s")
    for label, seconds in plain.items():
        print(f"  harness / [{label}] throughput: {seconds / harness:.1%} (target >= 90%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batchsize", type=int, default=10_000, help="rows per write_batch call")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side; the best is reported")
    parser.add_argument("--stores", default="postgres,s3")
    args = parser.parse_args()
    spec = resolve("batch", {"recordcount": args.rows, "batchsize": args.batchsize})
    data = expected_table(spec, 42)
    with tempfile.TemporaryDirectory(prefix="sbench-batch-compare-") as tmp:
        for store in [s.strip() for s in args.stores.split(",") if s.strip()]:
            compare(store, spec, data, args.repeat, Path(tmp))


if __name__ == "__main__":
    main()
