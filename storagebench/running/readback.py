"""The read-back pass after every writing phase: the final state of the keys, read through a new adapter
instance (its own connection), checked against the ledger of the phase's writes.

Whatever the writing sessions saw, a write the store acknowledged but never committed, lost, a record
that came back after its delete was acknowledged, or a record whose fields come from writes that cannot
all be current (torn), is caught here: each key read is judged by the same
:class:`~storagebench.measuring.checks.Checker` rules as a read during the phase, with every write over
(nothing in flight).  Every key the phase may have written is read while they number at most
:data:`READBACK_KEYS`; above that, a seeded uniform sample of that many (recorded: ``keys``, ``checked``,
``sampled``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from storagebench.adapters.base import Record
from storagebench.errors import NotFound
from storagebench.measuring.checks import Checker
from storagebench.measuring.ledger import C_HIGH, C_UNJUDGED, Ledger
from storagebench.measuring.measurement import ERROR, NOT_FOUND, OK, Recorder
from storagebench.registry import load_adapter
from storagebench.running.runner import PhasePlan
from storagebench.workloads.generators import KeyNamer
from storagebench.workloads.values import LOAD_WRITER, Values

#: every key is read back while there are at most this many; above, a sample of this many
READBACK_KEYS = 20_000
#: failed reads (errors, not wrong answers) after which the pass stops: it cannot tell what is stored
MAX_ERRORS = 20
#: connections reading at once (each its own adapter instance) on a store that takes several processes;
#: one otherwise.  A key's answer is judged after every read is back, in key order, as one reader would
READERS = 4

#: one key's answer: the record (None: none), its status, when the read began and ended (ns), the error
Answer = tuple[Record | None, str, int, int, str]


def _read(plan: PhasePlan, names: list[str], readers: int) -> list[Answer]:
    """Every key's answer, read by ``readers`` threads, each through its own new adapter instance over a
    contiguous share of the keys.  A reader stops after :data:`MAX_ERRORS` errors (its other keys are not
    read: the pass stops there)."""
    bounds = np.linspace(0, len(names), readers + 1).astype(int).tolist()

    def share(lo: int, hi: int) -> list[Answer]:
        out: list[Answer] = []
        errors = 0
        adapter = load_adapter(plan.adapter)(plan.options)
        try:
            adapter.connect()
            for key in names[lo:hi]:
                t0 = time.perf_counter_ns()
                got, status, error = None, OK, ""
                try:
                    got = adapter.read(plan.namespace, key, None)
                except NotFound:
                    status = NOT_FOUND
                except Exception as exc:
                    status, error = ERROR, f"{type(exc).__name__}: {exc}"
                    errors += 1
                out.append((got, status, t0, time.perf_counter_ns(), error))
                if errors >= MAX_ERRORS:
                    break
        finally:
            adapter.close()
        return out

    if readers == 1:
        return share(0, len(names))
    with ThreadPoolExecutor(readers, thread_name_prefix="storagebench-readback") as pool:
        parts = list(pool.map(share, bounds[:-1], bounds[1:]))
    answers: list[Answer] = []
    for (lo, hi), part in zip(itertools.pairwise(bounds), parts, strict=True):
        answers.extend(part)
        if len(part) < hi - lo:  # that reader stopped on errors: the pass stops at its last one
            break
    return answers


def keys_to_read(plan: PhasePlan, ledger: Ledger) -> tuple[np.ndarray, int]:
    """The key numbers to read back (sorted) and how many the phase may have written."""
    spec = plan.spec
    loaded = np.arange(spec.insertstart, spec.insertstart + spec.loaded_count(), dtype=np.int64)
    high = min(ledger.counter(C_HIGH), ledger.capacity)
    keys = np.concatenate([loaded, np.arange(spec.recordcount, high, dtype=np.int64)])
    if len(keys) <= READBACK_KEYS:
        return keys, len(keys)
    pick = np.random.default_rng([plan.seed, 0x0BAC]).choice(len(keys), READBACK_KEYS, replace=False)
    return np.sort(keys[pick]), len(keys)


def read_back(plan: PhasePlan, ledger: Ledger, update_creates: bool, must_read: np.ndarray | None = None,
              seen: Callable[[int, str, Record | None], None] | None = None) -> dict[str, Any]:
    """Read the phase's keys through new adapter instances (:data:`READERS` at once where the store takes
    several processes); what was found wrong (``failures``).

    ``must_read``: key numbers read whatever the sample (a run on a data set: every key it wrote); ``seen``
    gets each key's answer that passed its checks (None: NOT_FOUND)."""
    spec = plan.spec
    keys, total = keys_to_read(plan, ledger)
    if must_read is not None:
        keys = np.union1d(keys, must_read)
    recorder = Recorder()
    values = Values(spec, plan.seed, LOAD_WRITER)
    checker = Checker(spec, plan.seed, values, recorder, plan.workers, ledger, True, update_creates)
    names = KeyNamer(spec).names(keys)
    unjudged = ledger.counter(C_UNJUDGED)
    errors: list[str] = []
    started = time.perf_counter()
    checked = 0
    readers = READERS if load_adapter(plan.adapter).capabilities.multiprocess and len(names) >= 2 * READERS else 1
    # fewer answers than keys only when a reader stopped on errors (then so does this loop)
    for keynum, key, (got, status, t0, t1, error) in zip(keys.tolist(), names, _read(plan, names, readers),
                                                        strict=False):
        recorder.add("read", status, t0, t1)
        if status == ERROR:
            errors.append(f"read of {key}: {error}")
            if len(errors) >= MAX_ERRORS:
                break
            continue
        if checker.read("read", keynum, key, got, None, status, checker.before(keynum)) and seen is not None:
            seen(keynum, key, got)
        checked += 1
    seconds = time.perf_counter() - started
    return {
        "connection": "a new adapter instance, after the phase" if readers == 1 else
                      f"{readers} new adapter instances at once, after the phase",
        "keys": total, "checked": checked, "limit": READBACK_KEYS, "sampled": total > READBACK_KEYS,
        "failures": recorder.verify_failures, "first_failures": list(recorder.first_failures),
        "errors": len(errors), "first_errors": errors[:3],
        "unjudged_versions": ledger.counter(C_UNJUDGED) - unjudged,
        "seconds": round(seconds, 3), "us_per_key": round(1e6 * seconds / checked, 1) if checked else None,
    }


def merged(backs: list[dict[str, Any] | None], connection: str) -> dict[str, Any] | None:
    """Several read-back passes (Spark tasks', each of its own keys) as one; None when any of them ran none."""
    done = [b for b in backs if b is not None]
    if not done or len(done) != len(backs):
        return None
    seconds = max(float(b["seconds"]) for b in done)
    checked = sum(int(b["checked"]) for b in done)
    return {"connection": connection, "keys": sum(int(b["keys"]) for b in done), "checked": checked,
            "limit": max(int(b["limit"]) for b in done), "sampled": any(b["sampled"] for b in done),
            "failures": sum(int(b["failures"]) for b in done),
            "first_failures": [f for b in done for f in b["first_failures"]][:5],
            "errors": sum(int(b["errors"]) for b in done),
            "first_errors": [e for b in done for e in b["first_errors"]][:3],
            "unjudged_versions": sum(int(b["unjudged_versions"]) for b in done),
            "seconds": seconds, "us_per_key": round(1e6 * seconds / checked, 1) if checked else None}
