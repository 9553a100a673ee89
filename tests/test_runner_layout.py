"""The client model: how N clients are placed over processes and threads."""

from __future__ import annotations

from storagebench.workloads.spec import resolve

from storagebench.running.runner import PROCESSES_PER_CORE, PhasePlan, client_layout


def test_default_layout_gives_each_client_a_process_up_to_the_cap() -> None:
    assert client_layout(1, cores=2) == (1, 1)
    assert client_layout(4, cores=2) == (4, 4)
    assert client_layout(64, cores=2) == (2 * PROCESSES_PER_CORE, 64)
    assert client_layout(8, multiprocess=False, cores=2) == (1, 8)


def test_clients_split_evenly_and_contiguously_over_processes() -> None:
    plan = PhasePlan("null", {}, resolve("c"), "run", "sbench_x", 1, processes=2, clients=5)
    assert [plan.process_workers(p) for p in range(2)] == [[0, 1, 2], [3, 4]]
    assert plan.layout()["threads_per_process"] == [3, 2]
    assert PhasePlan("null", {}, resolve("c"), "run", "sbench_x", 1, threads=3, processes=2).workers == 6


def test_each_worker_reports_its_own_cpu_per_operation() -> None:
    """The client's CPU over the phase is what the harness and the driver cost the machine per operation:
    a null-store read costs microseconds, and never more CPU than the phase's wall time."""
    from storagebench.running.phase import run_phase

    spec = resolve("c", {"recordcount": 100, "operationcount": 20_000})
    outcome = run_phase(PhasePlan("null", {}, spec, "run", "sbench_x", 1, processes=2, clients=2))
    assert outcome.workers_ok and len(outcome.workers) == 2
    for worker in outcome.workers:
        assert 0 < worker["cpu_s"] <= worker["elapsed_s"] + 0.05
        assert 0 < worker["cpu_us_per_op"] < 1_000
