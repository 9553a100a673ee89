"""A whole benchmark run: validate everything, then for each store and workload: prepare, load, run,
drop, and write one result file per phase.  One store failing never loses another store's results."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import math
import secrets
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from storagebench import __version__
from storagebench.adapters.base import Adapter, AdapterOptions, Capabilities, Support
from storagebench.config import RunConfig, plain_options, redacted_options, store_options
from storagebench.errors import Interrupted, StorageBenchError, Unavailable, Unsupported, UsageError
from storagebench.measuring.keys import keyed
from storagebench.measuring.ledger import C_FOREIGN, C_FOREIGN_ABSENT
from storagebench.measuring.measurement import NOT_FOUND, OK, operation_totals, summarize
from storagebench.measuring.measurement import encode as encode_hist
from storagebench.measuring.server import ServerSampler, per_operation, unobserved
from storagebench.registry import load_adapter
from storagebench.results.files import (
    SCHEMA_VERSION,
    WriteError,
    git_commit,
    machine_info,
    result_path,
    write_json,
)
from storagebench.results.manifest import RunManifest
from storagebench.running import datasets
from storagebench.running.cache import CacheState, make_cold
from storagebench.running.faults import FaultInjector, FaultSpec, fault_budget_s, outage
from storagebench.running.phase import run_phase
from storagebench.running.readback import merged, read_back
from storagebench.running.runner import PhaseOutcome, PhasePlan, SparkDataset, new_ledger
from storagebench.services.manager import engine_memory, engine_pids
from storagebench.workloads import spec as workload_spec
from storagebench.workloads.models import phase_operations
from storagebench.workloads.spec import WorkloadSpec

Progress = Callable[[str, int, int, int], None]  # (label, total, done, failed)

#: a phase whose failed operations (errors, unavailable, failed checks) exceed this fraction of its
#: operations is ``degraded``, not ``ok`` (recorded in every result as ``failure_threshold``)
FAILURE_THRESHOLD = 0.01


@dataclass
class StorePlan:
    name: str
    adapter: type[Adapter]
    options: AdapterOptions
    server: dict[str, Any]
    client: dict[str, str]
    #: storagebench.durability.Durability.as_dict() of this store, read back at preflight
    durability: dict[str, Any]
    #: as the connected instance declared them (e.g. MongoDB's query: native on mongod, emulated on FerretDB)
    capabilities: Capabilities | None = None
    #: the network the clients reached the engine over (services.network.network_record)
    network: dict[str, Any] | None = None
    #: the options before any network proxy: where the engine itself listens
    direct: dict[str, Any] | None = None

    @property
    def caps(self) -> Capabilities:
        return self.capabilities or self.adapter.capabilities


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


def resolve_workloads(config: RunConfig, extra: list[WorkloadSpec] | None = None) -> list[WorkloadSpec]:
    specs = [workload_spec.resolve(name, dict(config.properties)) for name in config.workloads]
    specs.extend(extra or [])
    names = [s.name for s in specs]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise UsageError(f"workload names must be unique in one run: {', '.join(sorted(dupes))}")
    return specs


def new_run_token() -> str:
    """What makes a run's namespaces its own (``sbench_<workload>_<token>``): random, whatever the run id."""
    return secrets.token_hex(4)


def preflight(config: RunConfig, run_token: str | None = None) -> list[StorePlan]:
    """Resolve adapters and options and reach every store, before anything is written.

    ``run_token`` (see :func:`new_run_token`) lets an adapter give the run resources of its own
    (:meth:`Adapter.run_options`, e.g. DuckDB's per-run database file)."""
    from storagebench.registry import available
    from storagebench.services import service_names

    unknown = sorted(n for n in config.options if n not in available() and ":" not in n)
    if unknown:
        raise UsageError(f"options given for unknown store{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(map(repr, unknown))}; known: {', '.join(sorted(available()))}")
    plans = []
    for name in dict.fromkeys(config.stores):
        cls = load_adapter(name)
        options = store_options(name, config)
        if run_token is not None:
            options = cls.run_options(options, run_token)
        if config.clients is None and config.processes > 1 and not cls.capabilities.multiprocess:
            raise UsageError(f"store {name!r} cannot be used from several processes; use --processes 1 "
                             f"(threads are fine)")
        direct = plain_options(options)
        options, network = _through_network(config, name, cls, options, run_token)
        adapter = cls(options)
        try:
            adapter.connect()
            info = adapter.server_info()
            client = adapter.client_info()
            durability = adapter.durability().as_dict()
        except StorageBenchError as exc:
            hint = (f"; is it running? (`storagebench services up {name}` starts a local one)"
                    if name in service_names() else "")
            if run_token is not None:
                cls.end_run(options)
            raise UsageError(f"cannot reach store {name!r}: {exc}{hint}") from None
        except Exception as exc:
            raise UsageError(f"cannot reach store {name!r}: {type(exc).__name__}: {exc}") from None
        finally:
            adapter.close()
        plans.append(StorePlan(name, cls, options, {"engine": info.engine, "version": info.version,
                                                    "details": info.details, "label": info.label(),
                                                    "version_observed": info.version_observed}, client,
                               durability, adapter.capabilities, network, direct))
    return plans


def _through_network(config: RunConfig, name: str, cls: type[Adapter], options: AdapterOptions,
                     run_token: str | None) -> tuple[AdapterOptions, dict[str, Any]]:
    """The store's options with every connection routed through a Toxiproxy proxy of the run's network
    profile (unchanged on loopback), and the network record its result files carry."""
    from storagebench.services.manager import load_endpoints
    from storagebench.services.network import Toxiproxy, network_record, profile

    chosen = profile(config.network)
    if chosen.name == "loopback":
        return options, network_record(chosen, "", "")
    api = (load_endpoints().get("toxiproxy") or {}).get("api")
    if not api:
        raise UsageError(f"--network {chosen.name} needs Toxiproxy: run `storagebench services up toxiproxy`")
    proxies = Toxiproxy(str(api))
    upstreams: list[str] = []

    def route(host: str, port: int) -> tuple[str, int]:
        upstreams.append(f"{host}:{port}")
        return proxies.proxy(f"sbench_{run_token or 'run'}_{name}_{len(upstreams)}", upstreams[-1], chosen)

    try:
        plain, not_covered = cls.through_proxy(plain_options(options), route)
    except Unsupported as exc:
        raise UsageError(f"--network {chosen.name}: {exc}") from None
    except StorageBenchError as exc:
        raise UsageError(f"--network {chosen.name}: {exc}") from None
    covered = f"every connection of the {name} client to {', '.join(upstreams)}"
    return cls.Options.model_validate(plain), network_record(chosen, covered, not_covered)


