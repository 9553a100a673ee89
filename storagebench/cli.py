"""Command line: ``storagebench run | list | report | compare | publish | services``."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from storagebench import __version__
from storagebench.errors import Interrupted, StorageBenchError, UsageError
from storagebench.profiles import SWEEP_PROFILE
from storagebench.results.files import WriteError

PRICES_HELP = ("a price sheet (YAML: source, as_of, vcpu_hour, storage_gb_month, apis; e.g. "
               "pricing/aws-us-east-1.example.yaml): the report adds cost per million operations and per month "
               "of storage")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="storagebench",
        description="Run identical YCSB-style workloads on many stores and compare them in one HTML report.",
    )
    parser.add_argument("--version", action="version", version=f"storagebench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser(
        "run", help="run workloads on stores, write result files and the report",
        description="Run workloads (load + run phase each) on every store, write one JSON result file per "
                    "(store, workload, phase) under RESULTS_DIR/<run-id>/ and a report.html beside them. "
                    "With no flags: the embedded stores (sqlite, duckdb, localdir) on YCSB A-F, delete and "
                    "query.",
        epilog="examples:\n  storagebench run\n  storagebench run --stores postgres,sqlite --workloads a,c\n"
               "  storagebench run -P ycsb/workloads/workloada -p recordcount=5000 -p operationcount=20000\n"
               "  STORAGEBENCH_POSTGRES_PASSWORD=... storagebench run --config bench.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--config", type=Path, help="YAML or TOML file with run settings and per-store options")
    run.add_argument("--stores", help="comma-separated store names (see `storagebench list`)")
    run.add_argument("--workloads", help="comma-separated built-in workload names or workload files")
    run.add_argument("-P", dest="workload_files", action="append", type=Path, default=[],
                     help="a workload file: YAML, or YCSB .properties (repeatable)")
    run.add_argument("-p", dest="props", action="append", default=[], metavar="KEY=VALUE",
                     help="override a workload property, YCSB names (repeatable), e.g. -p recordcount=5000")
    run.add_argument("--clients", type=int,
                     help="client workers, each with its own connection (default 1); spread over processes "
                          "(one each, up to two per core) so the GIL never caps a store; a cooperative store "
                          "(PostgreSQL with psycopg 3) gets up to one process per core, the clients of a "
                          "process sharing its thread")
    run.add_argument("--threads", type=int, help="explicit layout: client threads per process (default 1)")
    run.add_argument("--processes", type=int, help="explicit layout: client processes (default 1)")
    run.add_argument("--durability", choices=["durable", "fast"],
                     help="what an acknowledged write must mean on every store: durable (survives power "
                          "loss; default) or fast (in memory / page cache); each store's effective settings "
                          "are read back and recorded")
    run.add_argument("--engine", choices=["local", "spark"],
                     help="where client workers run: local threads x processes (default), or spark: each "
                          "partition of a Spark job is one worker with its own connection and histograms")
    run.add_argument("--spark-master", help="Spark master URL for --engine spark (default: the cluster of "
                                            "`storagebench services up spark` when it is up, else local[2])")
    run.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                     help="a Spark setting for --engine spark (repeatable), e.g. "
                          "spark.pyspark.python=/usr/bin/python3 for a remote cluster's executors")
    run.add_argument("--seed", type=int, help="seed for keys, values and operation choice (default 42)")
    run.add_argument("--results-dir", type=Path, help="where run folders go (default: results)")
    run.add_argument("--run-id", help="name of the run folder (default: UTC timestamp + random suffix)")
    run.add_argument("--no-report", action="store_true", help="do not build report.html at the end")
    run.add_argument("--repeat", type=int,
                     help="measure each (store, workload) N times, stores in a seeded shuffled order per repeat; "
                          "summary.json gives medians with 95%% intervals and ties")
    run.add_argument("--profile", help=f"sizes, durations (s), repeats and sweeps: {', '.join(profile_names())}")
    run.add_argument("--network", choices=["loopback", "lan", "cross-zone", "cross-region"], default=None,
                     help="clients reach each engine through Toxiproxy with this profile's latency, jitter and "
                          "bandwidth (storagebench/services/network.py; `storagebench services up toxiproxy`); "
                          "default loopback")
    run.add_argument("--fault", metavar="KIND@SECONDS[:DURATION]",
                     help="inject a fault into each run phase, SECONDS after it starts, on engines `services up` "
                          "started: kill (SIGKILL, then start again), pause (SIGSTOP for DURATION s, default 5), "
                          "restart (clean), full (the data directory's own filesystem filled for DURATION s, "
                          "default 5); needs -p operationcount=0 -p maxexecutiontime=N")
    run.add_argument("--stall-timeout", type=float, metavar="SECONDS",
                     help="abort a phase when no operation has succeeded for this long (default 30)")
    run.add_argument("--dataset", metavar="NAME",
                     help="run on the data set NAME that `storagebench load` left on each store: no load phase, "
                          "no drop; every read verified against the data set's state after its earlier runs")
    run.add_argument("--host", metavar="I/N",
                     help="with --dataset: run as client host I (0..N-1) of N hosts sharing the data set at the "
                          "same time: reads any key, writes and inserts only the keys it owns (key number %% N == "
                          "I); then `storagebench datasets join NAME RUN_DIR...` folds the hosts' runs in")
    run.add_argument("--cold", action="store_true", default=None,
                     help="before each run phase make the store cold: restart its engine (only one `storagebench "
                          "services up` started, with the memory cap it was started with) and drop the OS page "
                          "cache (root), then wait for one read of a loaded key; recorded as `cache` in each result "
                          "(default: caches as found)")
    run.add_argument("--prices", type=Path, metavar="SHEET", help=PRICES_HELP)
    run.add_argument("--metrics-port", type=_port, metavar="PORT", help=METRICS_HELP)
    run.set_defaults(handler=cmd_run)

    load = sub.add_parser(
        "load", help="load a named data set on stores and keep it, for `run --dataset NAME`",
        description="Load a workload's records on each store as the data set NAME (namespace sbench_dataset_NAME) "
                    "and keep it: a load phase only, its result file under RESULTS_DIR/<run-id>/, and a manifest "
                    "under $STORAGEBENCH_HOME/datasets/<store>/NAME/ (records, fields, seed, value scheme, "
                    "harness version, when, how long, footprint, state).")
    load.add_argument("--dataset", metavar="NAME", required=True, help="the data set's name: a-z and 0-9")
    for flag in ("--config", "--results-dir"):
        load.add_argument(flag, type=Path, help=f"as for `run` ({flag})")
    for flag in ("--stores", "--workloads", "--run-id"):
        load.add_argument(flag, help=f"as for `run` ({flag}); one workload")
    load.add_argument("-P", dest="workload_files", action="append", type=Path, default=[], help="as for `run`")
    load.add_argument("-p", dest="props", action="append", default=[], metavar="KEY=VALUE", help="as for `run`")
    for flag in ("--clients", "--threads", "--processes", "--seed"):
        load.add_argument(flag, type=int, help=f"as for `run` ({flag})")
    load.add_argument("--durability", choices=["durable", "fast"], help="as for `run`")
    load.add_argument("--stall-timeout", type=float, metavar="SECONDS", help="as for `run`")
    load.add_argument("--no-report", action="store_true", help="do not build report.html at the end")
    load.add_argument("--metrics-port", type=_port, metavar="PORT", help="as for `run`")
    load.set_defaults(handler=cmd_run, engine=None, spark_master=None, spark_conf=[], network=None, fault=None,
                      repeat=None, profile=None, cold=None)

    dss = sub.add_parser("datasets", help="list or drop the data sets `storagebench load` made")
    dsub = dss.add_subparsers(dest="datasets_command", required=True, metavar="ACTION")
    dls = dsub.add_parser("list", help="every data set of this $STORAGEBENCH_HOME, with its state")
    dls.add_argument("--stores", help="only these stores (comma-separated)")
    dls.set_defaults(handler=cmd_datasets_list)
    ddr = dsub.add_parser("drop", help="drop a data set: its namespace on each store, then its manifest")
    ddr.add_argument("name")
    ddr.add_argument("--stores", required=True, help="comma-separated stores to drop it from")
    ddr.set_defaults(handler=cmd_datasets_drop)
    djn = dsub.add_parser("join", help="fold the runs of N hosts (`run --dataset NAME --host I/N`) into the data set",
                          description="Check that the run folders hold every host's part of the data set's shared "
                                      "generation (same generation, distinct host indexes, all N present, each "
                                      "ended ok), then write the data set's new state from them, so a later "
                                      "`run --dataset NAME` verifies every key, inserts of any host included.")
    djn.add_argument("name")
    djn.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="the hosts' run folders")
    djn.set_defaults(handler=cmd_datasets_join)

    cln = sub.add_parser(
        "clean", help="drop namespaces that runs left on the stores (after confirmation)",
        description="Find namespaces left by runs that are no longer alive (from run.json in each run folder) "
                    "and by the sbench_ prefix on each store, list them, and drop them after confirmation.")
    cln.add_argument("--results-dir", type=Path, default=Path("results"),
                     help="where run folders are (default: results)")
    cln.add_argument("--stores",
                     help="comma-separated stores to list by prefix (default: the stores of the runs found)")
    cln.add_argument("--yes", action="store_true", help="drop without asking (for scripts)")
    cln.set_defaults(handler=cmd_clean)

    sw = sub.add_parser(
        "sweep", help="ladders per store: target rates (max sustainable throughput at a latency objective), "
                      "client counts, record counts (with footprint)",
        description="For each store: load the workload's records, then run timed steps. rate: one unthrottled "
                    "step, then a ladder of target rates until the store cannot keep up; the maximum sustainable "
                    "throughput is the best step whose intended latency meets the objective. clients: unthrottled "
                    "steps with 1, 2, 4, 8 ... threads. records: a ladder of record counts loaded through the bulk "
                    "path where the store has one, with the footprint the engine reports. Ladder sizes come from "
                    f"--profile (default {SWEEP_PROFILE}). Writes sweep-<store>-<workload>-<ladder>.json.",
        epilog="examples:\n  storagebench sweep --stores postgres,kudu --ladder rate --objective-ms 10\n"
               "  storagebench sweep --stores sqlite --ladder clients --clients 1,2,4\n"
               "  storagebench sweep --stores postgres,kudu,sqlite --ladder records --records 10000,100000,1000000",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sw.add_argument("--config", type=Path, help="YAML or TOML file with run settings and per-store options")
    sw.add_argument("--stores", help="comma-separated store names")
    sw.add_argument("--workload", default="c",
                    help="one built-in workload name or file (default c; a workload that writes is reloaded "
                         "before every step, so each step is verified against its own writes)")
    sw.add_argument("--ladder", default="rate", help="comma-separated: rate, clients, records (default rate)")
    sw.add_argument("-p", dest="props", action="append", default=[], metavar="KEY=VALUE",
                    help="override a workload property (repeatable), e.g. -p recordcount=5000")
    sw.add_argument("--objective-ms", type=float, default=10.0, help="latency objective in ms (default 10)")
    sw.add_argument("--objective-percentile", type=float, default=99.0, help="its percentile (default 99)")
    sw.add_argument("--step-seconds", type=float, help="seconds per step (default: the profile's)")
    sw.add_argument("--rates", help="explicit target rates (ops/s), comma-separated, instead of the automatic ladder")
    sw.add_argument("--clients", help="client thread counts for the clients ladder, e.g. 1,2,4,8")
    sw.add_argument("--records", help="record counts for the records ladder, e.g. 10000,100000,1000000")
    sw.add_argument("--profile", help=f"ladder sizes and step length: {', '.join(profile_names())}")
    sw.add_argument("--threads", type=int, help="client threads for the rate and records ladders (default 1)")
    sw.add_argument("--seed", type=int, help="seed (default 42)")
    sw.add_argument("--results-dir", type=Path, help="where run folders go (default: results)")
    sw.add_argument("--run-id", help="name of the run folder")
    sw.add_argument("--cold", action="store_true", default=None,
                    help="records ladder: run each size cold (engine restarted, OS page cache dropped, as `run "
                         "--cold`) and then as found; both recorded in the step")
    sw.add_argument("--prices", type=Path, metavar="SHEET", help=PRICES_HELP)
    sw.add_argument("--metrics-port", type=_port, metavar="PORT",
                    help="as for `run`; every step of a ladder is shown as its phase (load or run), the latest step "
                         "replacing the one before")
    sw.set_defaults(handler=cmd_sweep)

    lst = sub.add_parser("list", help="list adapters (with capabilities) and built-in workloads")
    lst.set_defaults(handler=cmd_list)

    rep = sub.add_parser("report", help="build report.html from a run folder's result files")
    rep.add_argument("run_dir", type=Path, help="results/<run-id>")
    rep.add_argument("-o", "--output", type=Path, help="output file (default: <run_dir>/report.html)")
    rep.add_argument("--prices", type=Path, metavar="SHEET", help=PRICES_HELP)
    rep.set_defaults(handler=cmd_report)

    exp = sub.add_parser(
        "export", help="result files as one tidy table (Parquet, CSV) or HdrHistogram logs (.hlog)",
        description="parquet/csv: one row per store x workload x phase x operation x repeat (operation ALL: the "
                    "phase's operations together) with every figure and its provenance, for pandas or DuckDB. "
                    "hlog: per result file an HdrHistogram interval log (format 1.3) that HdrHistogram's own "
                    "log readers and HistogramLogProcessor read; one interval per operation: the whole phase.",
        epilog="examples:\n  storagebench export results/* --format parquet -o all.parquet\n"
               "  storagebench export results/<run-id> --format hlog -o hlogs/",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    exp.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="results/<run-id> folders")
    exp.add_argument("--format", choices=["parquet", "csv", "hlog"], default="parquet")
    exp.add_argument("-o", "--output", type=Path, required=True, help="the file to write (hlog: a folder)")
    exp.set_defaults(handler=cmd_export)

    mrg = sub.add_parser(
        "merge", help="merge the result files of several client hosts into one run (exact histograms)",
        description="Merge run folders of the same workload run from several client hosts (each with its own "
                    "insertstart/insertcount or operationcount share) into one new run folder: histograms "
                    "added exactly, throughput summed over the seconds all hosts were measuring, each host "
                    "kept in merge.hosts. Refuses different workloads, seeds or store configurations.")
    mrg.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="results/<run-id> of each host")
    mrg.add_argument("-o", "--output", type=Path, required=True, help="the new run folder to write")
    mrg.add_argument("--no-report", action="store_true", help="do not build report.html in it")
    mrg.set_defaults(handler=cmd_merge)

    cmp = sub.add_parser(
        "compare", help="compare two runs (or two sets of repeats): what changed, decided by a rank test",
        description="Per (store, workload, metric): the change of the median, with its distribution-free interval "
                    "and that interval's computed coverage. A change counts when a two-sided Mann-Whitney test is "
                    "significant after Holm's correction over all the series compared AND it is beyond the floor: "
                    "the minimum effect, or the machine's own change between the two runs' noise probes when "
                    "larger. 'unchanged' only when the whole interval is within the floor; 'inconclusive' "
                    "otherwise. Only the same machine fingerprint and engine version are compared. "
                    "`publish` judges each night against the night before by this same rule. Exit status: 0; "
                    "1 with --fail-on-regression and a regression, or when a result file is unusable (named); "
                    "2 when a side holds no result or no result in A matches one in B.",
        epilog="examples:\n  storagebench compare results/night-1 results/night-2\n"
               "  storagebench compare A B --markdown summary.md --json changes.json --fail-on-regression",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    cmp.add_argument("a", type=Path, help="baseline: a run folder, or a folder of run folders (repeats)")
    cmp.add_argument("b", type=Path, help="candidate: a run folder, or a folder of run folders (repeats)")
    cmp.add_argument("--min-effect", type=float, default=0.05,
                     help="smallest change that counts, as a factor either way (default 0.05: 1.05x "
                          "slower or faster; 1.0: twice the latency or half the throughput)")
    cmp.add_argument("--alpha", type=float, default=0.05,
                     help="family-wise significance level over all series compared (Holm; default 0.05)")
    cmp.add_argument("--markdown", type=Path, help="also write the comparison as Markdown (job summary, PR comment)")
    cmp.add_argument("--json", type=Path, help="also write the comparison as JSON")
    cmp.add_argument("--fail-on-regression", action="store_true", help="exit status 1 when a regression is found")
    cmp.set_defaults(handler=cmd_compare)

    pub = sub.add_parser(
        "publish", help="build a static site of many nights: history, verdicts night by night, regressions, feed",
        description="Read many run folders (nights; each may hold repeats), keep a compact history, and write "
                    "a static site: per store x workload x metric history with dates, commits and intervals, "
                    "each night judged against the night before by the rule of `compare`, regressions.json, an "
                    "Atom feed, and each night's report. Exit status: 0; 1 when a result file is unusable "
                    "(named; the rest published); 2, writing nothing, when no folder holds a result.")
    pub.add_argument("results_dirs", type=Path, nargs="+", help="night folders (each: run folders or results)")
    pub.add_argument("-o", "--output", type=Path, required=True, help="site folder to write")
    pub.add_argument("--history", type=Path, help="history file to extend (Parquet; default <output>/history.parquet)")
    pub.add_argument("--harness-benchmarks", type=Path, action="append", default=[],
                     help="pytest-benchmark JSON of the harness's hot paths (repeatable; one per night)")
    pub.add_argument("--min-effect", type=float, default=0.05,
                     help="smallest change that counts, as a factor either way (default 0.05)")
    pub.add_argument("--alpha", type=float, default=0.05,
                     help="family-wise significance level over a night's series (Holm; default 0.05)")
    pub.add_argument("--commit-url", help="link for a commit, with {commit} in it "
                                          "(e.g. https://github.com/OWNER/REPO/commit/{commit})")
    pub.set_defaults(handler=cmd_publish)

    from storagebench.services import cli as services_cli

    services_cli.add_parser(sub)
    return parser


def _numbers(text: str | None, kind: type, what: str) -> list[Any] | None:
    if not text:
        return None
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise UsageError(f"{what} must be positive numbers, got {text!r}")
    return values


def cmd_sweep(args: argparse.Namespace) -> int:
    from storagebench import config as cfg
    from storagebench import profiles
    from storagebench.running import suite, sweep
    from storagebench.workloads import spec as wspec

    ladders = [x.strip() for x in args.ladder.split(",") if x.strip()]
    bad = [x for x in ladders if x not in sweep.LADDERS]
    if bad or not ladders:
        raise UsageError(f"unknown ladder {', '.join(bad) or '(none)'}: choose from {', '.join(sweep.LADDERS)}")
    if args.objective_ms <= 0 or not 0 < args.objective_percentile <= 100:
        raise UsageError("--objective-ms must be > 0 and --objective-percentile in (0, 100]")
    rates = _numbers(args.rates, float, "--rates")
    clients = _numbers(args.clients, int, "--clients")
    records = _numbers(args.records, int, "--records")
    profile = profiles.get(args.profile or SWEEP_PROFILE)
    step_seconds = args.step_seconds if args.step_seconds is not None else profile.step_seconds
    if step_seconds <= 0:
        raise UsageError("--step-seconds must be > 0")
    objective = sweep.Objective(args.objective_percentile, args.objective_ms)
    prices = _prices(args)
    if "rate" in ladders:
        sweep.check_step_length(objective, step_seconds, rates)
    file_data = cfg.load_config_file(args.config) if args.config else {}
    flags: dict[str, Any] = {"threads": args.threads, "seed": args.seed, "results_dir": args.results_dir,
                             "run_id": args.run_id, "profile": profile.name, "workloads": [args.workload],
                             "cold": args.cold}
    if args.stores is not None:
        flags["stores"] = _names(args.stores, "--stores")
    overrides = wspec.parse_overrides(args.props)
    if overrides:
        flags["properties"] = overrides
    config = cfg.build_config(file_data, flags)
    (spec,) = suite.resolve_workloads(config)
    if spec.kind != "ycsb":
        raise UsageError(f"workload {spec.name!r} is a {spec.kind} workload; sweeps take per-operation workloads")
    check_results_room(config.results_dir, len(dict.fromkeys(config.stores)) * len(ladders), False, "this sweep")
    stores = suite.preflight(config)
    run_id = config.run_id or suite.new_run_id()
    run_dir = config.results_dir / run_id
    if run_dir.exists():
        raise UsageError(f"run folder {run_dir} already exists; choose another --run-id")
    make_run_dir(run_dir)
    started = time.monotonic()
    echo = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    done = sweep.run_sweeps(config, stores, spec, ladders, run_dir, run_id,
                            objective, step_seconds, rates,
                            clients or list(profile.clients), records or list(profile.records), echo)
    for line in sweep.summary_lines(done):
        print(line)
    echo(f"finished in {time.monotonic() - started:.1f}s; sweeps in {run_dir}")
    from storagebench.report.html import write_report

    print(write_report(run_dir, prices=prices).resolve())  # the curves, drawn
    return 0 if all(s["status"] == "ok" for s in done) else 1


def profile_names() -> list[str]:
    from storagebench.profiles import PROFILES

    return list(PROFILES)


def _run_config(args: argparse.Namespace) -> Any:
    """The run's configuration: the config file under the flags (one validated model)."""
    from storagebench import config as cfg
    from storagebench.workloads import spec as wspec

    file_data = cfg.load_config_file(args.config) if args.config else {}
    flags: dict[str, Any] = {
        "clients": args.clients, "threads": args.threads, "processes": args.processes, "seed": args.seed,
        "durability": args.durability,
        "results_dir": args.results_dir, "run_id": args.run_id,
        "engine": args.engine, "spark_master": args.spark_master, "stall_timeout": args.stall_timeout,
        "network": args.network, "fault": args.fault,
        "repeat": args.repeat, "profile": args.profile, "cold": args.cold,
    }
    if args.spark_conf:
        flags["spark_conf"] = _pairs(args.spark_conf, "--spark-conf")
    if args.stores is not None:
        flags["stores"] = _names(args.stores, "--stores")
    if args.workloads is not None:
        flags["workloads"] = _names(args.workloads, "--workloads")
    elif args.workload_files:
        flags["workloads"] = []
    overrides = wspec.parse_overrides(args.props)
    if overrides:
        flags["properties"] = overrides
    if args.no_report:
        flags["report"] = False
    return cfg.build_config(file_data, flags)


