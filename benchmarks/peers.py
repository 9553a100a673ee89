"""storagebench side by side with go-ycsb and YCSB on the same servers: the same workload, alternated.

Builds (or finds, cached under ``$STORAGEBENCH_HOME/cache/peers``) the peer tools:

* go-ycsb v1.0.3 from the Go module proxy (``go install`` refuses it because of a ``replace`` directive:
  the module is downloaded, copied and ``go build ./cmd/go-ycsb`` runs inside the copy);
* YCSB core 0.17.0 from Maven Central (``site.ycsb:core``: it carries only BasicDB, the null-store peer;
  YCSB's bindings are not on Central);
* pgbench (PostgreSQL's client package) for PostgreSQL, where YCSB has no binding here;
* a bare-driver loop (``benchmarks/bare.py``): the adapter's own Python driver without the harness, a
  reference row that splits a gap into the harness's part and the driver's.

Then for each target (null store, PostgreSQL, MongoDB wire = FerretDB, S3 = versitygw) and each client
count (1, 2, 4) it runs YCSB workload C (100 % reads, 10 fields x 100 bytes, readallfields) with the
request distribution forced to zipfian for every tool (go-ycsb's own workload files say uniform), each
tool on its own loaded table of the same size, tools alternated run by run (ABAB...: drift hits all of
them).  It prints each tool's median throughput and p50/p99 over the repeats, the ratio storagebench /
best peer, and the harness's own share of each store's mean latency (storagebench's null-store cost per
operation / the store's mean latency), and each tool's client CPU per operation (user + system of all its
processes: storagebench's and the bare loop's client threads, the peers' whole processes), which on a
machine whose cores the server shares is throughput taken from the server.  Engines must be up
(``storagebench services up``).  A benchmark that prints figures, not a test; timings on a shared machine
are noisy (the spread is printed).

    .venv/bin/python benchmarks/peers.py [--targets null,postgres,mongodb,s3] [--clients 1,2,4]
        [--repeat 3] [--seconds 10] [--records 10000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bare
from storagebench.report.html import client_cpu_us

from storagebench.cli import main as storagebench
from storagebench.results.files import load_results
from storagebench.services.base import storagebench_home
from storagebench.services.manager import load_endpoints

GO_YCSB = "github.com/pingcap/go-ycsb"
GO_YCSB_VERSION = "v1.0.3"
YCSB_CORE = "site.ycsb:core:0.17.0"
#: records per target (S3 and FerretDB are slow to load: fewer records there)
RECORDS = {"null": 100_000, "postgres": 10_000, "mongodb": 2_000, "s3": 1_000}
WORKLOAD = {"recordcount": 0, "operationcount": 0, "readproportion": 1, "updateproportion": 0,
            "scanproportion": 0, "insertproportion": 0, "readallfields": "true", "fieldcount": 10,
            "fieldlength": 100, "requestdistribution": "zipfian"}


@dataclass
class Figure:
    ops_per_sec: float
    p50_us: float
    p99_us: float
    mean_us: float
    #: the client's CPU per operation (user + system, all its processes): what the tool itself costs the
    #: machine per operation, which on a machine whose cores the server shares is throughput lost
    cpu_us: float = math.nan


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def peers_dir() -> Path:
    return storagebench_home() / "cache" / "peers"


def build_go_ycsb() -> Path | None:
    """The go-ycsb binary, built once from the Go module proxy (None when Go is missing or it fails)."""
    binary = peers_dir() / f"go-ycsb-{GO_YCSB_VERSION}" / "go-ycsb"
    if binary.exists():
        return binary
    if shutil.which("go") is None:
        print("go-ycsb: no Go toolchain (install Go to compare with go-ycsb)")
        return None
    print(f"building go-ycsb {GO_YCSB_VERSION} (once; a few minutes) ...", flush=True)
    info = json.loads(subprocess.run(["go", "mod", "download", "-json", f"{GO_YCSB}@{GO_YCSB_VERSION}"],
                                     capture_output=True, text=True, check=True).stdout)
    src = binary.parent / "src"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(info["Dir"], src)
    for path in src.rglob("*"):
        path.chmod(path.stat().st_mode | 0o200)  # the module cache is read-only
    done = subprocess.run(["go", "build", "-o", str(binary), "./cmd/go-ycsb"], cwd=src)
    if done.returncode != 0:
        print("go-ycsb: build failed")
        return None
    return binary


def ycsb_classpath() -> str | None:
    """YCSB core 0.17.0 and its dependencies from Maven Central, resolved once with Maven."""
    target = peers_dir() / "ycsb-0.17.0"
    cp_file = target / "classpath.txt"
    if cp_file.exists():
        return cp_file.read_text().strip()
    if shutil.which("mvn") is None or shutil.which("java") is None:
        print("YCSB: needs java and mvn")
        return None
    group, artifact, version = YCSB_CORE.split(":")
    target.mkdir(parents=True, exist_ok=True)
    (target / "pom.xml").write_text(
        f"""<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>storagebench</groupId><artifactId>ycsb-peer</artifactId><version>1</version>
