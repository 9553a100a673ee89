"""Spark tasks on a data set: each task is one client host of it (``run --dataset NAME --engine spark``).

A run on a data set is verified against what the data set held before it (:mod:`storagebench.running.datasets`),
and Spark tasks share no memory, so they share it the way several client hosts do (``--host I/N``): task I
of N runs as host I/N with one client.  It reads every key of the data set, writes and deletes only the keys
it owns (``n % N == I``), inserts on its own stripe of new key numbers, and judges every answer against a
ledger of its own started from the data set's state file (its own keys exactly; another task's key: the
version from before the run, or a value that task wrote for it).  After its run phase the task reads back
every key it wrote, deleted or inserted, and returns, with its export, its read-back and its part of the new
state (the versions of the keys it owns).  The driver writes the parts to the run folder and folds them into
the data set as ``datasets join`` would (:func:`storagebench.running.datasets.join`).

What differs from a local run: ``latest`` and the other choosers choose among the data set's keys and the
task's own inserts, not among every task's (as on several hosts); the executors must see the data set's
state file (this machine's, or a filesystem they share with the driver).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from storagebench.measuring.ledger import C_FOREIGN, C_FOREIGN_ABSENT, Ledger
from storagebench.running.runner import PhasePlan, run_watched_worker
from storagebench.workloads.spec import WorkloadSpec


def host_plan(plan: PhasePlan, task: int, tasks: int) -> PhasePlan:
    """The plan of task ``task`` of ``tasks``: host ``task/tasks`` of the data set, with one client, its share
    of the phase's operations and of its target rate."""
    ops = plan.spec.operationcount
    share = ops // tasks + (1 if task < ops % tasks else 0)
    spec = WorkloadSpec.model_validate({**plan.spec.model_dump(), "hostindex": task, "hostcount": tasks,
                                        "operationcount": share, "target": plan.spec.target / tasks})
    return dataclasses.replace(plan, spec=spec, threads=1, processes=1, clients=0, dataset=None)


def run_task(plan: PhasePlan, task: int, tasks: int, progress: list[int], start_at: float,
             reports: Any = None) -> dict[str, Any]:
    """Task ``task``'s run phase as host ``task/tasks``, then its read-back; its export carries ``host_part``."""
    from storagebench.running.datasets import StateCapture, host_part, seed_ledger
    from storagebench.running.readback import read_back

    dataset = plan.dataset
    assert dataset is not None
    if not os.path.isfile(dataset.state_path):
        return {"worker": task, "fatal": f"task {task}: this executor cannot read the data set's state file "
                                         f"{dataset.state_path} (executors must share the driver's filesystem)"}
    mine = host_plan(plan, task, tasks)
    ledger = Ledger(mine.spec, 1)
    seed_ledger(ledger, dataset.state_path, dataset.seq_base)
    export = run_watched_worker(mine, 0, 1, progress, start_at, reports=reports, ledger=ledger)
    export["worker"] = task
    part: dict[str, Any] = {"index": task, "foreign_versions": ledger.counter(C_FOREIGN),
                            "foreign_absent": ledger.counter(C_FOREIGN_ABSENT)}
    if "fatal" not in export and not export.get("aborted"):
        capture = StateCapture(mine.spec, plan.seed, ledger)
        part["readback"] = read_back(mine, ledger, dataset.update_creates, capture.keys, capture.seen)
        part["why_not"] = capture.why_not()
        if part["why_not"] is None:
            keys, versions = host_part(capture.found, mine.spec)
            part.update(keys=keys.tolist(), versions=versions.tolist(), last_seq=ledger.last_seq())
    export["host_part"] = part
    return export
