"""Data sets with a life of their own: loaded once by ``storagebench load``, run on many times by
``storagebench run --dataset NAME`` (no load, no drop), listed and dropped by ``storagebench datasets``.

Where they live: the store keeps the records in the namespace ``sbench_dataset_<name>``; the harness keeps,
per store and name, under ``$STORAGEBENCH_HOME/datasets/<store>/<name>/``:

* ``dataset.json``: the manifest (record count, field count and lengths, seed, value scheme, harness
  version, when and how long the load took, footprint, runs so far) and its ``state``.  It is written
  ``loading`` before the load's first write and ``complete`` after the load's read-back; a run on the data
  set writes it ``running`` before its first operation and ``complete`` (one generation more) after it.
  Both writes are atomic, so a load or run killed midway leaves ``loading`` / ``running`` with the pid of a
  process that no longer exists: the data set is *incomplete* and ``run --dataset`` refuses it.
* ``state.npy``: what the verifier needs to know about every key after the last run: one row per key
  number ever used (loaded or inserted), one int64 per field: the version the field holds,
  ``writer << 36 | seq`` (:func:`~storagebench.measuring.ledger.pack`), or -1 where the field does not
  exist (a whole row of -1: the key was deleted or its insert failed; some -1: an upsert re-created the
  record after its delete with those fields only).
  It is written beside the manifest before the manifest says ``complete``.

How a run on a data set verifies as strictly as after a fresh load.  Values carry their writer and that
writer's sequence number (:mod:`storagebench.workloads.values`).  Each run on a data set is a new
*generation*: its writers number their writes from ``seq_base + 1``, where ``seq_base`` (in the manifest) is
the highest sequence number any earlier run issued.  A value read during the run is therefore either

* *from before this run* (the load's ``(0, 0)``, or a sequence number <= ``seq_base``): it must be exactly the
  version ``state.npy`` holds for that key and field (a stale value from an earlier generation, a rolled-back
  or corrupted record are caught here), and counts as acknowledged before the run began, so a write of this
  run acknowledged before the read makes it a lost update as usual; or
* *from this run*: judged against the run's ledger exactly as in a run after a fresh load.

The ledger starts from ``state.npy``: every key of the data set inserted before the run, a deleted key's
delete acknowledged before it, a re-created key as re-created (:func:`start_ledger`).  The run's inserts take
key numbers from the data set's key count up, and the run's key choosers choose among every key the data
set ever had (its ``recordcount`` is that count; deleted keys answer NOT_FOUND, which the ledger expects).

After a run phase that ended ``ok``, the read-back pass reads, besides its usual keys, every key the run
wrote, deleted or inserted, judges each answer against the ledger, and the versions found become the new
``state.npy`` (keys the run never touched keep theirs).  A run that ended otherwise (or whose read-back
could not read every such key) leaves the store in a state nobody knows: the data set is marked
``unusable`` with the reason, and must be dropped and loaded again.

Several client hosts on one data set at the same time (``run --dataset NAME --host I/N``): see the section
"several client hosts" below.

Not supported on a data set (refused before anything is written): batch, query, graph and join workloads (their
fixed fields and expected aggregates are computed from a fresh load), split loads (``insertstart`` /
``insertcount``), a load with ``--engine spark`` (runs on Spark are: each task is a host of the data set,
:mod:`storagebench.spark.hosts`), and time-bounded runs that insert more keys than the ledger tracks (the
run ends with the data set ``unusable``).  Nor document workloads: their expected
finds are computed from a fresh load, and their index is built after it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from storagebench import __version__
from storagebench.errors import Unsupported, UsageError
from storagebench.measuring.ledger import (
    ABSENT,
    BEFORE_RUN,
    C_HIGH,
    C_UNTRACKED,
    CHANGED,
    DEL_ACK,
    DEL_ISSUED,
    INS,
    RECREATED,
    WRITE_ISSUED,
    Ledger,
    pack,
)
from storagebench.results.files import atomic_write_bytes, write_json
from storagebench.workloads.spec import WorkloadSpec
from storagebench.workloads.values import SCHEME, Values, Version

NAME_RE = re.compile(r"^[a-z0-9]{1,32}$")
NAMESPACE_PREFIX = "sbench_dataset_"
#: the workload properties that fix what a data set's records look like
SHAPE_PROPERTIES = ("fieldcount", "fieldnameprefix", "fieldlength", "fieldlengthdistribution", "minfieldlength",
                    "fieldlengthhistogram", "keyprefix", "zeropadding", "insertorder")


def root() -> Path:
    from storagebench.services.base import storagebench_home

    return storagebench_home() / "datasets"


def namespace_of(name: str) -> str:
    return NAMESPACE_PREFIX + name


def is_dataset_namespace(namespace: str) -> bool:
    return namespace.startswith(NAMESPACE_PREFIX)


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise UsageError(f"data set name {name!r} must be 1 to 32 characters of a-z and 0-9")
    return name


def shape_of(spec: WorkloadSpec) -> dict[str, Any]:
    """What a run's workload must share with the data set it runs on."""
    return {**{p: getattr(spec, p) for p in SHAPE_PROPERTIES}, "value_scheme": SCHEME,
            "harness_version": __version__}