<dependencies><dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>
<version>{version}</version></dependency></dependencies></project>
""")
    done = subprocess.run(["mvn", "-B", "-q", "-f", str(target / "pom.xml"),
                           f"-Dmaven.repo.local={storagebench_home() / 'cache' / 'maven' / 'repo'}",
                           "dependency:build-classpath", f"-Dmdep.outputFile={cp_file}"])
    return cp_file.read_text().strip() if done.returncode == 0 and cp_file.exists() else None


def _props(records: int, ops: int) -> dict[str, Any]:
    return {**WORKLOAD, "recordcount": records, "operationcount": ops}


def _write_props(path: Path, props: dict[str, Any]) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in {"workload": "site.ycsb.workloads.CoreWorkload",
                                                       **props}.items()))
    return path


# -- storagebench ------------------------------------------------------------------------------------
def run_storagebench(target: str, clients: int, records: int, ops: int, out: Path, tag: str) -> Figure:
    props = _props(records, ops)
    args = ["run", "--stores", target, "--workloads", "c", "--clients", str(clients), "--no-report",
            "--results-dir", str(out), "--run-id", tag]
    for k, v in props.items():
        args += ["-p", f"{k}={v}"]
    code = storagebench(args)
    if code:
        raise RuntimeError(f"storagebench exited {code}")
    (r,) = [r for r in load_results(out / tag) if r["phase"] == "run"]
    lat = r["operations"]["read"]["latency"]
    cpu = client_cpu_us(r)
    return Figure(r["totals"]["ops_per_sec"], lat["p50_us"], lat["p99_us"], lat["mean_us"],
                  math.nan if cpu is None else cpu)


# -- go-ycsb -----------------------------------------------------------------------------------------
GO_DB = {"null": "basic", "postgres": "pg", "mongodb": "mongodb", "s3": "s3"}
_GO_LINE = re.compile(r"^(READ|TOTAL)\s+- (.*)$")


def go_ycsb_props(target: str) -> dict[str, Any]:
    ends = load_endpoints()
    if target == "postgres":
        pg = ends["postgres"]
        return {"pg.host": pg["host"], "pg.port": pg["port"], "pg.user": pg["user"], "pg.db": pg["database"],
                "pg.password": pg.get("password") or "", "pg.sslmode": "disable", "table": "sbench_peer_goycsb"}
    if target == "mongodb":
        m = ends["mongodb"]
        return {"mongodb.url": f"mongodb://{m['host']}:{m['port']}/sbench_peer?w=1", "table": "goycsb"}
    if target == "s3":
        s = ends["s3"]
        return {"s3.endpoint": s["endpoint_url"], "s3.region": s["region"], "s3.access_key": s["access_key"],
                "s3.secret_key": s["secret_key"], "s3.use_path_style": "true", "s3.bucket": "sbench-peer-goycsb"}
    return {}


def run_go_ycsb(binary: Path, target: str, clients: int, records: int, ops: int, work: Path,
                load: bool) -> Figure | None:
    props = {**_props(records, ops), **go_ycsb_props(target), "threadcount": clients}
    path = _write_props(work / f"go-{target}.properties", props)
    if load:
        subprocess.run([str(binary), "load", GO_DB[target], "-P", str(path), "-p", "threadcount=4"],
                       capture_output=True, text=True, check=True, timeout=1800)
    cpu = _children_cpu()
    done = subprocess.run([str(binary), "run", GO_DB[target], "-P", str(path)], capture_output=True, text=True,
                          timeout=1800)
    return _parse_go(done.stdout, _children_cpu() - cpu)


def _parse_go(text: str, cpu_s: float = math.nan) -> Figure | None:
    after = text.split("Run finished", 1)[-1]
    fields: dict[str, str] = {}
    for line in after.splitlines():
        m = _GO_LINE.match(line.strip())
        if m and m.group(1) == "READ":
            fields = dict(part.split(": ", 1) for part in m.group(2).split(", "))
    if not fields:
        return None
    count = float(fields.get("Count", "nan"))
    return Figure(float(fields["OPS"]), float(fields["50th(us)"]), float(fields["99th(us)"]),
                  float(fields["Avg(us)"]), 1e6 * cpu_s / count if count else math.nan)


# -- YCSB (Java) core: BasicDB -----------------------------------------------------------------------
def run_ycsb(classpath: str, clients: int, records: int, ops: int, work: Path) -> Figure | None:
    path = _write_props(work / "ycsb.properties", {**_props(records, ops), "hdrhistogram.percentiles": "50,99"})
    cpu = _children_cpu()
    done = subprocess.run(["java", "-cp", classpath, "site.ycsb.Client", "-t", "-db", "site.ycsb.BasicDB",
                           "-P", str(path), "-threads", str(clients), "-p", "basicdb.verbose=false"],
                          capture_output=True, text=True, timeout=1800)
    cpu = _children_cpu() - cpu  # the JVM's start and JIT included
    values: dict[tuple[str, str], float] = {}
    for line in done.stdout.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and parts[0].startswith("["):
            try:
                values[(parts[0], parts[1])] = float(parts[2])
            except ValueError:
                continue
    if ("[OVERALL]", "Throughput(ops/sec)") not in values:
        return None
    read = {k[1]: v for k, v in values.items() if k[0] == "[READ]"}
    count = read.get("Operations", 0)
    return Figure(values[("[OVERALL]", "Throughput(ops/sec)")], read.get("50thPercentileLatency(us)", 0),
                  read.get("99thPercentileLatency(us)", 0), read.get("AverageLatency(us)", 0),
                  1e6 * cpu / count if count else math.nan)


def _pg_env(pg: dict[str, Any]) -> dict[str, str]:
    """psql's and pgbench's environment: the server's password (from the endpoints file) in PGPASSWORD."""
    return {**os.environ, "PGPASSWORD": str(pg.get("password") or "")}