def _operations(outcome: PhaseOutcome, seconds: float) -> dict[str, Any]:
    """Per operation: counts by status; ``latency`` of the successful (OK) ones only; each other status's
    latency apart in ``failed_latency`` (NOT_FOUND, ERROR, UNAVAILABLE, UNEXPECTED), as YCSB's OP-FAILED."""
    from storagebench.measuring.measurement import new_histogram

    merged = outcome.merged
    ops: dict[str, Any] = {}
    by_op: dict[str, dict[str, Any]] = {}
    for key, hist in keyed(merged["histograms"]):
        by_op.setdefault(key.op, {})[key.status] = hist
    for op, statuses in sorted(by_op.items()):
        entry: dict[str, Any] = {
            "status_counts": {s: h.get_total_count() for s, h in sorted(statuses.items())},
            "latency": summarize(statuses[OK], seconds) if OK in statuses else {"count": 0},
        }
        others = {s: summarize(h, seconds) for s, h in sorted(statuses.items()) if s != OK}
        if others:
            entry["failed_latency"] = others
        intended = {k.status: h for k, h in keyed(merged["intended"]) if k.op == op}
        if OK in intended:
            ih = new_histogram()
            ih.add(intended[OK])
            entry["intended_latency"] = summarize(ih, seconds)
        inner = sum(n for k, n in keyed(merged.get("nested", {})) if k.op == op)
        if inner:
            # as YCSB's [READ]/[UPDATE] lines: these counts include the read-modify-writes' parts
            entry["in_read_modify_write"] = inner
        ops[op] = entry
    return ops


def steady_state_of(spec: WorkloadSpec, outcome: PhaseOutcome) -> dict[str, Any]:
    """Where the run phase's 1-second series settled (MSER), after any fixed ``warmup``.  Throughput
    before that point is excluded from the steady-state figure; latency histograms are per phase, not per
    second, so percentiles still include the warm-up (``percentiles_include_warmup``)."""
    from storagebench.analysis import stats

    skip = math.ceil(spec.warmup)
    complete = int(outcome.measured_seconds + spec.warmup)
    found = stats.steady_state(outcome.merged["series_ops"][:complete], skip=skip)
    return {**found.as_dict(), "excluded_before_start": ["ops_per_sec"], "percentiles_include_warmup": True}


def phase_plan(config: RunConfig, store: StorePlan, spec: WorkloadSpec, phase: str, namespace: str,
               options: dict[str, Any] | None = None) -> PhasePlan:
    """Where this store's clients run: the config's explicit threads x processes, or the default spread."""
    caps = store.caps
    processes, clients, cooperative = config.placement(caps.multiprocess, caps.cooperative)
    return PhasePlan(store.name, plain_options(store.options) if options is None else options, spec, phase,
                     namespace, config.seed, config.threads, processes, config.engine, config.spark_master,
                     config.stall_timeout, clients=clients, spark_conf=config.spark_conf, cooperative=cooperative)


def unverified_because(store: StorePlan, config: RunConfig, spec: WorkloadSpec,
                       readback: dict[str, Any] | None) -> str:
    """Why a phase's answers were not verified ("" when they were)."""
    if not store.caps.stores_data:
        return f"{store.name} keeps no data (stores_data=False): no answer could be checked"
    if spec.kind == "batch":
        return ""
    if config.engine == "spark" and readback is None:
        return ("Spark tasks share no ledger: each checked its answers against its own writes only, and no "
                "read-back pass ran")
    if readback is None:
        return "no read-back pass ran"
    if readback["errors"]:
        return f"the read-back pass failed {readback['errors']} read(s): {readback['first_errors'][0]}"
    return ""