def cmd_run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from storagebench.config import redacted_options
    from storagebench.results.manifest import RunManifest
    from storagebench.running import suite
    from storagebench.workloads import spec as wspec

    prices = _prices(args)
    config = _run_config(args)
    extra = [wspec.load_file(p, dict(config.properties)) for p in args.workload_files]
    specs = suite.resolve_workloads(config, extra)
    if not specs:
        raise UsageError("no workloads given")
    dataset = _dataset_use(args, config, specs)
    files = suite.result_files(config, len(dict.fromkeys(config.stores)), len(specs))
    check_results_room(config.results_dir, files, config.report, "this run")
    # validate and reach every store before anything is created
    if config.fault:
        from storagebench.running.faults import FaultSpec, check_fault

        for spec in specs:
            check_fault(FaultSpec.parse(config.fault), list(config.stores),
                        spec.maxexecutiontime if spec.operationcount == 0 else None, config.results_dir)
    run_token = suite.new_run_token()
    stores = suite.preflight(config, None if dataset else run_token)  # a data set outlives any run's resources
    if dataset is not None:
        suite.check_datasets_present(stores, dataset)
    run_id = config.run_id or suite.new_run_id()
    run_dir = config.results_dir / run_id
    if run_dir.exists():
        raise UsageError(f"run folder {run_dir} already exists; choose another --run-id (earlier runs are "
                         f"never overwritten)")
    make_run_dir(run_dir)
    manifest = RunManifest.create(run_dir, run_id, {s.name: redacted_options(s.options) for s in stores},
                                  [s.name for s in specs])
    console = Console(stderr=True)
    notes = {k: why for spec in specs for k, why in spec.not_applied.items()}
    for key, why in sorted(notes.items()):
        console.print(f"note: property {key} does not apply here: {why}", markup=False, highlight=False)
    console.print(f"run [bold]{escape(run_id)}[/]: stores {escape(', '.join(s.name for s in stores))}; workloads "
                  f"{escape(', '.join(s.name for s in specs))}; {_layout_text(config)}")
    started = time.monotonic()
    interrupted, unwritten = _execute_with_progress(console, manifest, lambda on_progress, echo: suite.execute(
        config, stores, specs, run_dir, run_id, on_progress, echo=echo, manifest=manifest, run_token=run_token,
        dataset=dataset))
    if interrupted:
        manifest.finish("interrupted", signal.Signals(interrupted.signum).name)
        print(f"storagebench: interrupted by {signal.Signals(interrupted.signum).name}; finished phases and "
              f"the interrupted one are kept in {run_dir}", file=sys.stderr)
    else:
        console.print(f"finished in {time.monotonic() - started:.1f}s; results in {run_dir}", markup=False)
        if config.repeat > 1:
            unwritten += _summary(run_dir, console)
        unwritten += [f"{manifest.unsaved} (the run's manifest)"] if manifest.unsaved else []
        if unwritten:
            manifest.finish("failed", reason=_reason(unwritten))
        else:
            manifest.finish("complete")
    if config.report:
        _report_or_say_why(run_dir, console, manifest, unwritten, interrupted is not None, prices)
    else:
        print(run_dir.resolve())
    return interrupted.exit_code if interrupted else _exit_status(run_dir, console, unwritten)


