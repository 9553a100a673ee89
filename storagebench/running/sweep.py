"""Sweeps: ladders of one setting per store, each step a timed run phase.

* ``rate``: a ladder of ``target`` rates (after one unthrottled step that finds the store's capacity C:
  fractions of C, then a bisection between the last sustainable and the first unsustainable rate).
  Each step records the achieved throughput, *service* latency (from the actual start of each
  operation) and *intended* latency (from when the schedule said it should start: coordinated omission
  included).  A step is sustainable when the store kept up (achieved >= 95 % of the target), nothing
  failed, and the intended latency at the objective's percentile is within the objective; a step with
  too few operations for that percentile is *too short*, never sustainable, found or explicit rate alike
  (explicit rates that cannot fill a step are refused up front).  The result
  is the curve and the **maximum sustainable throughput** at that objective (as NoSQLBench's findmax).
* ``clients``: unthrottled steps with 1, 2, 4, 8 ... client threads: the throughput-scaling curve.
* ``records``: load N records (through the store's bulk path where it declares one), the footprint the
  engine reports, then an unthrottled step: throughput, percentiles and bytes per record per size.

Every step also records what it cost the engine (``server_cost``, as a run phase does: CPU µs per
operation of the engine's own processes, or why it was not observed), so the cost model and the report's
Pareto view can take the server's CPU at the maximum sustainable throughput.

One ``sweep-<store>-<workload>-<ladder>.json`` per sweep (``kind: storagebench.sweep``; described in
:mod:`storagebench.results.files`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storagebench.adapters.base import Support
from storagebench.config import RunConfig, plain_options
from storagebench.errors import UsageError
from storagebench.measuring.keys import keyed
from storagebench.measuring.measurement import operations_for_percentile, summarize
from storagebench.measuring.server import ServerSampler
from storagebench.results.files import WriteError, write_json
from storagebench.results.model import ok_histogram
from storagebench.running.cache import CacheState, make_cold
from storagebench.running.phase import run_phase
from storagebench.running.runner import PhaseOutcome, PhasePlan
from storagebench.running.suite import StorePlan, build_indexes, footprint_of, now_iso, run_context, server_cost
from storagebench.services.manager import engine_memory, engine_pids
from storagebench.workloads.generators import KeyNamer
from storagebench.workloads.spec import WorkloadSpec

LADDERS = ("rate", "clients", "records")
#: fractions of the unthrottled capacity tried by the rate ladder, in order
RATE_FRACTIONS = (0.1, 0.25, 0.5, 0.7, 0.85, 1.0, 1.15, 1.3)
#: bisection steps between the last sustainable and the first unsustainable rate
REFINE_STEPS = 2
#: a step keeps up when it achieves at least this share of its target
KEEP_UP = 0.95
#: rows per load batch when the store has a native bulk path
BULK_ROWS = 1000


@dataclass(frozen=True)
class Objective:
    """A latency objective on intended latency, e.g. p99 <= 10 ms."""

    percentile: float = 99.0
    max_ms: float = 10.0

    @property
    def key(self) -> str:
        return f"p{self.percentile:g}_us"

    def samples_needed(self) -> int:
        """Operations a step needs for its percentile (:func:`operations_for_percentile`)."""
        return operations_for_percentile(self.percentile)

    def label(self) -> str:
        return f"p{self.percentile:g} <= {self.max_ms:g} ms"


def latency(histograms: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The successful operations of a phase together (failed ones and verification records left out)."""
    return summarize(ok_histogram(histograms), seconds)


def step_figures(outcome: PhaseOutcome) -> dict[str, Any]:
    merged = outcome.merged
    seconds = outcome.measured_seconds
    service = latency(merged["histograms"], seconds)
    counts = [(k, h.get_total_count()) for k, h in keyed(merged["histograms"]) if k.is_operation]
    ops = sum(n for k, n in counts if k.succeeded)
    failed = sum(n for k, n in counts if not k.succeeded)
    out: dict[str, Any] = {"seconds": seconds, "operations": ops, "failed": failed,
                           "ops_per_sec": ops / seconds if seconds > 0 else 0.0, "service": service,
                           "problems": outcome.fatal + outcome.aborted, "errors": dict(merged["errors"])}
    if merged["intended"]:
        out["intended"] = latency(merged["intended"], seconds)
    return out


