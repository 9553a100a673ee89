"""One phase on every client, wherever the clients run: this machine's threads and processes
(:mod:`storagebench.running.runner`) or Spark tasks (:mod:`storagebench.spark.loadgen`), chosen by the
plan's engine.  Both return the same :class:`~storagebench.running.runner.PhaseOutcome`."""

from __future__ import annotations

import time
from collections.abc import Callable

from storagebench.measuring.ledger import Ledger
from storagebench.running.runner import PhaseOutcome, PhasePlan, outcome_of, run_local


def run_phase(plan: PhasePlan, on_progress: Callable[[int, int], None] | None = None,
              poll: float = 0.25, ledger: Ledger | None = None) -> PhaseOutcome:
    """Run one phase on all workers; returns when they finish, or when the coordinator stops them
    (stall, deadline, SIGINT/SIGTERM) and they returned or the grace passed.  ``ledger``: the workload's,
    shared by the local workers of its phases (Spark tasks share no memory: each keeps its own)."""
    if plan.engine != "spark":
        return run_local(plan, on_progress, poll, ledger)
    from storagebench.spark.loadgen import run_workers_on_spark

    began = time.time()
    exports, job = run_workers_on_spark(plan, plan.workers, on_progress)
    outcome = outcome_of(exports, began, plan)
    outcome.spark = job.as_dict()
    if plan.dataset is not None:
        outcome.host_parts = [e.get("host_part") or {"index": i, "why_not": e.get("fatal", "no part")}
                              for i, e in enumerate(exports)]
    return outcome