def _dataset_use(args: argparse.Namespace, config: Any, specs: list[Any]) -> Any:
    """``load --dataset`` / ``run --dataset``: checked on every store before anything is written."""
    from storagebench.running import datasets, suite

    host_text = getattr(args, "host", None)
    if host_text is not None and not args.dataset:
        raise UsageError(f"--host {host_text} shares a data set between hosts: give --dataset NAME too")
    host = datasets.parse_host(host_text) if host_text is not None else None
    if not args.dataset:
        return None
    mode: Literal["load", "run"] = "load" if args.command == "load" else "run"
    datasets.check_name(args.dataset)
    if config.engine == "spark" and host is not None:
        raise UsageError(f"--host {host_text} with --engine spark: the Spark tasks are the data set's hosts; "
                         f"drop --host")
    if mode == "load" and len(specs) != 1:
        raise UsageError(f"load one workload into data set {args.dataset!r} (its records' shape), got "
                         f"{len(specs)}: {', '.join(s.name for s in specs)}")
    for spec in specs:
        why = datasets.unsupported(spec, config.engine) or (
            datasets.unsupported_hosts(spec, config.repeat, len(specs)) if host else None)
        if why:
            raise UsageError(why)
        for store in dict.fromkeys(config.stores):
            ds = datasets.Dataset(store, args.dataset)
            if mode == "load":
                datasets.check_new(ds)
            else:
                datasets.check_usable(ds, spec, host)
    return suite.DatasetUse(args.dataset, mode, host)