def too_short(step: dict[str, Any], objective: Objective) -> bool:
    """The step holds too few operations for the objective's percentile: it says nothing either way."""
    return bool(step["operations"] < objective.samples_needed())


def sustainable(step: dict[str, Any], objective: Objective) -> bool:
    intended = step.get("intended") or step["service"]
    value = intended.get(objective.key)
    return (not too_short(step, objective) and step["failed"] == 0 and not step["problems"] and value is not None
            and value <= objective.max_ms * 1000 and step["ops_per_sec"] >= KEEP_UP * step["target"])


def check_step_length(objective: Objective, step_seconds: float, rates: Sequence[float] | None) -> None:
    """Refuse explicit rates whose steps cannot hold enough operations for the objective's percentile
    (the ladder of found rates leaves such rates out itself)."""
    needed = objective.samples_needed()
    short = [r for r in rates or [] if r * step_seconds < needed]
    if short:
        held = short[0] * step_seconds
        raise UsageError(f"a {step_seconds:g} s step at {short[0]:g} ops/s holds {held:g} "
                         f"operation{'' if held == 1 else 's'}; p{objective.percentile:g} needs at least {needed:,} "
                         f"per step: give "
                         f"--step-seconds >= {needed / min(short):g} or rates >= {needed / step_seconds:g} ops/s")