def unsupported(spec: WorkloadSpec, engine: str) -> str | None:
    """Why ``spec`` cannot load or run on a data set (None: it can)."""
    if spec.kind == "batch" or spec.queryproportion > 0 or spec.graphproportion > 0 or spec.joinproportion > 0:
        return (f"workload {spec.name!r} computes on fields fixed at a fresh load (batch, query, graph, join): "
                f"data sets take record workloads (a-f, delete, scan); run it without --dataset")
    if spec.document_field() is not None:
        return (f"workload {spec.name!r} finds documents by what a fresh load put in them (the expected finds are "
                f"computed from it, the index built after it): run it without --dataset")
    if spec.insertstart or spec.insertcount is not None:
        return "a data set is loaded whole: drop -p insertstart / -p insertcount"
    return None


def check_absent(ds: Dataset, namespaces: Callable[[], list[str]]) -> None:
    """Refuse a load whose namespace the store already holds: another home's (or machine's) data set of that
    name, which the load's drop would destroy, or what a load killed before its manifest was written left."""
    try:
        present = namespaces()
    except Unsupported:
        return
    if ds.namespace in present:
        raise UsageError(f"data set {ds.name!r}: {ds.store} already holds {ds.namespace}, which no data set of "
                         f"this home ({root()}) describes (another home's or machine's data set of that name?): "
                         f"drop it where it was loaded (`storagebench datasets drop {ds.name} --stores {ds.store}`), "
                         f"or load under another name")


def check_present(ds: Dataset, namespaces: Callable[[], list[str]]) -> None:
    """Refuse a run on a data set whose records the store no longer holds (its namespace removed outside
    storagebench: the engine's data wiped, `services down --clean`, a manual drop): every read would fail.
    ``namespaces``: the store's own list of the harness's namespaces; a store that cannot list them passes."""
    try:
        present = namespaces()
    except Unsupported:
        return
    if ds.namespace not in present:
        raise UsageError(f"data set {ds.name!r} on {ds.store}: the store has no {ds.namespace} (removed outside "
                         f"storagebench, e.g. the engine's data wiped by `services down --clean`): {_drop_hint(ds)}")