def cmd_datasets_list(args: argparse.Namespace) -> int:
    from storagebench.running import datasets

    found = datasets.all_datasets(_names(args.stores, "--stores") if args.stores else None)
    for ds in found:
        print(datasets.describe(ds))
    if not found:
        print(f"no data sets under {datasets.root()}")
    return 0


def cmd_datasets_join(args: argparse.Namespace) -> int:
    from storagebench.running import datasets

    for line in datasets.join(args.name, args.run_dirs):
        print(line)
    return 0


def cmd_datasets_drop(args: argparse.Namespace) -> int:
    from storagebench.config import RunConfig, store_options
    from storagebench.registry import load_adapter
    from storagebench.running import datasets

    datasets.check_name(args.name)
    stores = _names(args.stores, "--stores")
    missing = [s for s in stores if not datasets.Dataset(s, args.name).exists()]
    if missing:
        raise UsageError(f"no data set {args.name!r} on {', '.join(missing)} (`storagebench datasets list`)")
    for store in stores:
        datasets.check_idle(datasets.Dataset(store, args.name))
    failed = 0
    for store in stores:
        ds = datasets.Dataset(store, args.name)
        adapter = load_adapter(store)(store_options(store, RunConfig()))
        try:
            adapter.connect()
            datasets.drop(ds, adapter.drop)
            print(f"{store}: dropped data set {args.name} ({ds.namespace})")
        except Exception as exc:
            print(f"{store}: could not drop data set {args.name} ({type(exc).__name__}: {exc}); kept",
                  file=sys.stderr)
            failed += 1
        finally:
            adapter.close()
    return 1 if failed else 0