class Sweeper:
    """Runs the ladders of one store on one workload."""

    def __init__(self, config: RunConfig, store: StorePlan, spec: WorkloadSpec, step_seconds: float,
                 echo: Callable[[str], None] = print, token: str = "sweep") -> None:
        self.config, self.store, self.spec, self.step_seconds, self.echo = config, store, spec, step_seconds, echo
        self.namespace = f"sbench_sweep_{spec.name}_{token}"
        self.options = plain_options(store.options)
        bulk = store.adapter.capabilities.batch_write is Support.NATIVE
        self.loadbatchsize = BULK_ROWS if bulk else 1
        #: a workload that writes changes what later steps read: every step then starts from a fresh load
        #: (reads are verified against what this step's workers wrote, not against an earlier step's)
        reads_only = ("read", "scan", "query", "graph", "shortest_path", "join")
        self.writes = any(p > 0 for op, p in spec.proportions().items() if op not in reads_only)
        self._dirty = False
        self.records = spec.recordcount

    def _plan(self, spec: WorkloadSpec, phase: str, threads: int | None = None) -> PhasePlan:
        c = self.config
        return PhasePlan(self.store.name, self.options, spec, phase, self.namespace, c.seed,
                         threads or c.threads, c.processes, stall_timeout=c.stall_timeout)

    def _spec(self, **changes: Any) -> WorkloadSpec:
        return self.spec.model_copy(update=changes)

    def load(self, records: int) -> dict[str, Any]:
        """Drop, prepare and load ``records`` records; the load's figures and the footprint."""
        self.records, self._dirty = records, False
        control = self.store.adapter(self.store.options)
        control.connect()
        try:
            control.drop(self.namespace)
            links = self.spec.linked_field()
            if links is not None:
                control.declare_links(self.namespace, links)
            document = self.spec.document_field()
            if document is not None:
                control.declare_document(self.namespace, document)
            control.prepare(self.namespace, self.spec.field_names())
            spec = self._spec(recordcount=records, loadbatchsize=self.loadbatchsize)
            t0 = time.monotonic()
            outcome = run_phase(self._plan(spec, "load"))
            wall = time.monotonic() - t0
            figures: dict[str, Any] = {"records": records, "seconds": wall,
                                       "records_per_sec": records / wall if wall else None,
                                       "bulk": self.loadbatchsize > 1, "problems": outcome.fatal + outcome.aborted}
            indexes = build_indexes(control, self.namespace, spec)
            if indexes:
                figures["indexes"] = indexes
            figures["footprint"] = footprint_of(control, self.namespace, records, spec, self.config.seed)
            return figures
        finally:
            control.close()

    def drop(self) -> None:
        control = self.store.adapter(self.store.options)
        control.connect()
        try:
            control.drop(self.namespace)
        finally:
            control.close()

    def step(self, target: float = 0.0, threads: int | None = None, cold: bool = False) -> dict[str, Any]:
        if self._dirty:
            self.load(self.records)
        # the records the last load left (a records-ladder step's own size), not the workload's recordcount:
        # reads of keys never loaded would be false NOT_FOUNDs, and keys past it never read
        spec = self._spec(recordcount=self.records, target=target, operationcount=0,
                          maxexecutiontime=self.step_seconds, warmup=0.0)
        state = self.make_cold(spec) if cold else CacheState()
        pids, unobserved_why = engine_pids(self.store.name, self.store.direct or self.options)
        sampler = ServerSampler(pids) if pids else None
        if sampler:
            sampler.start()
        try:
            outcome = run_phase(self._plan(spec, "run", threads))
        finally:
            sampled = sampler.stop() if sampler else None
        figures = step_figures(outcome)
        # what each step cost the engine: the cost model prices the step at the maximum sustainable rate
        figures["server_cost"] = server_cost(spec, outcome, sampled, unobserved_why, None)
        self._dirty = self.writes
        figures["cache"] = state.as_dict()
        figures["target"] = target
        figures["threads"] = threads or self.config.threads
        return figures

    def make_cold(self, spec: WorkloadSpec) -> CacheState:
        """The store made cold before a step (:func:`storagebench.running.cache.make_cold`)."""
        key = KeyNamer(spec).name(spec.insertstart)
        state = make_cold(self.store.name, self.store.adapter, self.store.options, self.store.direct or self.options,
                          self.namespace, key, self.echo)
        self.echo(f"{self.store.name} / {self.spec.name}: memory state at the start of the step: {state.describe()}")
        return state

    # -- ladders -------------------------------------------------------------------------------------
    def rate_ladder(self, objective: Objective, rates: Sequence[float] | None = None) -> dict[str, Any]:
        loaded = self.load(self.spec.recordcount)
        steps: list[dict[str, Any]] = []
        try:
            capacity = self.step()
            capacity["sustainable"] = None  # unthrottled: no target to keep up with
            steps.append(capacity)
            self._say("unthrottled", capacity)
            # a step must hold enough operations for the objective's percentile to mean something
            floor = objective.samples_needed() / self.step_seconds
            ladder = list(rates) if rates else [r for f in RATE_FRACTIONS
                                                if (r := round(f * capacity["ops_per_sec"], 1)) >= floor]
            last_ok: float | None = None
            first_bad: float | None = None
            for rate in ladder:
                if rate <= 0:
                    continue
                s = self._rate_step(rate, objective, steps)
                if s["sustainable"]:
                    last_ok = rate
                else:
                    first_bad = rate
                    break
            if not rates and first_bad is not None:
                lo = last_ok or 0.0
                hi = first_bad
                for _ in range(REFINE_STEPS):
                    mid = round((lo + hi) / 2, 1)
                    if mid < max(floor, 0.1):
                        break
                    if self._rate_step(mid, objective, steps)["sustainable"]:
                        lo = mid
                    else:
                        hi = mid
        finally:
            self.drop()
        good = [s for s in steps if s.get("sustainable")]
        best = max(good, key=lambda s: s["ops_per_sec"]) if good else None
        return {"load": loaded, "steps": steps, "objective": {"percentile": objective.percentile,
                                                               "max_ms": objective.max_ms,
                                                               "label": objective.label(), "on": "intended latency"},
                "capacity_ops_per_sec": capacity["ops_per_sec"],
                "max_sustainable_ops_per_sec": best["ops_per_sec"] if best else None,
                "max_sustainable_target": best["target"] if best else None}

    def _rate_step(self, rate: float, objective: Objective, steps: list[dict[str, Any]]) -> dict[str, Any]:
        s = self.step(target=rate)
        s["too_short"] = too_short(s, objective)
        s["sustainable"] = sustainable(s, objective)
        steps.append(s)
        self._say(f"target {rate:,.0f}", s)
        return s

    def clients_ladder(self, clients: Sequence[int]) -> dict[str, Any]:
        loaded = self.load(self.spec.recordcount)
        steps = []
        try:
            for n in clients:
                s = self.step(threads=n)
                steps.append(s)
                self._say(f"{n} client(s)", s)
        finally:
            self.drop()
        base = steps[0]["ops_per_sec"] if steps and steps[0]["ops_per_sec"] else None
        for s in steps:
            s["speedup"] = s["ops_per_sec"] / base if base else None
        return {"load": loaded, "steps": steps}

    def records_ladder(self, records: Sequence[int], cold: bool = False) -> dict[str, Any]:
        """A step per record count; with ``cold`` each size is run cold first (``cold``: its figures),
        then as found (the step's own figures).  Each step says how its data compares with memory."""
        steps = []
        memory = memory_of(self.store.name)
        try:
            for n in records:
                loaded: dict[str, Any] = self.load(n)
                fp = loaded["footprint"]
                self.echo(f"{self.store.name}: loaded {n:,} records in {loaded['seconds']:.1f}s "
                          f"({loaded['records_per_sec'] or 0:,.0f}/s, {'bulk' if loaded['bulk'] else 'per record'}); "
                          f"footprint {_size(fp['bytes'])} ({_per(fp['bytes_per_record'])} per record)")
                first = None
                if cold:
                    first = self.step(cold=True)
                    self._say(f"{n:,} records, cold", first)
                s = self.step()
                s["load"] = loaded
                s["records"] = n
                s.update(data_to_memory(fp.get("bytes"), memory))
                if first is not None:
                    s["cold"] = first
                steps.append(s)
                self._say(f"{n:,} records" + (", as found" if cold else ""), s)
        finally:
            self.drop()
        return {"steps": steps, "memory": memory}

    def _say(self, what: str, s: dict[str, Any]) -> None:
        svc, intended = s["service"], s.get("intended") or {}
        mark = {True: " sustainable", False: " NOT sustainable", None: ""}[s.get("sustainable")]
        if s.get("too_short"):
            mark = f" too short ({s['operations']:,} operations: too few for the objective's percentile)"
        self.echo(f"{self.store.name} / {self.spec.name} / {what}: {s['ops_per_sec']:,.0f} ops/s, service p50 "
                  f"{svc.get('p50_us', 0):,.0f} µs p99 {svc.get('p99_us', 0):,.0f} µs"
                  + (f", intended p99 {intended.get('p99_us', 0):,.0f} µs" if intended else "")
                  + (f", {s['failed']:,} failed" if s["failed"] else "") + mark)


