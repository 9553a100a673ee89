"""pgbench -S (select-only, C client, prepared) against the harness's YCSB-C on the postgres adapter.

Both read one row by primary key from a table of the same size, with the same number of clients, on
the same server: the ratio says how much of PostgreSQL's point-read throughput the Python harness
(psycopg2, timing proxy, HdrHistograms, key generator) keeps.  pgbench gets a database of its own
(``sbench_pgbench``, dropped afterwards) so its ``pgbench_*`` tables never mix with anything else; the
harness uses a ``sbench_`` table in the adapter's database, dropped afterwards.

    storagebench services up postgres
    .venv/bin/python benchmarks/pgbench_compare.py [--rows 100000] [--clients 1] [--seconds 15] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from typing import Any

from storagebench.adapters.postgres.adapter import PostgresAdapter
from storagebench.adapters.postgres.service import PORTS, bin_dir
from storagebench.workloads.spec import WorkloadSpec, resolve

from storagebench.running.phase import run_phase
from storagebench.running.runner import PhasePlan
from storagebench.services.manager import load_endpoints
from storagebench.services.ports import HOST

PGBENCH_DB = "sbench_pgbench"
PGBENCH_ROWS_PER_SCALE = 100_000


def _connection_env(options: dict[str, Any]) -> dict[str, str]:
    env = {**os.environ, "PGHOST": str(options.get("host", HOST)),
           "PGPORT": str(options.get("port", PORTS["sql"])),
           "PGUSER": str(options.get("user", "postgres")), "PGOPTIONS": "-c client_min_messages=warning"}
    if options.get("password"):
        env["PGPASSWORD"] = str(options["password"])
    return env


def _psql(env: dict[str, str], sql: str) -> None:
    subprocess.run([str(bin_dir() / "psql"), "-X", "-q", "-d", "postgres", "-c", sql], env=env, check=True)


def pgbench_setup(env: dict[str, str], rows: int) -> None:
    _psql(env, f"DROP DATABASE IF EXISTS {PGBENCH_DB}")
    _psql(env, f"CREATE DATABASE {PGBENCH_DB}")
    scale = max(1, rows // PGBENCH_ROWS_PER_SCALE)
    subprocess.run([str(bin_dir() / "pgbench"), "-i", "-q", "-s", str(scale), PGBENCH_DB], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def pgbench_tps(env: dict[str, str], clients: int, seconds: int) -> float:
    out = subprocess.run([str(bin_dir() / "pgbench"), "-S", "-M", "prepared", "-n", "-c", str(clients),
                          "-j", str(clients), "-T", str(seconds), PGBENCH_DB],
                         env=env, check=True, capture_output=True, text=True).stdout
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
    if not match:
        raise RuntimeError(f"no tps line in pgbench output:\n{out}")
    return float(match.group(1))


def harness_tps(options: dict[str, Any], spec: WorkloadSpec, namespace: str, clients: int,
                phase: str = "run") -> tuple[float, int]:
    outcome = run_phase(PhasePlan("postgres", options, spec, phase, namespace, 42, threads=clients))
    if outcome.fatal or outcome.aborted:
        raise RuntimeError(f"{phase} phase failed: {outcome.fatal + outcome.aborted}")
    count = sum(h.get_total_count() for k, h in outcome.merged["histograms"].items() if not k.startswith("verify|"))
    return count / outcome.measured_seconds, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="table size (pgbench scale = rows / 100,000)")
    parser.add_argument("--clients", type=int, default=1, help="pgbench clients = harness threads")
    parser.add_argument("--seconds", type=int, default=15, help="pgbench duration")
    parser.add_argument("--operations", type=int, default=50_000, help="harness YCSB-C operations per round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (pgbench then harness); best is reported")
    args = parser.parse_args()
    options = load_endpoints().get("postgres")
    if options is None:
        sys.exit("postgres is not up: run `storagebench services up postgres` first")
    with PostgresAdapter(options) as adapter:
        server = adapter.server_info().label()
    print(f"server: {server}; {os.cpu_count()} cores; {args.rows:,} rows; {args.clients} client(s)")
    started = time.monotonic()
    env = _connection_env(options)
    spec = resolve("c", {"recordcount": args.rows, "operationcount": args.operations})
    namespace = f"sbench_pgbench_cmp_{os.getpid()}"
    native: list[float] = []
    harness: list[float] = []
    with PostgresAdapter(options) as control:
        control.drop(namespace)
        control.prepare(namespace, spec.field_names())
        try:
            pgbench_setup(env, args.rows)
            harness_tps(options, spec, namespace, args.clients, "load")
            # alternate the two so that load from other processes on the machine hits both alike
            for round_ in range(1, args.repeat + 1):
                native.append(pgbench_tps(env, args.clients, args.seconds))
                rate, count = harness_tps(options, spec, namespace, args.clients)
                harness.append(rate)
                print(f"  round {round_}: pgbench {native[-1]:10,.0f} TPS   harness {rate:10,.0f} TPS ({count:,} ops)")
        finally:
            _psql(env, f"DROP DATABASE IF EXISTS {PGBENCH_DB}")
            control.drop(namespace)
    print(f"pgbench -S -M prepared, best of {args.repeat} x {args.seconds}s:   {max(native):10,.0f} TPS")
    print(f"storagebench YCSB-C, postgres adapter, best of {args.repeat}: {max(harness):10,.0f} TPS")
    print(f"harness / pgbench: {max(harness) / max(native):.2f}   ({time.monotonic() - started:.0f}s total)")

if __name__ == "__main__":
    main()