def build_result(run_id: str, store: StorePlan, spec: WorkloadSpec, phase: str, config: RunConfig,
                 outcome: PhaseOutcome | None, started: str, status: str, reason: str = "",
                 context: dict[str, Any] | None = None, readback: dict[str, Any] | None = None) -> dict[str, Any]:
    seconds = outcome.measured_seconds if outcome else 0.0
    layout = phase_plan(config, store, spec, phase, "").layout()
    result: dict[str, Any] = {
        "kind": "storagebench.result",
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "store": store.name,
        "workload": spec.name,
        "workload_description": spec.description,
        "phase": phase,
        "status": status,
        "reason": reason,
        "started_at": started,
        "finished_at": now_iso(),
        "harness": {"version": __version__, **git_commit()},
        "machine": machine_info(),
        "server": store.server,
        # as the workers ran it (a driver may choose by where it runs); the probe's before any phase ran
        "client": (outcome.client if outcome is not None and outcome.client else store.client),
        "capabilities": store.caps.as_dict(),
        # how the store answered each operation this phase asked for (Spark's connectors bypass the adapter)
        "operation_support": {} if spec.kind == "batch" and config.engine == "spark" else {
            op: str(store.caps.support(op)) for op in phase_operations(spec.model_dump(mode="json"), phase)},
        "durability": store.durability,
        "network": store.network,
        "engine_memory": engine_memory(store.name),
        "seed": config.seed,
        "config": {
            "threads": max(layout["threads_per_process"]), "processes": layout["processes"],
            "client_layout": layout, "seed": config.seed,
            "engine": config.engine, "spark_master": config.spark_master if config.engine == "spark" else None,
            "spark_conf": dict(config.spark_conf) if config.engine == "spark" else None,
            "workload": spec.model_dump(mode="json"), "store_options": redacted_options(store.options),
            "repeat": config.repeat, "profile": config.profile,
        },
        **(context or {}),
    }
    if outcome is not None:
        merged = outcome.merged
        total, failed = operation_totals(merged)
        not_found = sum(h.get_total_count() - merged.get("nested", {}).get(k, 0)
                        for k, h in merged["histograms"].items() if k.endswith(f"|{NOT_FOUND}"))
        succeeded = total - failed
        result.update({
            "duration_s": seconds,
            "wall_s": outcome.wall_seconds,
            # the headline counts successful operations (OK, and NOT_FOUND that no check refused)
            "totals": {"operations": total, "failed": failed, "succeeded": succeeded,
                       "ok": succeeded - not_found, "not_found": not_found,
                       "ops_per_sec": succeeded / seconds if seconds > 0 else None},
            "verification": {"failures": merged.get("verify_failures", 0),
                             "first_failures": merged.get("first_failures", []),
                             # False: these figures are not those of answers that were checked (why: below)
                             "verified": not (why := unverified_because(store, config, spec, readback)),
                             "unverified_because": why},
            "first_error": next(iter([*merged.get("first_failures", []),
                                      *(readback or {}).get("first_failures", [])]), None),
            "failure_threshold": FAILURE_THRESHOLD,
            "operations": _operations(outcome, seconds),
            "rows": merged["rows"],
            "histograms": {k: encode_hist(h) for k, h in merged["histograms"].items()},
            "intended_histograms": {k: encode_hist(h) for k, h in merged["intended"].items()},
            "timeseries": {"interval_s": 1, "ops": merged["series_ops"], "failed": merged["series_errors"],
                           "start_epoch": min((w["start_epoch"] for w in outcome.workers
                                               if w.get("start_epoch")), default=None)},
            "workers": outcome.workers,
            "errors": merged["errors"],
            "problems": outcome.fatal + outcome.aborted,
            "liveness": {"stall_timeout_s": config.stall_timeout,
                         "dead_intervals_s": [list(iv) for iv in outcome.dead_intervals]},
        })
        if readback is not None:
            result["readback"] = readback
        if phase == "run" and spec.kind == "ycsb":
            result["steady_state"] = steady_state_of(spec, outcome)
        if outcome.spark is not None:
            result["spark"] = outcome.spark
    return result


#: a phase in which no operation succeeded for this long at a stretch ...
DEAD_LIMIT_S = 5.0
#: ... or for this share of its time in all, is not ok: the store stopped answering
DEAD_SHARE = 0.25


def unanswered(outcome: PhaseOutcome) -> str:
    """Why the store counts as having stopped answering in the phase ("" if it did not), judged by time
    without a successful operation (the runner's dead intervals), never by a count of failures, which a
    driver that waits out its retries or timeout before each failure may never reach.  A gap counts when
    it is longer than twice the slowest successful operation plus a worker's pacing interval: a slow
    operation, or a workload paced slower than one a second, is not a dead store."""
    slowest = max((h.get_max_value() for k, h in outcome.merged["histograms"].items()
                   if k.split("|")[-1] in (OK, NOT_FOUND)), default=0) / 1e9
    pacing = max((1 / w["target_ops_per_sec"] for w in outcome.workers if w.get("target_ops_per_sec")),
                 default=0.0)
    gaps = [(a, b) for a, b in outcome.dead_intervals if b - a > 2 * slowest + pacing]
    if not gaps:
        return ""
    dead = sum(b - a for a, b in gaps)
    start, end = max(gaps, key=lambda g: g[1] - g[0])
    span = max(outcome.wall_seconds, end)
    if end - start < DEAD_LIMIT_S and dead < DEAD_SHARE * span:
        return ""
    return (f"the store stopped answering: no operation succeeded from {start:.1f}s to {end:.1f}s into the "
            f"phase ({dead:.1f}s of {span:.1f}s without a success in all, {dead / span:.0%}; the limit is "
            f"{DEAD_LIMIT_S:g}s at a stretch or {DEAD_SHARE:.0%} of the phase)")


def phase_status(outcome: PhaseOutcome, fault: bool = False) -> tuple[str, str]:
    """A phase's status and reason from what the runner saw (interrupted > failed > aborted > invalid >
    degraded > ok); aborted: stalled, a worker stopped after consecutive failures, or the store stopped
    answering (:func:`unanswered`).  In a phase with an injected ``fault`` neither the dead time nor the
    share of failed operations decides (the outage and its failures are the point and are recorded as
    such), while the stall timeout still ends a phase whose store never comes back."""
    first_error = next(iter(outcome.merged["errors"]), "")
    if outcome.interrupted:
        name = signal.Signals(outcome.interrupted).name
        return "interrupted", f"{name} after {outcome.wall_seconds:.1f}s; what was measured until then is kept"
    if outcome.fatal:
        return "failed", "; ".join(outcome.fatal[:3])
    if outcome.stalled:
        return "aborted", outcome.stalled + (f"; last error: {first_error}" if first_error else "")
    if outcome.aborted:
        return "aborted", "; ".join(outcome.aborted[:3])
    dead = "" if fault else unanswered(outcome)
    if dead:
        return "aborted", dead + (f"; first error: {first_error}" if first_error else "")
    failures = outcome.merged.get("verify_failures", 0)
    if failures:  # an answer failed a check: these are not the figures of a store that works
        return "invalid", f"{failures:,} answer(s) failed verification (first in first_error)"
    total, failed = operation_totals(outcome.merged)
    if total and failed > FAILURE_THRESHOLD * total and not fault:
        return "degraded", (f"{failed:,} of {total:,} operations failed ({100 * failed / total:.1f} %, more than "
                            f"{100 * FAILURE_THRESHOLD:g} %); first error: {first_error}")
    return "ok", ""


