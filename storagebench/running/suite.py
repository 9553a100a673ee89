"""A whole benchmark run: validate everything, then for each store and workload: prepare, load, run,
drop, and write one result file per phase.  One store failing never loses another store's results."""

from __future__ import annotations

import datetime as dt
import math
import secrets
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from storagebench import __version__
from storagebench.adapters.base import Adapter, AdapterOptions, Capabilities, Support
from storagebench.config import RunConfig, plain_options, redacted_options, store_options
from storagebench.errors import Interrupted, StorageBenchError, Unavailable, UsageError
from storagebench.measuring.measurement import NOT_FOUND, OK, operation_totals, summarize
from storagebench.measuring.measurement import encode as encode_hist
from storagebench.registry import load_adapter
from storagebench.results.files import SCHEMA_VERSION, git_commit, machine_info, result_path, write_json
from storagebench.results.manifest import RunManifest
from storagebench.running.phase import run_phase
from storagebench.running.readback import read_back
from storagebench.running.runner import PhaseOutcome, PhasePlan, new_ledger
from storagebench.workloads import spec as workload_spec
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
                               durability, adapter.capabilities))
    return plans


def _operations(outcome: PhaseOutcome, seconds: float) -> dict[str, Any]:
    """Per operation: counts by status; ``latency`` of the successful (OK) ones only; each other status's
    latency apart in ``failed_latency`` (NOT_FOUND, ERROR, UNAVAILABLE, UNEXPECTED), as YCSB's OP-FAILED."""
    from storagebench.measuring.measurement import new_histogram

    merged = outcome.merged
    ops: dict[str, Any] = {}
    by_op: dict[str, dict[str, Any]] = {}
    for key, hist in merged["histograms"].items():
        op, status = key.split("|")
        by_op.setdefault(op, {})[status] = hist
    for op, statuses in sorted(by_op.items()):
        entry: dict[str, Any] = {
            "status_counts": {s: h.get_total_count() for s, h in sorted(statuses.items())},
            "latency": summarize(statuses[OK], seconds) if OK in statuses else {"count": 0},
        }
        others = {s: summarize(h, seconds) for s, h in sorted(statuses.items()) if s != OK}
        if others:
            entry["failed_latency"] = others
        intended = {k.split("|")[1]: h for k, h in merged["intended"].items() if k.split("|")[0] == op}
        if OK in intended:
            ih = new_histogram()
            ih.add(intended[OK])
            entry["intended_latency"] = summarize(ih, seconds)
        inner = sum(n for k, n in merged.get("nested", {}).items() if k.split("|")[0] == op)
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
    if config.engine == "spark":
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
        "durability": store.durability,
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


def phase_status(outcome: PhaseOutcome) -> tuple[str, str]:
    """A phase's status and reason from what the runner saw (interrupted > failed > aborted > invalid >
    degraded > ok)."""
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
    failures = outcome.merged.get("verify_failures", 0)
    if failures:  # an answer failed a check: these are not the figures of a store that works
        return "invalid", f"{failures:,} answer(s) failed verification (first in first_error)"
    total, failed = operation_totals(outcome.merged)
    if total and failed > FAILURE_THRESHOLD * total:
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


def execute(config: RunConfig, stores: list[StorePlan], specs: list[WorkloadSpec], run_dir: Path,
            run_id: str, progress: Progress | None = None, echo: Callable[[str], None] = print,
            manifest: RunManifest | None = None, run_token: str | None = None) -> list[Path]:
    """Every (store, workload); raises :class:`Interrupted` after writing the interrupted phase.

    Namespaces are ``sbench_<workload>_<run_token>`` (:func:`new_run_token`: never derived from the id)."""
    written: list[Path] = []
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
                    written.extend(_one(config, store, spec, run_dir, run_id, token, progress, echo, context,
                                       manifest))
            finally:
                if k == config.repeat:
                    store.adapter.end_run(store.options)
    return written


def footprint_of(adapter: Adapter, namespace: str, records: int, spec: WorkloadSpec, seed: int) -> dict[str, Any]:
    """Bytes the engine itself reports for the namespace after load, and per record (None: unknown),
    checked against ``floor_bytes``: what the values' random part takes at the best possible compression.
    A footprint below it cannot hold the data: ``implausible`` says so (and the report must not rank it)."""
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
    if error:
        out["error"] = error
    return out