def _alive(pid: int | None, host: str | None) -> bool:
    if not pid:
        return False
    if host != socket.gethostname():
        return True  # another host's process: it may be alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Dataset:
    """One data set of one store: its manifest and its state file."""

    store: str
    name: str

    @property
    def folder(self) -> Path:
        return root() / self.store / self.name

    @property
    def manifest_path(self) -> Path:
        return self.folder / "dataset.json"

    @property
    def state_path(self) -> Path:
        return self.folder / "state.npy"

    @property
    def namespace(self) -> str:
        return namespace_of(self.name)

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def read(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.manifest_path.read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"data set {self.name!r} on {self.store}: its manifest {self.manifest_path} is "
                             f"unreadable ({exc}): drop it (`storagebench datasets drop {self.name} --stores "
                             f"{self.store}`) and load it again") from None
        return data

    def write(self, data: Mapping[str, Any]) -> None:
        write_json(self.manifest_path, dict(data))

    def effective_state(self, data: Mapping[str, Any]) -> str:
        """``complete``, ``unusable``, ``loading`` / ``running`` (its process alive), or ``incomplete``
        (a load or run whose process is gone left it midway)."""
        state = str(data.get("state"))
        if state in ("loading", "running") and not _alive(data.get("pid"), data.get("host")):
            return "incomplete"
        return state

    # -- the verifier's state ------------------------------------------------------------------------
    def versions(self) -> np.ndarray:
        versions: np.ndarray = np.load(self.state_path, mmap_mode="r")
        return versions

    def write_versions(self, versions: np.ndarray) -> None:
        import io

        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(versions, dtype=np.int64))
        atomic_write_bytes(self.state_path, buffer.getvalue())

    def drop_files(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def all_datasets(stores: list[str] | None = None) -> list[Dataset]:
    base = root()
    if not base.is_dir():
        return []
    return [Dataset(s.name, d.name) for s in sorted(base.iterdir()) if s.is_dir()
            and (stores is None or s.name in stores) for d in sorted(s.iterdir()) if (d / "dataset.json").is_file()]


def _own(data: dict[str, Any], state: str) -> dict[str, Any]:
    return {**data, "state": state, "pid": os.getpid(), "host": socket.gethostname()}


def _drop_hint(ds: Dataset) -> str:
    return f"`storagebench datasets drop {ds.name} --stores {ds.store}` then `storagebench load`"


def check_new(ds: Dataset) -> None:
    """Refuse a load onto a data set that exists (nothing is written)."""
    check_name(ds.name)
    if ds.exists():
        raise UsageError(f"data set {ds.name!r} already exists on {ds.store} "
                         f"({ds.effective_state(ds.read())}): run on it with `run --dataset {ds.name}`, or drop "
                         f"it first (`storagebench datasets drop {ds.name} --stores {ds.store}`)")


def check_usable(ds: Dataset, spec: WorkloadSpec, host: tuple[int, int] | None = None) -> dict[str, Any]:
    """The manifest of a data set ``spec`` can run on now (``host``: as client host I of N,
    ``--host I/N``); otherwise one line saying why and what to do."""
    check_name(ds.name)
    if not ds.exists():
        known = [d.name for d in all_datasets([ds.store])]
        raise UsageError(f"no data set {ds.name!r} on {ds.store} "
                         f"({'known: ' + ', '.join(known) if known else 'none loaded'}): load it first with "
                         f"`storagebench load --stores {ds.store} --workloads {spec.name} --dataset {ds.name}`")
    data = ds.read()
    state = ds.effective_state(data)
    if state == "incomplete":
        what = "its load" if data.get("state") == "loading" else f"run {data.get('last_run_id')}"
        raise UsageError(f"data set {ds.name!r} on {ds.store} is incomplete ({what}, pid {data.get('pid')}, "
                         f"stopped midway): {_drop_hint(ds)}")
    if state in ("loading", "running"):
        raise UsageError(f"data set {ds.name!r} on {ds.store} is in use ({state}, pid {data.get('pid')} on "
                         f"{data.get('host')}): wait for it to finish")
    if state == "shared":
        check_joinable_host(ds, data, host)
    elif state != "complete":
        raise UsageError(f"data set {ds.name!r} on {ds.store} is {state} ({data.get('reason')}): {_drop_hint(ds)}")
    want = shape_of(spec)
    for key, value in data.get("shape", {}).items():
        if want.get(key) != value:
            raise UsageError(f"data set {ds.name!r} on {ds.store} has {key}={value!r}, workload {spec.name!r} "
                             f"has {want.get(key)!r}: run with -p {key}={value}" if key in SHAPE_PROPERTIES else
                             f"data set {ds.name!r} on {ds.store} was written with {key} {value!r}, this harness "
                             f"has {want.get(key)!r}: {_drop_hint(ds)}")
    if not ds.state_path.is_file():
        raise UsageError(f"data set {ds.name!r} on {ds.store}: its state file {ds.state_path} is missing: "
                         f"{_drop_hint(ds)}")
    return data


def run_spec(spec: WorkloadSpec, data: Mapping[str, Any], host: tuple[int, int] | None = None) -> WorkloadSpec:
    """The workload as it runs on the data set: its key space is every key the data set ever had (as
    client host I of N: with this host's index and the hosts' count, :func:`host_keynums`)."""
    index, count = host or (0, 1)
    return WorkloadSpec.model_validate({**spec.model_dump(), "recordcount": int(data["keys"]),
                                        "hostindex": index, "hostcount": count})


# -- the load ----------------------------------------------------------------------------------------
def begin_load(ds: Dataset, spec: WorkloadSpec, seed: int, run_id: str) -> None:
    ds.folder.mkdir(parents=True, exist_ok=True)
    ds.write(_own({"kind": "storagebench.dataset", "name": ds.name, "store": ds.store, "namespace": ds.namespace,
                   "records": spec.loaded_count(), "keys": spec.recordcount, "seed": seed,
                   "shape": shape_of(spec), "load_run_id": run_id, "generation": 0, "seq_base": 0,
                   "runs": []}, "loading"))


def end_load(ds: Dataset, status: str, reason: str, seconds: float, footprint: Mapping[str, Any] | None,
             loaded_at: str, fields: int) -> None:
    data = ds.read()
    if status == "ok":
        ds.write_versions(np.zeros((int(data["keys"]), fields), dtype=np.int64))  # version (0, 0) everywhere
    ds.write({**data, "state": "complete" if status == "ok" else "unusable",
              "reason": "" if status == "ok" else f"its load ended {status}: {reason}",
              "loaded_at": loaded_at, "load_seconds": round(seconds, 3), "footprint": footprint})


# -- runs on it --------------------------------------------------------------------------------------
def begin_run(ds: Dataset, data: dict[str, Any], run_id: str) -> dict[str, Any]:
    started = _own({**data, "last_run_id": run_id}, "running")
    ds.write(started)
    return started


def start_ledger(ledger: Ledger, ds: Dataset, data: Mapping[str, Any]) -> None:
    """The ledger of a run on ``ds``: every key in the state the data set's last run left it."""
    seed_ledger(ledger, str(ds.state_path), int(data["seq_base"]))


def seed_ledger(ledger: Ledger, state_path: str, seq_base: int) -> None:
    """:func:`start_ledger` from the state file's path (a Spark task knows the path, not the data set)."""
    versions: np.ndarray = np.load(state_path, mmap_mode="r")
    present = versions != ABSENT
    somewhere, everywhere = present.any(axis=1), present.all(axis=1)
    keys = ledger.key_slots()
    rows = len(versions)
    mine = keys[:rows]
    mine[:, INS] = BEFORE_RUN
    gone = ~everywhere
    mine[gone, DEL_ISSUED] = BEFORE_RUN
    mine[gone, DEL_ACK] = BEFORE_RUN
    mine[somewhere & gone, WRITE_ISSUED] = RECREATED
    ledger.set_dataset(state_path, seq_base)


def touched(ledger: Ledger, rows: int) -> np.ndarray:
    """Key numbers this run wrote, deleted or inserted (the ones whose version the state must learn)."""
    keys = ledger.key_slots()[:min(rows, ledger.capacity)]
    mask = (keys[:, WRITE_ISSUED] > RECREATED) | (keys[:, DEL_ISSUED] > BEFORE_RUN) | (keys[:, CHANGED] > 0)
    high = min(ledger.counter(C_HIGH), ledger.capacity)
    return np.concatenate([np.flatnonzero(mask), np.arange(rows, max(rows, high), dtype=np.int64)])


class StateCapture:
    """Collects, during the read-back pass, the versions of the keys a run touched."""

    def __init__(self, spec: WorkloadSpec, seed: int, ledger: Ledger) -> None:
        self.rows = int(spec.recordcount)
        self.keys = touched(ledger, self.rows)
        self.values = Values(spec, seed)
        self.fields = spec.field_names()
        self.found: dict[int, list[int]] = {}
        self.ledger = ledger

    def seen(self, keynum: int, key: str, got: Mapping[str, str] | None) -> None:
        row = [ABSENT] * len(self.fields)
        for i, f in enumerate(self.fields):
            if got is not None and f in got:
                verdict = self.values.check(key, f, got[f])
                if isinstance(verdict, Version):
                    row[i] = pack(*verdict)
        self.found[keynum] = row

    def why_not(self) -> str | None:
        if self.ledger.counter(C_UNTRACKED):
            return f"{self.ledger.counter(C_UNTRACKED)} insert(s) beyond the ledger's capacity: their keys are unknown"
        missing = len(self.keys) - sum(1 for k in self.keys.tolist() if k in self.found)
        if missing:
            return f"the read-back could not read {missing} key(s) the run wrote"
        return None

    def versions(self, old: np.ndarray) -> np.ndarray:
        high = max(self.rows, min(self.ledger.counter(C_HIGH), self.ledger.capacity))
        out = np.full((high, len(self.fields)), ABSENT, dtype=np.int64)
        out[:len(old)] = old
        for keynum, row in self.found.items():
            out[keynum] = row
        return out


def end_run(ds: Dataset, data: dict[str, Any], run_id: str, status: str, reason: str,
            capture: StateCapture | None, at: str, writes: bool = True, unwritten: str = "read-only") -> dict[str, Any]:
    """Record the run on the data set; its new state when the run ended ok and the state is known.  A run
    that could not write (``writes`` False: only reads, scans, queries, or no operation sent at all) and read
    nothing wrong leaves the data set as it was, so a stalled or failed read-only run does not cost a reload."""
    why = reason if status != "ok" else (capture.why_not() if capture else "no read-back")
    generation = int(data["generation"]) + 1
    entry = {"run_id": run_id, "generation": generation, "status": status, "at": at}
    done: dict[str, Any] = {**data, "runs": [*data.get("runs", []), entry], "generation": generation}
    if why is None and capture is not None:
        new = capture.versions(np.asarray(ds.versions()))
        ds.write_versions(new)
        done.update(state="complete", keys=len(new), seq_base=max(int(data["seq_base"]),
                                                                  capture.ledger.last_seq()), reason="")
    elif not writes and status != "invalid":
        # nothing the run asked for changes the store: it holds what the state says, however the run ended
        # (a read judged wrong is the exception: the store no longer holds what the state says)
        entry.update(generation=int(data["generation"]), note=f"{why}; {unwritten}: the data set is unchanged")
        done.update(generation=int(data["generation"]), state="complete", reason="")
    else:
        done.update(state="unusable", reason=f"run {run_id} ended {status}: {why}; what the store holds is unknown")
    ds.write(done)
    return done


def record_of(data: Mapping[str, Any], phase: str, host: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a result file says about the data set its phase loaded or ran on: the generation the phase
    makes (0: the load) and the state it began from; ``host``: this client host's index and the hosts' count
    (``--host I/N``), and how many values of other hosts' writes it judged by key and owner only."""
    return {**({"hosts": dict(host)} if host else {}), "name": data["name"], "namespace": data["namespace"],
            "generation": int(data["generation"]) + (1 if phase == "run" else 0),
            "seq_base": int(data["seq_base"]), "keys": int(data["keys"]), "records_loaded": int(data["records"]),
            "load_run_id": data.get("load_run_id")}


def describe(ds: Dataset) -> str:
    data = ds.read()
    state = ds.effective_state(data)
    footprint = (data.get("footprint") or {}).get("bytes")
    loaded = "loaded" if data.get("load_seconds") is not None else "to load (the load did not finish)"
    parts = [f"{ds.store}: {ds.name}", state, f"{int(data['records']):,} records {loaded}",
             f"{int(data['keys']):,} keys", f"{data['shape']['fieldcount']} x {data['shape']['fieldlength']} B "
             f"({data['shape']['fieldlengthdistribution']})", f"seed {data['seed']}",
             f"generation {data['generation']}"]
    if data.get("load_seconds") is not None:
        parts.append(f"loaded {data.get('loaded_at')} in {data['load_seconds']} s")
    if footprint:
        parts.append(f"{footprint:,} bytes")
    if data.get("reason"):
        parts.append(str(data["reason"]))
    if state == "shared":
        shared = data.get("shared") or {}
        hosts = host_states(shared)
        said = "; ".join(f"{i}: {s}" for i, s in hosts.items())
        if any(s in ("stopped midway", "failed") for s in hosts.values()):
            todo = f"its keys' state is unknown: {_drop_hint(ds)}"
        elif all(s == "done" for s in hosts.values()):
            todo = f"`storagebench datasets join {ds.name} RUN_DIR...`"
        else:
            todo = f"when every host is done, `storagebench datasets join {ds.name} RUN_DIR...`"
        parts.append(f"generation {shared.get('generation')} shared by {shared.get('hosts')} hosts ({said}): {todo}")
    return "  ".join(parts)


def host_states(shared: Mapping[str, Any]) -> dict[str, str]:
    """Each host of a shared generation, by index: done, failed, running (its process alive), stopped midway
    (its process gone before it ended) or not started."""
    parts = shared.get("parts", {})
    states = {}
    for i in range(int(shared.get("hosts", 0))):
        part = parts.get(str(i))
        if part is None:
            states[str(i)] = "not started"
        elif part.get("state") in ("done", "failed"):
            states[str(i)] = str(part["state"])
        else:
            states[str(i)] = "running" if _alive(part.get("pid"), part.get("host")) else "stopped midway"
    return states


def check_idle(ds: Dataset) -> None:
    """Refuse to drop a data set while a load or run on it is alive."""
    data = ds.read()
    state = ds.effective_state(data)
    if state in ("loading", "running"):
        raise UsageError(f"data set {ds.name!r} on {ds.store} is in use ({state}, pid {data.get('pid')} on "
                         f"{data.get('host')}): wait for it to finish or stop that process")


def drop(ds: Dataset, dropper: Callable[[str], None]) -> None:
    """Drop the data set's namespace on its store (``dropper``), then its manifest and state."""
    dropper(ds.namespace)
    ds.drop_files()


# -- several client hosts on one data set (run --dataset NAME --host I/N) ------------------------------
# (the section "several client hosts")
#
# N hosts run one generation of the data set at the same time.  Key numbers below the data set's key count
# (``rows``) are shared; a host reads any of them, but writes and deletes only those it owns, ``n % N == I``
# (:func:`~storagebench.workloads.generators.key_owner`; an update or delete chosen on another host's key
# goes to this host's key beside it, :func:`~storagebench.workloads.generators.owned_twin`).  Its inserts take the key
# numbers ``>= rows`` with ``n % N == I`` (:func:`~storagebench.workloads.generators.host_keynums`), so every
# key has exactly one writer, and ``latest`` and the other choosers choose among the shared keys and this
# host's own inserts.  Writer ids are ``1 + I + N * w``, so a value tells which host wrote it.
#
# What a host verifies: its own keys exactly (it is their only writer, its ledger holds every write of
# them); another host's key: the version the data set held before the run exactly (and that it exists),
# or else a value of this generation that was written for that key and field by the host that owns it
# (not whether it is that host's latest write: counted as ``foreign_versions``); another host's insert met
# by a scan: that its values were written for it.  When the workload deletes, another host's key may be
# gone at any time (its owner deleted it): NOT_FOUND for it is accepted (counted as ``foreign_absent``), and
# found it is judged as above; its own keys stay exact (NOT_FOUND of one it never deleted is a failure, found
# after its delete was acknowledged too).
#
# The manifest says ``shared`` (generation, hosts' count, each host's run) from the first host's start
# until ``storagebench datasets join NAME RUN_DIR...`` folds the hosts' parts in.  Each host's read-back
# learns the versions of the keys it wrote or deleted (a deleted key: a row of absent fields); they go to its
# run folder as its *part* of the state
# (``dataset-parts/<store>-<name>-host<I>.npz`` and ``.json``), which holds only keys that host owns.
# ``join`` checks that the parts are of this generation, of distinct hosts, all N present and ended ok,
# then writes the new state: the old one with each part's keys replaced (a key a host deleted and key
# numbers that no host inserted become absent rows), ``complete``, one generation more, so the next run
# expects NOT_FOUND for them.
PARTS = "dataset-parts"


def unsupported_hosts(spec: WorkloadSpec, repeat: int, workloads: int) -> str | None:
    """Why ``spec`` cannot run as one of several client hosts on a shared data set (None: it can)."""
    if repeat > 1:
        return "--host runs one generation of the data set: drop --repeat"
    if workloads > 1:
        return f"--host runs one workload (one generation of the data set), got {workloads}"
    return None


def parse_host(text: str) -> tuple[int, int]:
    """``I/N`` of ``--host``: I in 0..N-1."""
    index, sep, count = text.partition("/")
    if not sep or not index.isdigit() or not count.isdigit():
        raise UsageError(f"--host {text!r}: give I/N, this host's index I (0..N-1) of N hosts, e.g. --host 0/2")
    i, n = int(index), int(count)
    if n < 1 or i >= n:
        raise UsageError(f"--host {text}: the host index must be in 0..{n - 1}" if n else
                         f"--host {text}: the number of hosts must be at least 1")
    return i, n


class _Lock:
    """An exclusive lock on a data set's manifest (hosts of one machine update it at the same time)."""

    def __init__(self, ds: Dataset) -> None:
        self.path = ds.folder / ".lock"

    def __enter__(self) -> None:
        import fcntl

        self.file = open(self.path, "a")  # closed in __exit__
        fcntl.flock(self.file, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        self.file.close()


def check_joinable_host(ds: Dataset, data: Mapping[str, Any], host: tuple[int, int] | None) -> None:
    """A data set in a shared generation takes more hosts of it, and nothing else."""
    shared = data.get("shared") or {}
    parts = shared.get("parts", {})
    n = int(shared.get("hosts", 0))
    stopped = [i for i, s in host_states(shared).items() if s == "stopped midway"]
    if stopped:
        raise UsageError(f"data set {ds.name!r} on {ds.store}: host(s) {', '.join(stopped)} of generation "
                         f"{shared.get('generation')} stopped midway, so their keys' state is unknown: "
                         f"{_drop_hint(ds)}")
    if host is None:
        raise UsageError(f"data set {ds.name!r} on {ds.store} is shared by {n} hosts' runs of generation "
                         f"{shared.get('generation')} ({len(parts)} of {n} started): when they are done, fold "
                         f"them in with `storagebench datasets join {ds.name} RUN_DIR...` (their result folders)")
    index, count = host
    if count != n:
        raise UsageError(f"data set {ds.name!r} on {ds.store} is shared by {n} hosts (generation "
                         f"{shared.get('generation')}), not {count}: run with --host I/{n}")
    if str(index) in parts:
        part = parts[str(index)]
        raise UsageError(f"data set {ds.name!r} on {ds.store}: host {index}/{n} of generation "
                         f"{shared.get('generation')} already ran (run {part.get('run_id')}, {part.get('state')}); "
                         f"each host index runs once")


def begin_shared(ds: Dataset, run_id: str, host: tuple[int, int]) -> dict[str, Any]:
    """Mark this host's run in the data set's shared generation (the first host opens it)."""
    index, count = host
    with _Lock(ds):
        data = ds.read()
        if ds.effective_state(data) == "complete":
            data = {**data, "state": "shared",
                    "shared": {"generation": int(data["generation"]) + 1, "hosts": count, "parts": {}}}
        elif data.get("state") == "shared":
            check_joinable_host(ds, data, host)
        else:
            raise UsageError(f"data set {ds.name!r} on {ds.store} is {ds.effective_state(data)}: cannot run on it")
        data["shared"]["parts"][str(index)] = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(),
                                               "state": "running"}
        ds.write(data)
    return data


def begin_tasks(ds: Dataset, data: dict[str, Any], run_id: str, tasks: int) -> dict[str, Any]:
    """``run --dataset NAME --engine spark``: a shared generation of ``tasks`` hosts, one per Spark task,
    all registered to this driver (its pid), folded in by the driver when the tasks are done."""
    with _Lock(ds):
        data = {**ds.read(), "state": "shared", "last_run_id": run_id,
                "shared": {"generation": int(data["generation"]) + 1, "hosts": tasks, "engine": "spark",
                           "parts": {str(i): {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(),
                                              "state": "running"} for i in range(tasks)}}}
        ds.write(data)
    return data


def host_part(found: Mapping[int, list[int]], spec: WorkloadSpec) -> tuple[np.ndarray, np.ndarray]:
    """A host's part of the data set's state: the key numbers (of the data set) and versions of the keys
    its read-back found, ``found`` by this host's local key numbers, keeping only the keys this host owns
    (``n % N == I``: its inserts and its stripe of the shared keys), so no two parts hold one key."""
    from storagebench.workloads.generators import host_keynums, key_owner

    local = np.fromiter(found.keys(), dtype=np.int64, count=len(found))
    keys = host_keynums(spec, local)
    rows = np.array([found[k] for k in local.tolist()], dtype=np.int64).reshape(len(local), len(spec.field_names()))
    mine = key_owner(keys, spec.hostcount) == spec.hostindex
    order = np.argsort(keys[mine])
    return keys[mine][order], rows[mine][order]


def part_paths(run_dir: Path, store: str, name: str, index: int) -> tuple[Path, Path]:
    base = run_dir / PARTS / f"{store}-{name}-host{index}"
    return base.with_suffix(".json"), base.with_suffix(".npz")


def end_shared(ds: Dataset, data: dict[str, Any], run_id: str, status: str, reason: str,
               capture: StateCapture | None, at: str, run_dir: Path, spec: WorkloadSpec) -> None:
    """This host's run on the shared generation ended: its part of the state goes to its run folder; a run
    that ended otherwise (or whose state is unknown) makes the data set unusable."""
    why = reason if status != "ok" else (capture.why_not() if capture else "no read-back")
    if why is None and capture is not None:
        keys, versions = host_part(capture.found, spec)
        write_part(ds, data, run_id, at, run_dir, spec, keys, versions, capture.ledger.last_seq())
    mark_part(ds, data, run_id, status, why, at, spec.hostindex, spec.hostcount)


def end_tasks(ds: Dataset, data: dict[str, Any], run_id: str, status: str, reason: str,
              parts: list[dict[str, Any]] | None, at: str, run_dir: Path, spec: WorkloadSpec) -> None:
    """``run --dataset --engine spark`` ended: each task's part goes to the run folder as a host's would, and
    when every task's is there, they are folded into the data set (:func:`join`); otherwise it is unusable."""
    tasks = int(data["shared"]["hosts"])
    by_index = {int(p["index"]): p for p in parts or []}
    fields = len(spec.field_names())
    for index in range(tasks):
        part = by_index.get(index, {})
        host = WorkloadSpec.model_validate({**spec.model_dump(), "hostindex": index, "hostcount": tasks})
        why = (reason or status) if status != "ok" else (part.get("why_not") or (
            None if "keys" in part else f"Spark task {index} returned no part of the state"))
        if why is None:
            write_part(ds, data, run_id, at, run_dir, host, np.asarray(part["keys"], dtype=np.int64),
                       np.asarray(part["versions"], dtype=np.int64).reshape(-1, fields), int(part["last_seq"]))
        mark_part(ds, data, run_id, status, why, at, index, tasks)
    if ds.effective_state(ds.read()) == "shared":
        join(ds.name, [run_dir], ds.store)


def write_part(ds: Dataset, data: Mapping[str, Any], run_id: str, at: str, run_dir: Path, spec: WorkloadSpec,
               keys: np.ndarray, versions: np.ndarray, last_seq: int) -> None:
    """Host ``spec.hostindex``'s part of the state (its keys' versions), in ``run_dir``."""
    import io

    index, count = spec.hostindex, spec.hostcount
    meta_path, npz_path = part_paths(run_dir, ds.store, ds.name, index)
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, keys=keys, versions=versions)
    atomic_write_bytes(npz_path, buffer.getvalue())
    write_json(meta_path, {"kind": "storagebench.dataset_part", "store": ds.store, "name": ds.name,
                           "generation": int(data["shared"]["generation"]), "host_index": index, "hosts": count,
                           "run_id": run_id, "status": "ok", "at": at, "keys": len(keys), "last_seq": last_seq,
                           "fields": len(spec.field_names()), "load_run_id": data.get("load_run_id")})


def mark_part(ds: Dataset, data: Mapping[str, Any], run_id: str, status: str, why: str | None, at: str,
              index: int, count: int) -> None:
    """Host ``index``'s run ended: done (its part written), or failed, which makes the data set unusable."""
    generation = int(data["shared"]["generation"])
    with _Lock(ds):
        now = ds.read()
        part = now.get("shared", {}).get("parts", {}).get(str(index), {})
        part.update(state="done" if why is None else "failed", status=status, at=at)
        if why is not None and now.get("state") != "unusable":
            now.update(state="unusable", reason=f"host {index}/{count} (run {run_id}) of shared generation "
                                                f"{generation} ended {status}: {why}; what the store holds is unknown")
        ds.write(now)


def _parts_in(run_dirs: list[Path], name: str) -> dict[str, dict[int, tuple[Path, dict[str, Any]]]]:
    """The parts of data set ``name`` in ``run_dirs``: store -> host index -> (its .json, its content)."""
    found: dict[str, dict[int, tuple[Path, dict[str, Any]]]] = {}
    for run_dir in run_dirs:
        if not run_dir.is_dir():
            raise UsageError(f"no such run folder: {run_dir}")
        for path in sorted((run_dir / PARTS).glob(f"*-{name}-host*.json")):
            try:
                meta = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise UsageError(f"{path} is not a data set part ({exc})") from None
            if meta.get("name") != name:
                continue
            store, index = str(meta["store"]), int(meta["host_index"])
            earlier = found.setdefault(store, {}).get(index)
            if earlier is not None:
                raise UsageError(f"data set {name!r} on {store}: host {index} is given twice ({earlier[0]} and "
                                 f"{path}): give each host's run folder once")
            found[store][index] = (path, meta)
    return found


def join(name: str, run_dirs: list[Path], store: str | None = None) -> list[str]:
    """Fold the hosts' parts of a shared generation into data set ``name`` (every store whose parts are
    given, or ``store``'s only); everything is checked before anything is written.  One line per store."""
    check_name(name)
    parts = {s: p for s, p in _parts_in(run_dirs, name).items() if store is None or s == store}
    if not parts:
        raise UsageError(f"no part of data set {name!r} in {', '.join(map(str, run_dirs))} (a run with "
                         f"--dataset {name} --host I/N leaves one under RUN_DIR/{PARTS}/)")
    plans: list[tuple[Dataset, dict[str, Any], dict[int, tuple[Path, dict[str, Any]]]]] = []
    for store, by_host in sorted(parts.items()):
        ds = Dataset(store, name)
        if not ds.exists():
            raise UsageError(f"no data set {name!r} on {store} here (`storagebench datasets list`)")
        data = ds.read()
        state = ds.effective_state(data)
        if state != "shared":
            raise UsageError(f"data set {name!r} on {store} is {state}, not shared by hosts' runs: nothing to join"
                             + (f" ({data.get('reason')})" if data.get("reason") else ""))
        shared = data["shared"]
        hosts = host_states(shared)
        stopped = [i for i, s in hosts.items() if s == "stopped midway"]
        if stopped:
            raise UsageError(f"data set {name!r} on {store}: host(s) {', '.join(stopped)} stopped midway, so their "
                             f"keys' state is unknown: {_drop_hint(ds)}")
        generation, count = int(shared["generation"]), int(shared["hosts"])
        for index, (path, meta) in sorted(by_host.items()):
            if int(meta["generation"]) != generation or int(meta["hosts"]) != count:
                raise UsageError(f"{path} is host {index}/{meta['hosts']} of generation {meta['generation']}; data "
                                 f"set {name!r} on {store} is in generation {generation} of {count} hosts")
            if meta.get("status") != "ok":
                raise UsageError(f"{path}: host {index} ended {meta.get('status')}: its keys' state is unknown")
        missing = sorted(set(range(count)) - set(by_host))
        if missing:
            raise UsageError(f"data set {name!r} on {store}: host(s) {', '.join(map(str, missing))} of {count} "
                             f"missing: give every host's run folder")
        running = [f"{i}: {s}" for i, s in hosts.items() if s != "done"]
        if running:
            raise UsageError(f"data set {name!r} on {store}: host(s) not done here ({'; '.join(running)})")
        plans.append((ds, data, by_host))
    lines = []
    for ds, data, by_host in plans:
        old = np.asarray(ds.versions())
        loaded = []
        for _index, (path, _meta) in sorted(by_host.items()):
            with np.load(path.with_suffix(".npz")) as npz:
                loaded.append((npz["keys"], npz["versions"]))
        high = max([len(old), *(int(k.max()) + 1 for k, _ in loaded if len(k))])
        new = np.full((high, old.shape[1]), ABSENT, dtype=np.int64)
        new[:len(old)] = old
        for keys, versions in loaded:
            new[keys] = versions
        shared = data["shared"]
        ds.write_versions(new)
        metas = [meta for _, (_, meta) in sorted(by_host.items())]
        runs = [{"run_id": m["run_id"], "generation": shared["generation"], "status": "ok", "at": m["at"],
                 "host": f"{m['host_index']}/{m['hosts']}"} for m in metas]
        done = {k: v for k, v in data.items() if k != "shared"}
        done.update(state="complete", reason="", generation=shared["generation"], keys=high,
                    seq_base=max([int(data["seq_base"]), *(int(m["last_seq"]) for m in metas)]),
                    runs=[*data.get("runs", []), *runs])
        ds.write(done)
        lines.append(f"{ds.store}: data set {ds.name} generation {shared['generation']}: joined {len(metas)} hosts' "
                     f"parts ({sum(int(m['keys']) for m in metas):,} keys' versions), {high:,} keys")
    return lines