def readback_status(status: str, reason: str, readback: dict[str, Any]) -> tuple[str, str]:
    """A phase that was ok is invalid when the read-back pass found a key wrong."""
    if status != "ok" or not readback["failures"]:
        return status, reason
    return "invalid", (f"read-back through a new connection: {readback['failures']:,} of {readback['checked']:,} "
                       f"key(s) wrong; first: {readback['first_failures'][0]}")


def _batch(config: RunConfig, store: StorePlan, spec: WorkloadSpec, adapter: Adapter, namespace: str,
           run_dir: Path, run_id: str, echo: Callable[[str], None], context: dict[str, Any]) -> list[Path]:
    from storagebench.running import batch

    if config.engine == "spark":
        return _spark_batch(config, store, spec, namespace, run_dir, run_id, echo, context)
    data = batch.expected_table(spec, config.seed)
    written = []
    for phase in ("load", "run"):
        started = now_iso()
        if phase == "load":
            result = batch.write_phase(adapter, spec, namespace, data)
        else:
            result = batch.read_phase(adapter, spec, namespace, data, config.seed)
        status = "invalid" if result.mismatches else "failed" if result.problems else "ok"
        record = build_result(run_id, store, spec, phase, config, result.outcome, started, status,
                              "; ".join([*result.mismatches, *result.problems][:3]), context)
        record["batch"] = batch.batch_summary(result)
        if phase == "load":
            record["footprint"] = footprint_of(adapter, namespace, int(record["batch"].get("rows") or 0), spec,
                                              config.seed)
        path = result_path(run_dir, store.name, spec.name, phase, repeat_of(context))
        write_json(path, record)
        written.append(path)
        summary = record["batch"]
        echo(f"{store.name} / {spec.name} / {phase}: {status}, {summary['rows']:,} rows, "
             f"{summary['rows_per_sec'] or 0:,.0f} rows/s, {summary['mb_per_sec'] or 0:.1f} MB/s "
             f"({', '.join(f'{k}: {v}' for k, v in result.paths.items())})")
        if status != "ok":
            break
    return written


def _spark_batch(config: RunConfig, store: StorePlan, spec: WorkloadSpec, namespace: str, run_dir: Path,
                 run_id: str, echo: Callable[[str], None], context: dict[str, Any]) -> list[Path]:
    """The batch dataset through the store's Spark connector (write, read, filtered read, aggregate)."""
    from storagebench.spark.batch import run_spark_batch

    started = now_iso()
    result = run_spark_batch(store.name, plain_options(store.options), spec, namespace, config.seed,
                             config.spark_master)
    problems = [*result.get("mismatches", []), *result.get("problems", [])]
    summaries = result.get("summary", {})
    spark = {k: result.get(k) for k in ("master", "spark_version", "connector", "steps", "log")}
    written = []
    for phase in ("load", "run"):
        status = "ok" if result.get("verified") and phase in summaries else \
            "invalid" if result.get("mismatches") else "failed"
        record = build_result(run_id, store, spec, phase, config, None, started, status, "; ".join(problems[:3]),
                              context)
        record["batch"] = summaries.get(phase, {"rows": 0, "bytes": 0, "paths": {}, "verified": False})
        record["spark"] = spark
        path = result_path(run_dir, store.name, spec.name, phase, repeat_of(context))
        write_json(path, record)
        written.append(path)
        summary = record["batch"]
        echo(f"{store.name} / {spec.name} / {phase} (spark): {status}, {summary.get('rows', 0):,} rows, "
             f"{summary.get('rows_per_sec') or 0:,.0f} rows/s" + (f" ({problems[0]})" if problems else ""))
    return written


def unsupported_ops(caps: Capabilities, spec: WorkloadSpec) -> list[str]:
    return [op for op in spec.operations() if caps.support(op) is Support.UNSUPPORTED]


def store_order(stores: list[StorePlan], seed: int, repeat: int, repeats: int) -> list[StorePlan]:
    """The order of stores in one repeat: as given for a single measurement, otherwise shuffled with a
    seed derived from the run's seed and the repeat (randomised interleaved trials: drift on a shared
    machine spreads over all stores instead of hitting one)."""
    if repeats == 1:
        return list(stores)
    # balanced: within each block of len(stores) repeats a seeded random order is rotated, so every store
    # holds every position once per block (plain shuffles left one store first in most of 5 repeats)
    n = len(stores)
    block, offset = divmod(repeat - 1, n)
    base = [stores[i] for i in np.random.default_rng([seed, block]).permutation(n)]
    return base[offset:] + base[:offset]


def repeat_of(context: dict[str, Any]) -> int | None:
    """The repeat index to put in file names (None for a run measured once: names as before)."""
    rep = context.get("repeat") or {}
    return int(rep["index"]) if rep.get("of", 1) > 1 else None


def run_context(config: RunConfig, run_dir: Path, probe: bool = True) -> dict[str, Any]:
    """What every result of this run carries besides its own figures: profile, noise probe, fingerprint."""
    from storagebench import profiles
    from storagebench.measuring import noise

    machine = machine_info()
    return {
        "profile": profiles.get(config.profile).as_dict() if config.profile else None,
        "noise": {"fingerprint": noise.fingerprint(machine), **(noise.probe(run_dir) if probe else {})},
    }


@dataclass
class Executed:
    written: list[Path]
    #: result files that could not be written, each as its error ("cannot write <path>: ...")
    unwritten: list[str]


def result_files(config: RunConfig, stores: int, specs: int) -> int:
    """How many result files a run writes at most (a load and a run phase per store, workload, repeat)."""
    return 2 * stores * specs * config.repeat