def memory_of(store: str) -> dict[str, Any]:
    """What a store's data is compared with: the engine's memory cap (``services up --memory``), or the
    machine's RAM when it has none (an embedded store, an engine without a cap, a remote one)."""
    limit = engine_memory(store).get("limit_bytes")
    if limit:
        return {"bytes": int(limit), "denominator": "engine memory cap"}
    return {"bytes": machine_ram(), "denominator": "machine RAM"}


def machine_ram() -> int | None:
    """Bytes of RAM (MemTotal), None where /proc/meminfo is not readable."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def data_to_memory(footprint_bytes: int | None, memory: dict[str, Any]) -> dict[str, Any]:
    """``data_to_memory``: the footprint over the memory it is compared with (None when either is unknown),
    and ``memory_denominator``: which memory that was, and its size."""
    ratio = footprint_bytes / memory["bytes"] if footprint_bytes and memory.get("bytes") else None
    return {"data_to_memory": ratio, "memory_denominator": {"what": memory["denominator"],
                                                            "bytes": memory.get("bytes")}}


def _size(n: int | None) -> str:
    if n is None:
        return "unknown"
    return f"{n / 2**20:,.1f} MiB"


def _per(n: float | None) -> str:
    return "-" if n is None else f"{n:,.0f} B"


def sweep_path(run_dir: Path, store: str, workload: str, ladder: str) -> Path:
    return run_dir / f"sweep-{store}-{workload}-{ladder}.json"


def run_sweeps(config: RunConfig, stores: list[StorePlan], spec: WorkloadSpec, ladders: Sequence[str],
               run_dir: Path, run_id: str, objective: Objective, step_seconds: float,
               rates: Sequence[float] | None, clients: Sequence[int], records: Sequence[int],
               echo: Callable[[str], None] = print) -> list[dict[str, Any]]:
    context = run_context(config, run_dir)
    token = run_id.split("-")[-1].lower()
    out = []
    for store in stores:
        for ladder in ladders:
            sweeper = Sweeper(config, store, spec, step_seconds, echo, token)
            started = now_iso()
            t0 = time.monotonic()
            try:
                if ladder == "rate":
                    body = sweeper.rate_ladder(objective, rates)
                elif ladder == "clients":
                    body = sweeper.clients_ladder(clients)
                else:
                    body = sweeper.records_ladder(records, cold=config.cold)
                status, reason = "ok", ""
            except Exception as exc:  # one store's failure must not lose the others' sweeps
                body, status, reason = {"steps": []}, "failed", f"{type(exc).__name__}: {exc}"
                echo(f"{store.name} / {spec.name} / {ladder}: failed ({reason})")
            record = {"kind": "storagebench.sweep", "run_id": run_id, "store": store.name, "workload": spec.name,
                      "ladder": ladder, "status": status, "reason": reason, "started_at": started,
                      "finished_at": now_iso(), "wall_s": time.monotonic() - t0, "server": store.server,
                      "client": store.client, "step_seconds": step_seconds, "seed": config.seed,
                      "config": {"threads": config.threads, "processes": config.processes,
                                 "workload": spec.model_dump(mode="json")}, **context, **body}
            try:
                write_json(sweep_path(run_dir, store.name, spec.name, ladder), record)
            except WriteError as exc:  # measured but not kept: the sweep failed, the next one still runs
                record.update(status="failed", reason=str(exc))
                echo(f"{store.name} / {spec.name} / {ladder}: failed ({exc})")
            out.append(record)
    return out


def summary_lines(sweeps: Sequence[dict[str, Any]]) -> list[str]:
    """The figures of each sweep, for the console."""
    lines = []
    for s in sweeps:
        head = f"{s['store']} / {s['workload']} / {s['ladder']} ({s['wall_s']:.0f}s)"
        if s["status"] != "ok":
            lines.append(f"{head}: {s['status']} {s['reason']}")
        elif s["ladder"] == "rate":
            best = s["max_sustainable_ops_per_sec"]
            throttled = [st for st in s["steps"] if st["target"] > 0 and not st.get("too_short")]
            why = "none (no step met the objective)" if throttled else (
                "not measured: no step held enough operations to give that percentile")
            verdict = f"{best:,.0f} ops/s" if best is not None else why
            lines.append(f"{head}: capacity {s['capacity_ops_per_sec']:,.0f} ops/s unthrottled; max sustainable at "
                         f"{s['objective']['label']} (intended): {verdict}")
        elif s["ladder"] == "clients":
            lines.append(f"{head}: " + ", ".join(f"{st['threads']} -> {st['ops_per_sec']:,.0f} ops/s "
                                                 f"(x{st['speedup'] or 0:.2f})" for st in s["steps"]))
        else:
            for st in s["steps"]:
                fp, svc = st["load"]["footprint"], st["service"]
                lines.append(f"{head}: {st['records']:>10,} records: load {st['load']['seconds']:.1f}s "
                             f"({st['load']['records_per_sec'] or 0:,.0f}/s), footprint {_size(fp['bytes'])} "
                             f"({_per(fp['bytes_per_record'])}/record), run {st['ops_per_sec']:,.0f} ops/s, "
                             f"p50 {svc.get('p50_us', 0):,.0f} µs, p99 {svc.get('p99_us', 0):,.0f} µs"
                             + (f"; cold {st['cold']['ops_per_sec']:,.0f} ops/s" if st.get("cold") else "")
                             + (f"; data/memory {st['data_to_memory']:.3g} ({st['memory_denominator']['what']})"
                                if st.get("data_to_memory") is not None else ""))
    return lines