def _execute_with_progress(console: Any, manifest: Any, execute: Callable[..., Any]
                           ) -> tuple[Interrupted | None, list[str]]:
    """Run ``execute(on_progress, echo)`` under the signal handlers with a progress bar per phase; returns
    the interrupt (if one arrived) and the result files that could not be written."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]:>9} ops/s  {task.fields[failed]} failed"), TimeRemainingColumn())
    with interrupt_signals():
        try:
            with Progress(*columns, console=console, transient=False) as bar:
                tasks: dict[str, Any] = {}

                def on_progress(label: str, total: int, done: int, failed: int) -> None:
                    if label not in tasks:
                        # total 0: a run until maxexecutiontime (operationcount=0), shown without a bound
                        tasks[label] = (bar.add_task(label, total=total or None, rate="", failed=0),
                                        time.monotonic())
                    task, t0 = tasks[label]
                    rate = done / max(time.monotonic() - t0, 1e-9)
                    bar.update(task, completed=done, rate=f"{rate:,.0f}", failed=failed)

                executed = execute(on_progress, lambda m: bar.console.print(m, markup=False))
                return None, list(executed.unwritten)
        except Interrupted as exc:
            return exc, []
        except Exception as exc:  # whatever ended the run, its manifest must not stay `running`
            manifest.finish("failed", reason=f"{type(exc).__name__}: {exc}")
            raise


def _report_or_say_why(run_dir: Path, console: Any, manifest: Any, unwritten: list[str], interrupted: bool,
                       prices: Any) -> None:
    """Write report.html and print its path, or say where it could not be written (the run then failed)."""
    from storagebench.report.html import write_report

    try:
        print(write_report(run_dir, prices=prices).resolve())
    except WriteError as exc:
        unwritten.append(str(exc))
        console.print(f"storagebench: the report was not written: {exc}", markup=False, highlight=False)
        print(run_dir.resolve())
        if not interrupted:
            manifest.finish("failed", reason=_reason(unwritten))


def _summary(run_dir: Path, console: Any) -> list[str]:
    """Medians over repeats into summary.json and on the console; the write error, if any."""
    from storagebench.analysis.stats import cell_table, write_summary

    try:
        cells = write_summary(run_dir)
    except WriteError as exc:
        return [str(exc)]
    console.print("medians over repeats, [lo, hi] = order-statistic interval (its coverage):", markup=False)
    for line in cell_table(cells):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    return []


def _reason(unwritten: list[str]) -> str:
    """Why a run failed although it ran: the files it could not write."""
    more = f" (and {len(unwritten) - 1} more file(s))" if len(unwritten) > 1 else ""
    return f"{unwritten[0]}{more}; what was written is kept"


def check_results_room(results_dir: Path, files: int, report: bool, what: str) -> None:
    """Refuse before anything is written when the results disk cannot take ``files`` result files (and
    the report)."""
    from storagebench.results.files import RESULT_FILE_BYTES, check_room
    from storagebench.results.manifest import RESERVE_BYTES

    need = files * RESULT_FILE_BYTES + RESERVE_BYTES
    if report:
        from storagebench.report.html import report_bytes

        need += report_bytes(files)
    check_room(results_dir, need, f"{what} ({files} result file(s){' and report.html' if report else ''})",
               "free some space or choose another --results-dir" + (" (or --no-report)" if report else ""))


def _names(text: str, flag: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError(f"{flag} is empty; give comma-separated names (see `storagebench list`)")
    return names


def make_run_dir(run_dir: Path) -> None:
    """Create the run folder, or say in one line why it cannot be (a file in the way, no permission,
    a read-only file system)."""
    try:
        run_dir.mkdir(parents=True)
        probe = run_dir / ".writable"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot create run folder {run_dir}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def interrupt_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread while a run is going on: the
    runner stops every worker, the interrupted phase is written, namespaces are dropped."""
    def raise_interrupted(signum: int, _frame: Any) -> None:
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, raise_interrupted) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def cmd_clean(args: argparse.Namespace) -> int:
    from storagebench.results.clean import drop_leftovers, find_leftovers

    stores = None
    if args.stores is not None:
        stores = [s.strip() for s in args.stores.split(",") if s.strip()]
        if not stores:
            raise UsageError("--stores is empty")

    def note(message: str) -> None:
        print(f"storagebench: {message}", file=sys.stderr)

    leftovers, unseen = find_leftovers(args.results_dir, stores, note)
    if not leftovers:
        print("nothing to clean" + (f" found, but {unseen} place(s) could not be looked at (above)" if unseen else ""))
        return 1 if unseen else 0
    for lo in leftovers:
        print(f"{lo.store}: {lo.namespace}  ({lo.source})")
    if not args.yes:
        try:
            answer = input(f"drop these {len(leftovers)} namespace(s)? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing dropped (confirm, or pass --yes)")
            return 1
    failed = drop_leftovers(args.results_dir, leftovers, print)
    return 1 if failed or unseen else 0


