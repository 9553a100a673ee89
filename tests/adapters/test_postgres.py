"""Conformance and PostgreSQL-specific checks against the real server (`storagebench services up postgres`),
with each driver and wait: psycopg (blocking, spinning) and psycopg2."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
from storagebench.adapters.base import Adapter, Placement
from storagebench.adapters.postgres.adapter import PostgresAdapter
from storagebench.adapters.postgres.service import cluster_major

from storagebench.errors import AlreadyExists, NotFound, Unavailable
from storagebench.testing.conformance import AdapterConformance
from storagebench.testing.engines import require_engine

pytestmark = pytest.mark.engine("postgres")


DRIVERS = {"psycopg-block": {"driver": "psycopg", "wait": "block"},
           "psycopg-spin": {"driver": "psycopg", "wait": "spin"},
           "psycopg-share": {"driver": "psycopg", "wait": "share"},  # outside a hub: a poll() per answer
           "psycopg2": {"driver": "psycopg2"}}


@pytest.fixture(params=list(DRIVERS))
def options(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {**require_engine("postgres"), **DRIVERS[request.param]}


class TestPostgres(AdapterConformance):
    @pytest.fixture
    def adapter_factory(self, options: dict[str, Any]) -> Callable[[], Adapter]:
        return lambda: PostgresAdapter(options)


def _raw(options: dict[str, Any]) -> Any:
    import psycopg2

    conn = psycopg2.connect(host=options["host"], port=options["port"], user=options["user"],
                            dbname=options["database"], password=options.get("password"))
    conn.autocommit = True
    return conn


def test_foreign_table_survives(options: dict[str, Any]) -> None:
    foreign = f"usertable_{uuid.uuid4().hex[:8]}"
    raw = _raw(options)
    try:
        with raw.cursor() as cur:
            cur.execute(f"CREATE TABLE {foreign} (key TEXT PRIMARY KEY, v TEXT)")
            cur.execute(f"INSERT INTO {foreign} VALUES ('k', 'v')")
        ns = f"sbench_fk_{uuid.uuid4().hex[:8]}"
        with PostgresAdapter(options) as adapter:
            adapter.prepare(ns, ["field0"])
            adapter.insert(ns, "k", {"field0": "a"})
            adapter.drop(ns)
            with pytest.raises(ValueError):
                adapter.drop(foreign)
        with raw.cursor() as cur:
            cur.execute(f"SELECT v FROM {foreign} WHERE key = 'k'")
            assert cur.fetchone() == ("v",)
            cur.execute("SELECT count(*) FROM pg_tables WHERE tablename = %s", (ns,))
            assert cur.fetchone() == (0,)
    finally:
        with raw.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {foreign}")
        raw.close()


def test_server_info_is_the_server_version(options: dict[str, Any]) -> None:
    raw = _raw(options)
    with raw.cursor() as cur:
        cur.execute("SELECT current_setting('server_version')")
        (expected,) = cur.fetchone()
    raw.close()
    with PostgresAdapter(options) as adapter:
        info = adapter.server_info()
    assert info.engine == "PostgreSQL"
    assert info.version == expected.split()[0]
    assert info.version.startswith(f"{cluster_major()}.")


def test_password_is_secret() -> None:
    adapter = PostgresAdapter({"password": "hunter2-secret"})
    assert "hunter2-secret" not in repr(adapter.options)
    assert "hunter2-secret" not in str(adapter.options.model_dump())
    assert "hunter2-secret" not in adapter.options.model_dump_json()


def test_duplicate_insert_and_missing_table(options: dict[str, Any]) -> None:
    ns = f"sbench_dup_{uuid.uuid4().hex[:8]}"
    with PostgresAdapter(options) as adapter:
        adapter.prepare(ns, ["field0"])
        try:
            adapter.insert(ns, "k", {"field0": "a"})
            with pytest.raises(AlreadyExists):
                adapter.insert(ns, "k", {"field0": "b"})
            assert adapter.read(ns, "k") == {"field0": "a"}  # the connection still works
        finally:
            adapter.drop(ns)
        with pytest.raises(NotFound):
            adapter.read(ns, "k")


def test_copy_keeps_null_and_empty_apart_and_big_scan_uses_cursor(options: dict[str, Any]) -> None:
    ns = f"sbench_copy_{uuid.uuid4().hex[:8]}"
    n = 300
    batch = pa.table({"key": [f"k{i:04d}" for i in range(n)],
                      "field0": ["" if i % 2 else f'v,"{i}"\n' for i in range(n)],
                      "field1": [None if i % 3 == 0 else str(i) for i in range(n)]})
    with PostgresAdapter({**options, "server_cursor_threshold": 50}) as adapter:
        adapter.prepare(ns, ["field0", "field1"])
        try:
            adapter.write_batch(ns, batch)
            back = adapter.read_batch(ns)
            assert back.to_pydict() == batch.to_pydict()
            assert adapter.read(ns, "k0000") == {"field0": 'v,"0"\n'}
            rows = adapter.scan(ns, "k0100", 120)  # > threshold: server-side cursor
            assert [k for k, _ in rows] == [f"k{i:04d}" for i in range(100, 220)]
            assert adapter.scan(ns, "k0001", 1) == [("k0001", {"field0": "", "field1": "1"})]
            subset = adapter.read_batch_where(ns, ["field1"], "field0", "")
            assert subset.to_pydict() == {"key": [f"k{i:04d}" for i in range(1, n, 2)],
                                          "field1": [None if i % 3 == 0 else str(i) for i in range(1, n, 2)]}
        finally:
            adapter.drop(ns)


def test_a_namespace_recreated_with_other_fields_is_read_with_them(options: dict[str, Any]) -> None:
    """The per-shape statement caches are forgotten with the table: no stale column list survives a drop."""
    ns = f"sbench_shape_{uuid.uuid4().hex[:8]}"
    with PostgresAdapter(options) as adapter:
        try:
            adapter.prepare(ns, ["field0", "field1"])
            adapter.insert(ns, "k", {"field0": "a", "field1": "b"})
            assert adapter.read(ns, "k") == {"field0": "a", "field1": "b"}
            adapter.update(ns, "k", {"field1": "c"})
            adapter.drop(ns)
            adapter.prepare(ns, ["field0", "field1", "field2"])
            adapter.insert(ns, "k", {"field0": "x", "field1": "y", "field2": "z"})
            assert adapter.read(ns, "k") == {"field0": "x", "field1": "y", "field2": "z"}
            adapter.update(ns, "k", {"field1": "w"})
            assert adapter.read(ns, "k", ["field1"]) == {"field1": "w"}
        finally:
            adapter.drop(ns)


def test_a_connection_killed_by_the_server_is_unavailable_not_a_hang(options: dict[str, Any]) -> None:
    """The server ends the session between operations (a restart, an admin): the next read says so."""
    ns = f"sbench_kill_{uuid.uuid4().hex[:8]}"
    raw = _raw(options)
    try:
        with PostgresAdapter({**options, "application_name": ns}) as adapter:
            adapter.prepare(ns, ["field0"])
            adapter.insert(ns, "k", {"field0": "a"})
            assert adapter.read(ns, "k") == {"field0": "a"}
            with raw.cursor() as cur:
                cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE application_name = %s", (ns,))
                assert cur.fetchone() == (1,)
            with pytest.raises(Unavailable, match="postgres"):
                adapter.read(ns, "k")
        with PostgresAdapter(options) as adapter:
            adapter.drop(ns)
    finally:
        raw.close()


@pytest.mark.parametrize(("clients", "per_process", "cores", "wait"), [
    (1, 1, 2, "spin"), (2, 1, 2, "block"), (3, 1, 4, "spin"), (2, 2, 4, "block"), (4, 1, 2, "block")])
def test_auto_wait_spins_only_when_the_clients_leave_a_core_free(
        clients: int, per_process: int, cores: int, wait: str) -> None:
    adapter = PostgresAdapter({"driver": "psycopg", "wait": "auto"})
    assert adapter.wait() == "block"  # outside a phase nothing is known: never spin
    adapter.placement = Placement(clients, per_process, cores)
    assert adapter.wait() == wait
    assert PostgresAdapter({"wait": "spin"}).wait() == "spin"


def test_client_info_names_the_driver_and_wait_that_ran(options: dict[str, Any]) -> None:
    with PostgresAdapter(options) as adapter:
        driver = adapter.client_info()["driver"]
    assert driver.split()[0] == options["driver"]
    if options["driver"] == "psycopg":
        assert f"{options['wait']} wait" in driver


@pytest.mark.parametrize("clients", [1, 2])
def test_result_names_the_wait_the_workers_ran_not_the_probe(clients: int) -> None:
    """The probe connection outside any phase blocks; the workers of a phase choose by their placement,
    and the phase's client description is theirs (1 client on 2+ cores spins, 2 clients on 2 cores block)."""
    from storagebench.workloads.spec import resolve

    from storagebench.running.phase import run_phase
    from storagebench.running.runner import PhasePlan

    opts = {**require_engine("postgres"), "driver": "psycopg", "wait": "auto"}
    ns = f"sbench_w_{uuid.uuid4().hex[:8]}"
    spec = resolve("c", {"recordcount": 50, "operationcount": 200})
    try:
        assert run_phase(PhasePlan("postgres", opts, spec, "load", ns, 1)).workers_ok
        plan = PhasePlan("postgres", opts, spec, "run", ns, 1, clients=clients, processes=clients)
        outcome = run_phase(plan)
        assert outcome.workers_ok
        expected = "spin" if plan.placement().core_to_spare else "block"
        assert outcome.client["driver"].endswith(f"exec_prepared, {expected} wait)")
        with PostgresAdapter(opts) as probe:  # outside a phase, as the suite's probe connection
            assert probe.client_info()["driver"].endswith("block wait)")
    finally:
        with PostgresAdapter(opts) as adapter:
            if ns in adapter.list_namespaces():
                adapter.drop(ns)