def execute(config: RunConfig, stores: list[StorePlan], specs: list[WorkloadSpec], run_dir: Path,
            run_id: str, progress: Progress | None = None, echo: Callable[[str], None] = print,
            manifest: RunManifest | None = None, run_token: str | None = None,
            dataset: DatasetUse | None = None) -> Executed:
    """Every (store, workload); raises :class:`Interrupted` after writing the interrupted phase.  A result
    file that cannot be written (a full disk) fails its store's workload and the run goes on.

    Namespaces are ``sbench_<workload>_<run_token>`` (:func:`new_run_token`: never derived from the id),
    dropped at the end; with ``dataset``, the data set's namespace, kept (:mod:`~storagebench.running.datasets`)."""
    done = Executed([], [])
    token = run_token or new_run_token()
    base = run_context(config, run_dir)
    for k in range(1, config.repeat + 1):
        order = store_order(stores, config.seed, k, config.repeat)
        context = {**base, "repeat": {"index": k, "of": config.repeat, "store_order": [s.name for s in order],
                                      "order_seed": [config.seed, (k - 1) // len(stores)]}}
        if config.repeat > 1:
            echo(f"repeat {k}/{config.repeat}: {', '.join(s.name for s in order)}")
        for store in order:
            try:
                for spec in specs:
                    done.written.extend(_one(config, store, spec, run_dir, run_id, token, progress, echo, context,
                                             done.unwritten, manifest, dataset))
            finally:
                if k == config.repeat:
                    store.adapter.end_run(store.options)
    return done


def logical_bytes(spec: WorkloadSpec, outcome: PhaseOutcome) -> tuple[int, int, bool]:
    """(bytes the client wrote, bytes it read, exact?) from the successful operations and the field
    lengths: exact for constant field lengths, otherwise taken at the distribution's mean (uniform) or
    its maximum (zipfian, histogram)."""
    length = spec.fieldlength
    exact = spec.fieldlengthdistribution == "constant"
    if spec.fieldlengthdistribution == "uniform":
        length = (spec.minfieldlength + spec.fieldlength) // 2
    ok = {k.op: h.get_total_count() for k, h in keyed(outcome.merged["histograms"]) if k.status == OK}
    record = spec.fieldcount * length
    written = ok.get("insert", 0) * record + ok.get("update", 0) * (record if spec.writeallfields else length)
    read = ok.get("read", 0) * (record if spec.readallfields else length)
    read += sum(int(n) for n in outcome.merged.get("rows", {}).values()) * record  # scanned rows
    return written, read, exact


def server_cost(spec: WorkloadSpec, outcome: PhaseOutcome, sampled: dict[str, Any] | None, why_not: str,
                footprint: dict[str, Any] | None) -> dict[str, Any]:
    """What the phase cost the engine's own processes (:mod:`storagebench.measuring.server`)."""
    if sampled is None:
        return unobserved(why_not)
    operations, _failed = operation_totals(outcome.merged)
    written, read, exact = logical_bytes(spec, outcome)
    client_cpu = sum(float(w.get("cpu_s") or 0.0) for w in outcome.workers)
    out = per_operation(sampled, operations, written, read, client_cpu or None)
    if not exact:
        out["logical_bytes_note"] = f"approximate: {spec.fieldlengthdistribution} field lengths"
    size = (footprint or {}).get("bytes")
    if size and written:
        out["space_amplification"] = size / written
    return out


def _injector(config: RunConfig, store: str) -> FaultInjector | None:
    return FaultInjector(FaultSpec.parse(config.fault), store) if config.fault else None


def footprint_of(adapter: Adapter, namespace: str, records: int, spec: WorkloadSpec, seed: int) -> dict[str, Any]:
    """Bytes the engine itself reports for the namespace after load, and per record (None: unknown),
    checked against ``floor_bytes``: what the values' random part takes at the best possible compression.
    A footprint below it cannot hold the data: ``implausible`` says so, the figure is kept as
    ``reported_bytes`` and withheld from ``bytes`` (nothing ranks on it).  It is a wrong *measurement*, not
    lost data (HBase's table metrics lag its memstore on a small fresh table): the data itself is judged by
    the checks and the read-back pass."""
    from storagebench.workloads.values import Values

    try:
        size = adapter.footprint(namespace)
        error = None
    except Exception as exc:  # a footprint is a nice-to-have: never lose the load result over it
        size, error = None, f"{type(exc).__name__}: {exc}"
    floor = int(records * Values(spec, seed).random_bytes_per_record())
    out: dict[str, Any] = {"bytes": size, "records": records,
                           "bytes_per_record": size / records if size is not None and records else None,
                           "floor_bytes": floor, "implausible": None}
    if size is not None and size < floor:
        out["implausible"] = (f"{size:,} bytes cannot hold {records:,} records whose values carry {floor:,} bytes "
                              f"of random text at the best possible compression")
        out.update(reported_bytes=size, bytes=None, bytes_per_record=None)
    if error:
        out["error"] = error
    return out


def build_indexes(adapter: Adapter, namespace: str, spec: WorkloadSpec) -> list[dict[str, Any]]:
    """The indexes the workload's schema declares, built on the loaded namespace and timed apart from the
    load: per field, whether the store built one (``Adapter.create_index``), how long it took, or its error.
    A document workload's finds declare one on the documents' customer, its range queries one on the
    documents' ``placed`` number (``Adapter.create_document_index``; the entry says ``path`` too, and
    ``numeric`` for the range's); a graph workload's links an edge table (``Adapter.create_edge_index``; the
    entry says ``edges``).  Each built index's ``bytes``: what the store's :meth:`Adapter.index_bytes` grew
    by while it was built (None where the store cannot tell, e.g. DuckDB and Neo4j)."""
    from storagebench.workloads.documents import FIND_PATH, RANGE_PATH

    wanted: list[tuple[dict[str, Any], Callable[[], bool]]] = [
        ({"field": name}, functools.partial(adapter.create_index, namespace, name)) for name in spec.indexed_fields()]
    links = spec.linked_field()
    if links is not None:
        wanted.append(({"field": links, "edges": True},
                       functools.partial(adapter.create_edge_index, namespace, links)))
    document = spec.document_field()
    if document is not None and spec.findproportion > 0:
        wanted.append(({"field": document, "path": FIND_PATH},
                       functools.partial(adapter.create_document_index, namespace, document, FIND_PATH)))
    if document is not None and spec.findrangeproportion > 0:
        wanted.append(({"field": document, "path": RANGE_PATH, "numeric": True},
                       functools.partial(adapter.create_document_index, namespace, document, RANGE_PATH, True)))
    out: list[dict[str, Any]] = []
    size = _index_bytes(adapter, namespace) if wanted else None
    for entry, create in wanted:
        t0 = time.perf_counter()
        try:
            built = create()
        except Exception as exc:  # the answers stay right without it (a scan instead): recorded, not fatal
            out.append({**entry, "built": False, "error": f"{type(exc).__name__}: {exc}"})
            continue
        seconds = time.perf_counter() - t0
        before, size = size, _index_bytes(adapter, namespace) if built else size
        grew = size - before if built and size is not None and before is not None and size > before else None
        out.append({**entry, "built": built, "build_s": seconds if built else None, "bytes": grew})
    return out


def _index_bytes(adapter: Adapter, namespace: str) -> int | None:
    """What the store reports its secondary indexes of the namespace take (None: it cannot tell, or the
    asking failed: an index's size is a nice-to-have, never worth a load)."""
    try:
        return adapter.index_bytes(namespace)
    except Exception:
        return None


@dataclass
class WorkloadRun:
    """One (store, workload) of a run: what every phase of it needs, in one place."""

    config: RunConfig
    store: StorePlan
    spec: WorkloadSpec
    run_dir: Path
    run_id: str
    context: dict[str, Any]
    echo: Callable[[str], None]
    #: messages of result files that could not be written (a full disk)
    unwritten: list[str]
    namespace: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    ledger: Any = None
    started: str = field(default_factory=lambda: now_iso())
    #: the data set the workload loads or runs on, its manifest when the workload began, and (a run on it)
    #: the versions its read-back learns
    dataset: datasets.Dataset | None = None
    dataset_data: dict[str, Any] | None = None
    capture: datasets.StateCapture | None = None
    #: ``run --dataset --engine spark``: each task's read-back and part of the state (spark.hosts)
    host_parts: list[dict[str, Any]] | None = None
    #: the caches' state when the run phase began (``run --cold``: made cold first)
    cache: CacheState = field(default_factory=CacheState)

    @property
    def repeat(self) -> int | None:
        return repeat_of(self.context)

    def label(self, phase: str) -> str:
        return f"{self.store.name} / {self.spec.name} / {phase}" + (f" / r{self.repeat}" if self.repeat else "")

    def write(self, phase: str, status: str, reason: str, outcome: PhaseOutcome | None = None,
              readback: dict[str, Any] | None = None, extra: dict[str, Any] | None = None,
              started: str | None = None) -> Path:
        """Write one phase's result file (raises :class:`WriteError` naming it)."""
        path = result_path(self.run_dir, self.store.name, self.spec.name, phase, self.repeat)
        record = build_result(self.run_id, self.store, self.spec, phase, self.config, outcome,
                              started or self.started, status, reason, self.context, readback)
        record.update(extra or {})
        write_json(path, record)
        return path


@dataclass(frozen=True)
class DatasetUse:
    """``storagebench load --dataset NAME`` (``load``: load phase only, kept) or ``run --dataset NAME``
    (``run``: run phase only, on the data set as its earlier runs left it)."""

    name: str
    mode: Literal["load", "run"]
    #: ``run --dataset NAME --host I/N``: this client host's index and the hosts' count
    host: tuple[int, int] | None = None


def check_datasets_present(stores: list[StorePlan], use: DatasetUse) -> None:
    """Before anything is written: ``run --dataset``, every store still holds the data set's records;
    ``load --dataset``, no store holds a namespace of that name already (the load would drop it)."""
    check = datasets.check_present if use.mode == "run" else datasets.check_absent
    for store in stores:
        adapter = store.adapter(store.options)
        try:
            adapter.connect()
            check(datasets.Dataset(store.name, use.name), adapter.list_namespaces)
        finally:
            adapter.close()


def _one(config: RunConfig, store: StorePlan, spec: WorkloadSpec, run_dir: Path, run_id: str, token: str,
         progress: Progress | None, echo: Callable[[str], None], context: dict[str, Any],
         unwritten: list[str], manifest: RunManifest | None = None, dataset: DatasetUse | None = None) -> list[Path]:
    """The phases of one (store, workload); each result file that cannot be written goes to ``unwritten``."""
    job = WorkloadRun(config, store, spec, run_dir, run_id, context, echo, unwritten)
    missing = unsupported_ops(store.caps, spec)
    if missing:
        return _skipped(job, missing)
    if dataset is not None:
        return _on_dataset(job, dataset, progress)
    job.namespace = f"sbench_{spec.name}_{token}"
    job.options = plain_options(store.options)
    control = store.adapter(store.options)
    # the workload's writes, shared by the workers of its load and run phases (Spark tasks keep their own)
    if config.engine != "spark" and spec.kind != "batch":
        job.ledger = new_ledger(phase_plan(config, store, spec, "run", job.namespace, job.options))
    written: list[Path] = []
    if manifest:
        manifest.namespace_in_use(store.name, job.namespace)
    try:
        control.connect()
        control.drop(job.namespace)
        links = spec.linked_field()
        if links is not None:
            control.declare_links(job.namespace, links)
        declare_document(control, spec, job.namespace)
        control.prepare(job.namespace, spec.field_names())
        if spec.kind == "batch":
            written.extend(_batch(config, store, spec, control, job.namespace, run_dir, run_id, echo, context))
            return written
        for phase, total in (("load", spec.loaded_count()), ("run", spec.operationcount)):
            if phase == "run" and config.cold:
                control.close()  # a restart ends its connection
                _make_cold(job)
                control.connect()
            path, status = _phase(job, control, phase, total, progress)
            written.append(path)
            if status != "ok":
                break
    except Exception as exc:  # one store's failure must not lose the other stores' results
        _failed(job, exc, written)
    finally:
        _drop(job, control, manifest)
    return written


def _on_dataset(job: WorkloadRun, use: DatasetUse, progress: Progress | None) -> list[Path]:
    """The load of a data set (kept), or a run on one (no load, no drop); the data set's manifest says
    ``loading`` / ``running`` from before the first write until the phase and its read-back are judged."""
    ds = job.dataset = datasets.Dataset(job.store.name, use.name)
    job.namespace = ds.namespace
    job.options = plain_options(job.store.options)
    written: list[Path] = []
    phase = use.mode
    try:  # what earlier workloads of this command left may have changed the data set since preflight
        if phase == "run":
            job.dataset_data = datasets.check_usable(ds, job.spec, use.host)
            job.spec = datasets.run_spec(job.spec, job.dataset_data, use.host)
        else:
            datasets.check_new(ds)
    except StorageBenchError as exc:
        _failed(job, exc, written)
        return written
    job.ledger = new_ledger(phase_plan(job.config, job.store, job.spec, "run", job.namespace, job.options))
    control = job.store.adapter(job.store.options)
    status, reason, result = "failed", "", None
    t0 = time.monotonic()
    try:
        if phase == "run":
            assert job.dataset_data is not None
            datasets.start_ledger(job.ledger, ds, job.dataset_data)
            if job.config.engine == "spark":
                tasks = phase_plan(job.config, job.store, job.spec, "run", job.namespace, job.options).workers
                job.dataset_data = datasets.begin_tasks(ds, job.dataset_data, job.run_id, tasks)
            elif use.host is None:
                job.dataset_data = datasets.begin_run(ds, job.dataset_data, job.run_id)
            else:
                job.dataset_data = datasets.begin_shared(ds, job.run_id, use.host)
        else:
            datasets.begin_load(ds, job.spec, job.config.seed, job.run_id)
            job.dataset_data = ds.read()
        if phase == "run" and job.config.cold:
            _make_cold(job)
        control.connect()
        if phase == "load":
            control.drop(job.namespace)
            control.prepare(job.namespace, job.spec.field_names())
        total = job.spec.loaded_count() if phase == "load" else job.spec.operationcount
        path, status = _phase(job, control, phase, total, progress)
        written.append(path)
        result = json.loads(path.read_text())
        first = (result.get("verification") or {}).get("first_failures") or [""]
        reason = str(result.get("reason", ""))
        reason += f"; first: {first[0]}" if first[0] and first[0] not in reason else ""
    except Interrupted:
        status, reason = "interrupted", "interrupted"
        raise
    except Exception as exc:  # one store's failure must not lose the other stores' results
        status, reason = "failed", f"{type(exc).__name__}: {exc}"
        _failed(job, exc, written)
    finally:
        control.close()
        if phase == "load":
            datasets.end_load(ds, status, reason, time.monotonic() - t0, (result or {}).get("footprint"),
                              job.started, len(job.spec.field_names()))
        elif job.dataset_data is not None and job.dataset_data.get("state") == "running":
            # a run phase that never sent an operation (it stalled before its start) wrote nothing either
            sent = ((result or {}).get("totals") or {}).get("operations", 1)
            datasets.end_run(ds, job.dataset_data, job.run_id, status, reason, job.capture, now_iso(),
                             job.spec.writes() and sent != 0, "read-only" if sent else "no operation sent")
        elif job.dataset_data is not None and job.config.engine == "spark":
            datasets.end_tasks(ds, job.dataset_data, job.run_id, status, reason, job.host_parts, now_iso(),
                               job.run_dir, job.spec)
        elif job.dataset_data is not None and job.dataset_data.get("state") == "shared":
            datasets.end_shared(ds, job.dataset_data, job.run_id, status, reason, job.capture, now_iso(),
                                job.run_dir, job.spec)
    return written


def _skipped(job: WorkloadRun, missing: list[str]) -> list[Path]:
    what = f"operations unsupported by {job.store.name}: {', '.join(missing)}"
    try:
        path = job.write("run", "skipped", what)
    except WriteError as exc:
        job.unwritten.append(str(exc))
        job.echo(f"{job.store.name} / {job.spec.name}: skipped, but {exc}")
        return []
    job.echo(f"{job.store.name} / {job.spec.name}: skipped (unsupported: {', '.join(missing)})")
    return [path]


def _phase(job: WorkloadRun, control: Adapter, phase: str, total: int,
           progress: Progress | None) -> tuple[Path, str]:
    """Run, judge and record one phase; returns its result file and status (raises Interrupted after
    writing an interrupted phase)."""
    phase_started = now_iso()
    plan = phase_plan(job.config, job.store, job.spec, phase, job.namespace, job.options)
    if job.dataset is not None and job.dataset_data is not None and phase == "run" and plan.engine == "spark":
        plan = dataclasses.replace(plan, dataset=SparkDataset(
            str(job.dataset.state_path), int(job.dataset_data["seq_base"]),
            not job.store.caps.update_requires_existing))
    label = job.label(phase)

    def report(done: int, failed: int) -> None:
        if progress:
            progress(label, total, done, failed)

    t0 = time.monotonic()
    report(0, 0)
    outcome, fault, cost = _measured(job, plan, phase, report)
    status, reason = phase_status(outcome, fault=fault is not None)
    readback = None
    # after an injected fault the read-back counts the acknowledged writes lost even when the run's own
    # reads already caught some (invalid): that count is the fault's answer
    checked = status == "ok" or (fault is not None and status == "invalid")
    if outcome.host_parts is not None:  # Spark tasks on a data set: each read its own keys back
        job.host_parts = outcome.host_parts
        readback = merged([p.get("readback") for p in outcome.host_parts],
                          f"each of the {len(outcome.host_parts)} Spark tasks, its own keys and a sample, after its "
                          f"run phase") if checked else None
        if readback is not None:
            status, reason = readback_status(status, reason, readback)
    elif checked and job.ledger is not None and job.store.caps.stores_data:
        if job.dataset is not None and phase == "run" and status == "ok":
            job.capture = datasets.StateCapture(job.spec, job.config.seed, job.ledger)
        readback = read_back(plan, job.ledger, not job.store.caps.update_requires_existing,
                             *((job.capture.keys, job.capture.seen) if job.capture else ()))
        status, reason = readback_status(status, reason, readback)
    footprint = None
    indexes = build_indexes(control, job.namespace, job.spec) if phase == "load" and status == "ok" else []
    if phase == "load" and status == "ok":
        footprint = footprint_of(control, job.namespace, job.spec.loaded_count(), job.spec, job.config.seed)
    extra: dict[str, Any] = {"namespace": job.namespace, "server_cost": cost(footprint),
                             "cache": (job.cache if phase == "run" else CacheState()).as_dict()}
    if footprint is not None:
        extra["footprint"] = footprint
    if indexes is not None:
        extra["indexes"] = indexes
    if job.dataset_data is not None:
        host = None
        if job.spec.hostcount > 1 or (job.dataset_data.get("state") == "shared" and job.host_parts is None):
            host = {"index": job.spec.hostindex, "count": job.spec.hostcount,
                    "foreign_versions": job.ledger.counter(C_FOREIGN) if job.ledger is not None else 0,
                    "foreign_absent": job.ledger.counter(C_FOREIGN_ABSENT) if job.ledger is not None else 0}
        extra["dataset"] = datasets.record_of(job.dataset_data, phase, host)
        if job.host_parts is not None:
            extra["dataset"]["spark_tasks"] = {
                "count": len(job.host_parts),
                "foreign_versions": sum(int(p.get("foreign_versions", 0)) for p in job.host_parts),
                "foreign_absent": sum(int(p.get("foreign_absent", 0)) for p in job.host_parts)}
    if fault is not None:
        extra["fault"] = {**fault, **outage(fault, outcome.dead_intervals),
                          "failed_operations": operation_totals(outcome.merged)[1],
                          "acknowledged_writes_lost": (readback or {}).get("failures")}
    path = job.write(phase, status, reason, outcome, readback, extra, phase_started)
    job.echo(f"{label}: {status} in {time.monotonic() - t0:.1f}s" + (f" ({reason})" if reason else ""))
    if outcome.interrupted:
        raise Interrupted(outcome.interrupted)  # after the caller's finally drops the namespace
    return path, status


def declare_document(adapter: Adapter, spec: WorkloadSpec, namespace: str) -> None:
    """Tell ``adapter`` where a document workload's records keep their document (before ``prepare``)."""
    document = spec.document_field()
    if document is not None:
        adapter.declare_document(namespace, document)


def _make_cold(job: WorkloadRun) -> None:
    """``run --cold``: the store's caches emptied before its run phase (:mod:`~storagebench.running.cache`)."""
    from storagebench.workloads.generators import KeyNamer

    key = KeyNamer(job.spec).name(job.spec.insertstart)
    job.cache = make_cold(job.store.name, job.store.adapter, job.store.options,
                                job.store.direct or job.options, job.namespace, key, job.echo)
    job.echo(f"{job.label('run')}: memory state at the start: {job.cache.describe()}")


def _measured(job: WorkloadRun, plan: PhasePlan, phase: str, report: Callable[[int, int], None]
              ) -> tuple[PhaseOutcome, dict[str, Any] | None, Callable[[dict[str, Any] | None], dict[str, Any]]]:
    """The phase run with the engine's own counters sampled and, in a run phase, the run's fault injected;
    returns the outcome, the fault's record (None without one) and how to turn the samples into the
    server cost (once the footprint is known)."""
    store = job.store
    pids, unobserved_why = engine_pids(store.name, store.direct or job.options)
    sampler = ServerSampler(pids, lambda: engine_pids(store.name, store.direct or job.options)[0]) if pids else None
    injector = _injector(job.config, store.name) if phase == "run" else None
    if injector:  # a stretch of failures is the point: no abort on them, a stall timeout past the restart
        plan = dataclasses.replace(plan, abort_after_failures=0, stall_timeout=max(
            plan.stall_timeout, fault_budget_s(injector.fault, store.name)))
    if sampler:
        sampler.start()
    if injector:
        injector.start()
    try:
        outcome = run_phase(plan, report, ledger=job.ledger)
    finally:
        fault = injector.stop() if injector else None
        sampled = sampler.stop() if sampler else None

    def cost(footprint: dict[str, Any] | None) -> dict[str, Any]:
        return server_cost(job.spec, outcome, sampled, unobserved_why, footprint)

    return outcome, fault, cost


def _failed(job: WorkloadRun, exc: Exception, written: list[Path]) -> None:
    """Record a (store, workload) that failed outside a phase's own judgement (connect, prepare, a full disk)."""
    reason = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, Unavailable):
        reason = f"store unavailable: {exc}"
    if isinstance(exc, WriteError):  # a full disk cannot take the record of the failure either
        job.unwritten.append(str(exc))
        reason = str(exc)
    path = result_path(job.run_dir, job.store.name, job.spec.name, "run", job.repeat)
    if path not in written and not isinstance(exc, OSError):
        try:
            written.append(job.write("run", "failed", reason))
        except WriteError as write_exc:
            job.unwritten.append(str(write_exc))
            reason += f"; and {write_exc}"
    job.echo(f"{job.store.name} / {job.spec.name}: failed ({reason})")


def _drop(job: WorkloadRun, control: Adapter, manifest: RunManifest | None) -> None:
    """Drop the workload's namespace (once more on a new connection if the old one died with the engine)."""
    try:
        try:
            control.drop(job.namespace)
        except StorageBenchError:  # its connection may have died with the engine (a fault): once more
            control.close()
            control.connect()
            control.drop(job.namespace)
        if manifest:
            manifest.namespace_dropped(job.store.name, job.namespace)
    except Exception as exc:
        job.echo(f"{job.store.name} / {job.spec.name}: could not drop {job.namespace} ({exc}); "
                 f"`storagebench clean` drops it later")
    control.close()