def _layout_text(config: Any) -> str:
    if config.clients is None:
        return f"{config.threads} thread(s) x {config.processes} process(es)"
    processes, clients, _ = config.placement()
    return f"{clients} client(s) over up to {processes} process(es)"

#: phase statuses that make ``storagebench run`` exit 1 (``skipped``: the store declared the operation
#: unsupported, which is not a failure)
NOT_OK = ("failed", "aborted", "invalid", "degraded")


def _exit_status(run_dir: Path, console: Any, unwritten: Sequence[str] = ()) -> int:
    """0 when every phase of every store is ok and every file was written; 1 (after writing what could
    be) when one is not."""
    from storagebench.results.files import load_results

    bad = [r for r in load_results(run_dir) if r.get("status") in NOT_OK]
    for r in bad:
        console.print(f"not ok: {r['store']} / {r['workload']} / {r['phase']}: {r['status']} "
                      f"({str(r.get('reason', ''))[:300]})", style="red", markup=False, highlight=False)
    for line in unwritten:
        console.print(f"not written: {line}", style="red", markup=False, highlight=False)
    return 1 if bad or unwritten else 0


def _pairs(items: Sequence[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag} takes KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def cmd_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from storagebench.adapters.base import Capabilities
    from storagebench.registry import available, load_adapter
    from storagebench.workloads import spec as wspec

    ops = Capabilities.OPERATIONS
    table = Table("adapter", *ops, "description", title="adapters")
    for name in sorted(available()):
        try:
            cls = load_adapter(name)
        except UsageError as exc:
            table.add_row(name, *["-" for _ in ops], f"not loadable: {exc}")
            continue
        table.add_row(name, *[str(cls.capabilities.support(op)) for op in ops], cls.description)
    console = Console(width=None if sys.stdout.isatty() else 200, markup=False)  # names, errors: "[kudu]"
    console.print(table)
    wtable = Table("workload", "description", title="built-in workloads (-P takes files, YAML or YCSB)")
    for name in wspec.builtin_names():
        wtable.add_row(name, wspec.resolve(name).description)
    console.print(wtable)
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from storagebench.results.merge import merge_runs

    written = merge_runs(args.run_dirs, args.output)
    print(f"merged {len(written)} result file(s) from {len(args.run_dirs)} runs into {args.output}", file=sys.stderr)
    if args.no_report:
        print(args.output.resolve())
        return 0
    from storagebench.report.html import write_report

    print(write_report(args.output).resolve())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from storagebench.report.html import write_report
    from storagebench.results.runhealth import inspect

    prices = _prices(args)
    if not args.run_dir.is_dir():
        raise UsageError(f"no such run folder: {args.run_dir}")
    health = inspect([args.run_dir])
    for note in health.notes():
        print(f"storagebench: {note}", file=sys.stderr)
    if not health.results:
        unusable = f" ({len(health.bad_files)} unusable, listed above)" if health.bad_files else ""
        raise UsageError(f"no readable result files in {args.run_dir}{unusable}")
    print(write_report(args.run_dir, args.output, prices).resolve())
    return 0 if health.ok else 1


def _prices(args: argparse.Namespace) -> Any:
    """The price sheet of ``--prices`` (None without one), read before anything runs."""
    from storagebench.pricing import load_sheet

    sheet = getattr(args, "prices", None)  # `load` has no --prices
    return load_sheet(sheet) if sheet is not None else None


def cmd_export(args: argparse.Namespace) -> int:
    from storagebench.results import export
    from storagebench.results.files import scan_results

    results: list[dict[str, Any]] = []
    bad: list[tuple[Path, str]] = []
    for run_dir in args.run_dirs:
        if not run_dir.is_dir():
            raise UsageError(f"no such run folder: {run_dir}")
        found, unusable = scan_results(run_dir)
        results += found
        bad += unusable
    for path, why in bad:
        print(f"storagebench: {path}: {why}", file=sys.stderr)
    if not results:
        raise UsageError(f"no readable result files in {', '.join(map(str, args.run_dirs))}")
    if args.format == "hlog":
        written = export.write_hlogs(results, args.output)
        print(f"{len(written)} HdrHistogram logs in {args.output.resolve()}")
    else:
        rows = export.tidy_rows(results)
        export.write_table(rows, args.output, args.format)
        print(f"{len(rows)} rows from {len(results)} result files: {args.output.resolve()}")
    return 1 if bad else 0


def cmd_compare(args: argparse.Namespace) -> int:
    from storagebench.report import compare as cmp
    from storagebench.results.files import atomic_write_text
    from storagebench.results.runhealth import inspect

    for path in (args.a, args.b):
        if not path.is_dir():
            raise UsageError(f"no such run folder: {path}")
    if not 0 <= args.min_effect < 10 or not 0 < args.alpha < 1:
        raise UsageError("--min-effect must be in [0, 10) and --alpha in (0, 1)")
    health = inspect([args.a, args.b])
    for note in health.notes():
        print(f"storagebench: {note}", file=sys.stderr)
    comparison = cmp.compare([args.a], [args.b], args.min_effect, args.alpha)
    title = (f"storagebench compare {args.a.name} -> {args.b.name} "
             f"(min effect {args.min_effect:.0%}, alpha {args.alpha:g})")
    cmp.print_table(comparison, title)
    if args.markdown:
        atomic_write_text(args.markdown, cmp.to_markdown(comparison, title))
    if args.json:
        atomic_write_text(args.json, cmp.to_json(comparison))
    counts = comparison.counts()
    print(", ".join(f"{n} {v}" for v, n in counts.items() if n))
    if not health.ok:
        return 1  # unusable result files or unfinished runs: named above, the rest compared
    return 1 if args.fail_on_regression and counts["regression"] else 0


def cmd_publish(args: argparse.Namespace) -> int:
    from storagebench.report.publish import publish
    from storagebench.results.runhealth import inspect

    for path in [*args.results_dirs, *args.harness_benchmarks]:
        if not path.exists():
            raise UsageError(f"no such path: {path}")
    if not 0 <= args.min_effect < 10 or not 0 < args.alpha < 1:
        raise UsageError("--min-effect must be in [0, 10) and --alpha in (0, 1)")
    if args.commit_url and "{commit}" not in args.commit_url:
        raise UsageError("--commit-url must contain {commit}, e.g. https://github.com/OWNER/REPO/commit/{commit}")
    health = inspect(args.results_dirs)
    for note in health.notes():
        print(f"storagebench: {note}", file=sys.stderr)
    print(publish(args.results_dirs, args.output, history=args.history, harness=args.harness_benchmarks,
                  min_effect=args.min_effect, alpha=args.alpha, commit_url=args.commit_url).resolve())
    return 0 if health.ok else 1  # unusable result files or unfinished runs: named above, the rest published


METRICS_HELP = ("serve live metrics of the running phase on http://127.0.0.1:PORT/metrics (OpenMetrics/Prometheus "
                "text; 0: a free port, printed): per store, workload, phase and operation, operations completed "
                "by status, throughput and latency quantiles (s) of the last complete interval (1 s) and "
                "cumulative latency quantiles, and the phase's elapsed seconds; measured operations only (no "
                "warm-up). --engine spark phases report only at their end and are not shown. Needs the "
                "`metrics` extra (prometheus_client)")


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port (0-65535)")
    return port


@contextlib.contextmanager
def _metrics_endpoint(port: int | None) -> Iterator[None]:
    """``--metrics-port``: the live metrics endpoint for the whole command (nothing without the flag)."""
    if port is None:
        yield
        return
    from storagebench.running import live

    try:
        server = live.Server(port)
    except ImportError as exc:
        raise UsageError(f"--metrics-port needs prometheus_client (the `metrics` extra): {exc}") from None
    except OSError as exc:
        raise UsageError(f"--metrics-port {port}: cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
    print(f"storagebench: live metrics on http://127.0.0.1:{server.port}/metrics", file=sys.stderr, flush=True)
    live.ACTIVE = server.metrics
    try:
        yield
    finally:
        live.ACTIVE = None
        server.close()


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()  # imports the services (ports: a bad $STORAGEBENCH_PORT_OFFSET fails here)
        args = parser.parse_args(argv)
        with _metrics_endpoint(getattr(args, "metrics_port", None)):
            return int(args.handler(args))
    except StorageBenchError as exc:
        print(f"storagebench: error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(f"storagebench: interrupted by {signal.Signals(exc.signum).name}", file=sys.stderr)
        return exc.exit_code
    except WriteError as exc:  # a full disk or a vanished folder: the message names the file
        print(f"storagebench: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"storagebench: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("storagebench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