# -- pgbench -----------------------------------------------------------------------------------------
def run_pgbench(clients: int, records: int, seconds: float, work: Path, load: bool) -> Figure | None:
    """pgbench with a YCSB-C script: one row of 10 text fields by a random key, prepared (-M prepared), with
    its best thread count: a thread per core at most (``-j 2 -c 4`` made 103-104 k/s on 2 cores where
    ``-j 4`` made 94-101 k)."""
    pg = load_endpoints()["postgres"]
    conn = ["-h", str(pg["host"]), "-p", str(pg["port"]), "-U", str(pg["user"])]
    env = _pg_env(pg)
    table = "sbench_peer_pgbench"
    cols = ", ".join(f"field{i}" for i in range(10))
    if load:
        fill = ", ".join("repeat(md5(k::text), 4)::varchar(100)" for _ in range(10))
        sql = (f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (k int PRIMARY KEY, "
               + ", ".join(f"field{i} text" for i in range(10))
               + f"); INSERT INTO {table} SELECT k, {fill} FROM generate_series(0, {records - 1}) k;")
        subprocess.run(["psql", *conn, "-d", str(pg["database"]), "-q", "-c", sql], check=True,
                       capture_output=True, env=env)
    script = work / "ycsbc.sql"
    # pgbench's random_zipfian accepts s >= 1.001 only: the closest to YCSB's 0.99
    script.write_text(f"\\set k random_zipfian(0, {records - 1}, 1.001)\nSELECT {cols} FROM {table} WHERE k = :k;\n")
    log_dir = work / "pgbench-log"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir()
    cpu = _children_cpu()
    threads = min(clients, os.cpu_count() or 1)
    done = subprocess.run(["pgbench", *conn, "-n", "-M", "prepared", "-f", str(script), "-c", str(clients),
                           "-j", str(threads), "-T", str(max(1, int(seconds))), "-l", "--log-prefix",
                           str(log_dir / "pgbench"), str(pg["database"])], capture_output=True, text=True, env=env)
    cpu = _children_cpu() - cpu
    m = re.search(r"tps = ([0-9.]+)", done.stdout)
    if not m:
        return None
    processed = re.search(r"number of transactions actually processed: ([0-9]+)", done.stdout)
    lat = sorted(int(line.split()[2]) for f in log_dir.iterdir() for line in f.read_text().splitlines())
    if not lat:
        return None
    count = int(processed.group(1)) if processed else 0
    return Figure(float(m.group(1)), lat[len(lat) // 2], lat[int(len(lat) * 0.99)], statistics.fmean(lat),
                  1e6 * cpu / count if count else math.nan)


# -- cleaning up -------------------------------------------------------------------------------------
def cleanup(targets: list[str]) -> None:
    """Drop what the peer tools created (storagebench drops its own namespaces): tables, database, bucket."""
    ends = load_endpoints()
    for target in targets:
        if target in bare.TARGETS:
            try:
                bare.drop(target)
            except Exception as exc:  # the engine may be gone: say so, clean the rest
                print(f"  could not drop {bare.NAMESPACE} on {target}: {exc}", file=sys.stderr)
    if "postgres" in targets and shutil.which("psql"):
        pg = ends["postgres"]
        env = _pg_env(pg)
        subprocess.run(["psql", "-h", str(pg["host"]), "-p", str(pg["port"]), "-U", str(pg["user"]), "-d",
                        str(pg["database"]), "-q", "-c",
                        "DROP TABLE IF EXISTS sbench_peer_goycsb; DROP TABLE IF EXISTS sbench_peer_pgbench;"],
                       capture_output=True, env=env, check=False)
    if "mongodb" in targets:
        import pymongo

        m = ends["mongodb"]
        mongo: Any = pymongo.MongoClient(m["host"], int(m["port"]), serverSelectionTimeoutMS=5000)
        try:
            mongo.drop_database("sbench_peer")
        finally:
            mongo.close()
    if "s3" in targets:
        import boto3

        s = ends["s3"]
        client = boto3.client("s3", endpoint_url=s["endpoint_url"], region_name=s["region"],
                              aws_access_key_id=s["access_key"], aws_secret_access_key=s["secret_key"])
        bucket = go_ycsb_props("s3")["s3.bucket"]
        try:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
            client.delete_bucket(Bucket=bucket)
        except client.exceptions.NoSuchBucket:
            pass


# -- the table ---------------------------------------------------------------------------------------
def median_figure(figs: list[Figure]) -> Figure:
    cpu = [f.cpu_us for f in figs if not math.isnan(f.cpu_us)]
    rate, p50, p99, mean = (statistics.median(getattr(f, k) for f in figs)
                            for k in ("ops_per_sec", "p50_us", "p99_us", "mean_us"))
    return Figure(rate, p50, p99, mean, statistics.median(cpu) if cpu else math.nan)


@dataclass
class Target:
    """What one target's cells share: its records, which tools have loaded it, their last rates."""

    name: str
    records: int
    seconds: float
    loaded: set[str]
    rate: dict[str, float]


def tools_for(t: Target, clients: int, go: Path | None, java_cp: str | None,
              work: Path) -> dict[str, Callable[[int], Figure | None]]:
    tags = iter(range(10_000))

    def ours(n: int) -> Figure | None:
        return run_storagebench(t.name, clients, t.records, n, work / "sb", f"{t.name}-{clients}-{next(tags)}")

    def first(tool: str) -> bool:
        new = tool not in t.loaded
        t.loaded.add(tool)
        return new

    tools: dict[str, Callable[[int], Figure | None]] = {"storagebench": ours}
    if go is not None:
        tools["go-ycsb"] = lambda n: run_go_ycsb(go, t.name, clients, t.records, n, work,
                                                 load=first("go-ycsb") and t.name != "null")
    if t.name == "null" and java_cp:
        tools["YCSB"] = lambda n: run_ycsb(java_cp, clients, t.records, n, work)
    if t.name == "postgres" and shutil.which("pgbench"):
        tools["pgbench"] = lambda n: run_pgbench(clients, t.records, t.seconds, work, load=first("pgbench"))
    if t.name in bare.TARGETS:
        tools[BARE] = lambda n: run_bare(t, clients, load=first(BARE))
    return tools


#: the bare-driver loop's row: a reference, not a peer (it is this project's Python driver without a harness)
BARE = "bare driver"


def run_bare(t: Target, clients: int, load: bool) -> Figure:
    if load:
        bare.load(t.name, t.records)
    return Figure(*bare.run(t.name, clients, t.records, t.seconds))


def run_cell(t: Target, clients: int, repeat: int, tools: dict[str, Callable[[int], Figure | None]]
             ) -> dict[str, list[Figure]]:
    figs: dict[str, list[Figure]] = {name: [] for name in tools}
    names = list(tools)
    for rep in range(repeat):
        for tool in names[rep % len(names):] + names[:rep % len(names)]:  # ABAB..., rotated each round
            ops = max(1000, int(t.rate.get(tool, 2000.0 * clients) * t.seconds))
            try:
                fig = tools[tool](ops)
            except Exception as exc:
                print(f"  {t.name} x{clients} {tool}: failed: {exc}", file=sys.stderr)
                fig = None
            if fig is not None:
                figs[tool].append(fig)
                t.rate[tool] = fig.ops_per_sec
    return figs


def report_cell(t: Target, clients: int, repeat: int, tools: dict[str, Callable[[int], Figure | None]],
                null_cost: dict[int, float], header: str) -> list[str]:
    """Run one (target, clients) cell and print its lines (after ``header`` when given); returns them."""
    figs = run_cell(t, clients, repeat, tools)
    med = {tool: median_figure(f) for tool, f in figs.items() if f}
    cell = []
    for tool, m in med.items():
        spread = [f.ops_per_sec for f in figs[tool]]
        label = f"{t.name:<9}{clients:>3}  {tool:<13}{m.ops_per_sec:>11,.0f} "
        cpu = "" if math.isnan(m.cpu_us) else f"{m.cpu_us:>10,.1f}"
        cell.append(f"{label}[{min(spread):,.0f}-{max(spread):,.0f}]".ljust(60)
                    + f"{m.p50_us:>9,.0f}{m.p99_us:>9,.0f}{cpu}")
    ours = med.get("storagebench")
    best = max(((k, v) for k, v in med.items() if k not in ("storagebench", BARE)),
               key=lambda kv: kv[1].ops_per_sec, default=None)
    if t.name == "null" and ours is not None:
        null_cost[clients] = 1e6 * clients / ours.ops_per_sec
    if ours is not None and best is not None:
        share = ""
        if t.name != "null" and clients in null_cost and ours.mean_us:
            share = f"; harness share of its mean latency {null_cost[clients] / ours.mean_us:.1%}"
        cell.append(f"{'':<14}storagebench / best peer ({best[0]}): "
                    f"{ours.ops_per_sec / best[1].ops_per_sec:.2f}{share}")
    floor = med.get(BARE)
    if ours is not None and floor is not None:
        versus = f"; bare driver / best peer: {floor.ops_per_sec / best[1].ops_per_sec:.2f}" if best else ""
        cell.append(f"{'':<14}storagebench / bare driver (the whole harness, checks included): "
                    f"{ours.ops_per_sec / floor.ops_per_sec:.2f}{versus}")
        extra_cpu = ours.cpu_us - floor.cpu_us
        if not math.isnan(extra_cpu) and ours.mean_us:
            # the harness's cost as it runs next to the store (cold caches, shared cores), not in a hot loop
            cell.append(f"{'':<14}harness CPU per operation in situ (storagebench - bare driver): "
                        f"{extra_cpu:.1f} µs, {extra_cpu / ours.mean_us:.1%} of its mean latency")
    print("\n".join([header, *cell]) if header else "\n".join(cell), flush=True)
    return cell


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default="null,postgres,mongodb,s3")
    parser.add_argument("--clients", default="1,2,4")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool and setting, alternated")
    parser.add_argument("--seconds", type=float, default=8.0, help="rough length of each run")
    parser.add_argument("--records", type=int, default=0, help="records per target (0: per-target default)")
    args = parser.parse_args()
    client_counts = [int(c) for c in args.clients.split(",") if c]
    targets = [Target(name, args.records or RECORDS[name], args.seconds, set(), {})
               for name in args.targets.split(",") if name]
    go = build_go_ycsb()
    java_cp = ycsb_classpath() if any(t.name == "null" for t in targets) else None
    work = Path(tempfile.mkdtemp(prefix="sbench-peers-"))
    print(f"machine: {os.cpu_count()} cores (shared: figures are noisy); YCSB C, zipfian, 10 x 100 B fields; "
          f"{args.repeat} alternated runs per cell, median shown [min-max]")
    header = (f"{'target':<9}{'cl':>3}  {'tool':<13}{'ops/s [min-max]':>25}".ljust(60)
              + f"{'p50 µs':>9}{'p99 µs':>9}{'CPU µs/op':>10}")
    null_cost: dict[int, float] = {}  # storagebench's own µs per operation per client (null store)
    rows: list[str] = []
    try:
        for t in targets:
            for clients in client_counts:
                rows.extend(report_cell(t, clients, args.repeat, tools_for(t, clients, go, java_cp, work),
                                        null_cost, header if not rows else ""))
    finally:
        cleanup([t.name for t in targets])
        shutil.rmtree(work, ignore_errors=True)
    print("\n" + header)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