def test_a_spinning_client_sleeps_through_a_slow_answer() -> None:
    """The spin is bounded: a 0.3 s answer costs the client a few hundred microseconds of spinning, then it
    sleeps on the socket (unbounded, it burnt a core for the whole wait, and a forced spin on a busy
    machine slowed a load ten times)."""
    import time

    from storagebench.adapters.postgres.drivers import SPIN_BUDGET_NS, Psycopg

    opts = require_engine("postgres")
    session = Psycopg({"host": opts["host"], "port": opts["port"], "user": opts["user"],
                       "dbname": opts["database"], "password": opts.get("password")}, "spin")
    try:
        session.run("PREPARE sbench_slow AS SELECT pg_sleep(0.3)")
        wall, cpu = time.perf_counter(), time.thread_time()
        session.execute("sbench_slow", [], fetch="one")
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    finally:
        session.close()
    assert wall >= 0.3
    assert cpu < 0.25 * wall, f"{cpu * 1e3:.0f} ms of CPU waiting {wall * 1e3:.0f} ms (budget {SPIN_BUDGET_NS} ns)"


@pytest.mark.parametrize("workload", ["a", "c"])
def test_clients_sharing_a_thread_each_get_verified_answers(workload: str) -> None:
    """4 clients as greenlets of 2 processes (the default layout for psycopg 3 when clients outnumber the
    cores): every client waits through the 'share' wait, every read is checked, nothing fails."""
    from storagebench.workloads.spec import resolve

    from storagebench.running.phase import run_phase
    from storagebench.running.runner import PhasePlan

    opts = {**require_engine("postgres"), "driver": "psycopg", "wait": "auto"}
    ns = f"sbench_g_{uuid.uuid4().hex[:8]}"
    spec = resolve(workload, {"recordcount": 200, "operationcount": 4000})
    try:
        with PostgresAdapter(opts) as adapter:
            adapter.prepare(ns, spec.field_names())
        load = PhasePlan("postgres", opts, spec, "load", ns, 1, processes=2, clients=4, cooperative=True)
        loaded = run_phase(load)
        assert {k: h.get_total_count() for k, h in loaded.merged["histograms"].items()} == {"insert|OK": 200}
        plan = PhasePlan("postgres", opts, spec, "run", ns, 1, processes=2, clients=4, cooperative=True)
        outcome = run_phase(plan)
        assert outcome.workers_ok and not outcome.aborted
        assert outcome.client["driver"].endswith("exec_prepared, share wait)")
        statuses = {k: h.get_total_count() for k, h in outcome.merged["histograms"].items()}
        assert sum(n for k, n in statuses.items() if not k.startswith("verify|")) == 4000, statuses
        assert all(k.endswith("|OK") for k in statuses), statuses  # no failed or wrong answer
        assert sorted(w["worker"] for w in outcome.workers) == [0, 1, 2, 3]
        # the clients of one thread share its CPU by operations (each measured the whole thread's)
        per_op = {w["worker"]: w["cpu_us_per_op"] for w in outcome.workers}
        assert per_op[0] == per_op[1] and per_op[2] == per_op[3], per_op
    finally:
        with PostgresAdapter(opts) as adapter:
            if ns in adapter.list_namespaces():
                adapter.drop(ns)