def _one(config: RunConfig, store: StorePlan, spec: WorkloadSpec, run_dir: Path, run_id: str, token: str,
         progress: Progress | None, echo: Callable[[str], None], context: dict[str, Any],
         manifest: RunManifest | None = None) -> list[Path]:
    started = now_iso()
    missing = unsupported_ops(store.caps, spec)
    repeat = repeat_of(context)
    if missing:
        path = result_path(run_dir, store.name, spec.name, "run", repeat)
        write_json(path, build_result(run_id, store, spec, "run", config, None, started, "skipped",
                                      f"operations unsupported by {store.name}: {', '.join(missing)}", context))
        echo(f"{store.name} / {spec.name}: skipped (unsupported: {', '.join(missing)})")
        return [path]
    namespace = f"sbench_{spec.name}_{token}"
    options = plain_options(store.options)
    control = store.adapter(store.options)
    # the workload's writes, shared by the workers of its load and run phases (Spark tasks keep their own)
    ledger = new_ledger(phase_plan(config, store, spec, "run", namespace, options)) \
        if config.engine != "spark" and spec.kind != "batch" else None
    written: list[Path] = []
    if manifest:
        manifest.namespace_in_use(store.name, namespace)
    try:
        control.connect()
        control.drop(namespace)
        control.prepare(namespace, spec.field_names())
        if spec.kind == "batch":
            written.extend(_batch(config, store, spec, control, namespace, run_dir, run_id, echo, context))
            return written
        for phase, total in (("load", spec.loaded_count()), ("run", spec.operationcount)):
            phase_started = now_iso()
            plan = phase_plan(config, store, spec, phase, namespace, options)
            label = f"{store.name} / {spec.name} / {phase}" + (f" / r{repeat}" if repeat else "")

            def report(done: int, failed: int, label: str = label, total: int = total) -> None:
                if progress:
                    progress(label, total, done, failed)

            t0 = time.monotonic()
            report(0, 0)
            outcome = run_phase(plan, report, ledger=ledger)
            status, reason = phase_status(outcome)
            readback = None
            if status == "ok" and ledger is not None and store.caps.stores_data:
                readback = read_back(plan, ledger, not store.caps.update_requires_existing)
                status, reason = readback_status(status, reason, readback)
            footprint = None
            if phase == "load" and status == "ok":
                footprint = footprint_of(control, namespace, spec.loaded_count(), spec, config.seed)
                if footprint["implausible"]:  # a size no store can have: not a figure to rank
                    status, reason = "invalid", f"footprint: {footprint['implausible']}"
            path = result_path(run_dir, store.name, spec.name, phase, repeat)
            record = build_result(run_id, store, spec, phase, config, outcome, phase_started, status, reason,
                                  context, readback)
            record["namespace"] = namespace
            if footprint is not None:
                record["footprint"] = footprint
            write_json(path, record)
            written.append(path)
            echo(f"{label}: {status} in {time.monotonic() - t0:.1f}s" + (f" ({reason})" if reason else ""))
            if outcome.interrupted:
                raise Interrupted(outcome.interrupted)  # after the finally below drops the namespace
            if status != "ok":
                break
    except Exception as exc:  # one store's failure must not lose the other stores' results
        reason = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, Unavailable):
            reason = f"store unavailable: {exc}"
        path = result_path(run_dir, store.name, spec.name, "run", repeat)
        if path not in written and not isinstance(exc, OSError):  # a full disk cannot take the record either
            try:
                write_json(path, build_result(run_id, store, spec, "run", config, None, started, "failed",
                                              reason, context))
                written.append(path)
            except OSError as write_exc:
                reason += f"; and {write_exc}"
        echo(f"{store.name} / {spec.name}: failed ({reason})")
    finally:
        try:
            control.drop(namespace)
            if manifest:
                manifest.namespace_dropped(store.name, namespace)
        except Exception as exc:
            echo(f"{store.name} / {spec.name}: could not drop {namespace} ({exc}); "
                 f"`storagebench clean` drops it later")
        control.close()
    return written