def test_only_psycopg_3_clients_share_a_thread() -> None:
    """psycopg2's calls block the thread, so its clients keep a thread each (the layout follows)."""
    assert PostgresAdapter({"driver": "psycopg"}).capabilities.cooperative
    assert not PostgresAdapter({"driver": "psycopg2"}).capabilities.cooperative
    adapter = PostgresAdapter({"driver": "psycopg", "wait": "auto"})
    adapter.placement = Placement(4, 2, 2, cooperative=True)
    assert adapter.wait() == "share"


def test_a_range_query_on_a_nested_number_goes_through_the_numeric_index() -> None:
    """The document workload's range query, on 2,000 orders after the index is built: PostgreSQL's plan
    scans the expression index on ``(doc->>'placed')::bigint`` rather than the table, and the answer is the
    records in range."""
    from storagebench.workloads.documents import PLACED_FROM, Document, range_width

    options = require_engine("postgres")
    ns = f"sbench_range_{uuid.uuid4().hex[:8]}"
    document = Document("field1", 100)
    keys = [f"k{i:05d}" for i in range(2000)]
    with PostgresAdapter(options) as adapter:
        adapter.declare_document(ns, "field1")
        adapter.prepare(ns, ["field0", "field1"])
        try:
            adapter.write_batch(ns, pa.table({"key": keys, "field0": ["x"] * len(keys),
                                              "field1": [document.render(k) for k in keys]}))
            assert adapter.create_document_index(ns, "field1", "placed", numeric=True)
            lo = PLACED_FROM + 10**8
            hi = lo + range_width(len(keys), 10)
            found = adapter.find_range(ns, "field1", "placed", lo, hi)
            assert [k for k, _ in found] == [k for k in keys if lo <= document.placed_of(k) < hi]
            number = PostgresAdapter._nested("field1", "placed", numeric=True)
            raw = _raw(options)
            try:
                with raw.cursor() as cur:
                    cur.execute(f'EXPLAIN SELECT key FROM "{ns}" WHERE {number} >= %s AND {number} < %s', (lo, hi))
                    plan = "\n".join(row[0] for row in cur.fetchall())
            finally:
                raw.close()
            assert f"Index Scan on {ns}_field1_placed" in plan and "Seq Scan" not in plan, plan
        finally:
            adapter.drop(ns)
