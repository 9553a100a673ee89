"""Field values: random like YCSB's, new on every write, self-checking; and the checks built on them."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pytest
from storagebench.adapters.base import Query, QueryResult
from storagebench.workloads.generators import KeyNamer
from storagebench.workloads.spec import resolve
from storagebench.workloads.values import HEADER, LOAD_WRITER, MIN_LENGTH, Values, Version, crc32_rows

from storagebench.errors import UsageError
from storagebench.measuring.checks import Before, Checker
from storagebench.measuring.ledger import Ledger
from storagebench.measuring.measurement import NOT_FOUND, OK, Recorder


def test_every_write_gives_a_new_value_of_the_right_length() -> None:
    spec = resolve("a")
    v = Values(spec, 42, writer=1)
    first = v.write("user1")
    again = v.write("user1")
    assert all(len(x) == spec.fieldlength for x in first.values())
    assert all(first[f] != again[f] for f in first)  # an update always changes the stored value
    assert len(set(first.values())) == spec.fieldcount
    assert all(c.isprintable() and c not in " ,'\"\\" for x in first.values() for c in x)


def test_value_tells_key_field_and_write() -> None:
    v = Values(resolve("a"), 42, writer=3)
    rec = v.write("user9", ["field2", "field5"])
    assert v.check("user9", "field2", rec["field2"]) == Version(3, v.seq)
    load = Values(resolve("a"), 42).load_record("user9")
    assert v.check("user9", "field0", load["field0"]) == Version(0, 0)
    # the same text read under another key or field was never written there
    assert isinstance(v.check("user8", "field2", rec["field2"]), str)
    assert isinstance(v.check("user9", "field5", rec["field2"]), str)
    corrupted = rec["field2"][:50] + ("x" if rec["field2"][50] != "x" else "y") + rec["field2"][51:]
    assert isinstance(v.check("user9", "field2", corrupted), str)
    assert isinstance(v.check("user9", "field2", rec["field2"][:-1]), str)
    assert v.mismatch("user9", {"field2": rec["field2"]}, None)  # missing fields


def test_values_compress_like_random_text_not_2x() -> None:
    v = Values(resolve("a"), 7, writer=1)
    data = "".join(x for i in range(2000) for x in v.write(f"user{i}").values()).encode()
    ratio = len(data) / len(zlib.compress(data, 6))
    assert 1.15 < ratio < 1.45, ratio


def test_query_and_graph_fields_are_fixed_and_never_updated() -> None:
    q = resolve("query")
    v = Values(q, 1, writer=1)
    assert {q.queryfield, q.querysumfield} == set(v.fixed)
    assert q.queryfield not in v.writable_fields
    a, b = v.write("user3"), v.write("user3")
    assert a[q.queryfield] == b[q.queryfield] == v.group_value(v.group_of("user3"))
    assert int(a[q.querysumfield]) == v.summand_of("user3")


def test_short_values_still_tell_key_field_and_write() -> None:
    """A value of MIN_LENGTH..HEADER characters is writer, write number and a digest of key and field."""
    for length in (MIN_LENGTH, 10, HEADER):
        spec = resolve("a", {"fieldlength": length})
        v = Values(spec, 1, writer=3)
        v.write("user1")
        rec = v.write("user1")
        assert all(len(x) == length for x in rec.values())
        assert v.check("user1", "field0", rec["field0"]) == Version(3, 2)
        assert Values(spec, 1).load_record("user1")["field0"] != rec["field0"]
        assert v.check("user1", "field0", Values(spec, 1).load_record("user1")["field0"]) == Version(0, 0)
        for wrong in (v.check("user2", "field0", rec["field0"]), v.check("user1", "field1", rec["field0"]),
                      v.check("user1", "field0", rec["field0"][:-1] + ("x" if rec["field0"][-1] != "x" else "y")),
                      v.check("user1", "field0", rec["field0"] + "x")):
            assert isinstance(wrong, str)


@pytest.mark.parametrize("props", [{"fieldlength": MIN_LENGTH - 1},
                                   {"fieldlengthdistribution": "uniform", "fieldlength": 100},
                                   {"fieldlengthdistribution": "zipfian", "minfieldlength": 4, "fieldlength": 100}])
def test_values_too_short_to_verify_are_refused_up_front(props: dict[str, object]) -> None:
    with pytest.raises(UsageError, match=f"cannot identify their key, field and write.*need {MIN_LENGTH}"):
        resolve("a", props)


def test_graph_links_are_loaded_keys_and_reachability_is_bfs() -> None:
    s = resolve("graph", {"recordcount": 50})
    v = Values(s, 3)
    loaded = set(KeyNamer(s).names(np.arange(50)))
    start = KeyNamer(s).name(7)
    links = v.load_record(start)[s.links_field()].split(",")
    assert len(links) == s.graphdegree and set(links) <= loaded
    one = v.reachable(start, 1)
    assert one == set(links) - {start}
    assert one <= v.reachable(start, 2) <= loaded


@pytest.mark.parametrize(("targets", "top_share"), [("uniform", (0.005, 0.02)), ("powerlaw", (0.18, 0.25))])
def test_graph_targets_uniform_or_power_law(targets: str, top_share: tuple[float, float]) -> None:
    """powerlaw: the 1% lowest key numbers receive about 0.01**(1/3) = 21.5% of all links (hubs), uniform about
    1%; every record keeps graphdegree links, and every link points to a loaded record."""
    s = resolve("graph", {"recordcount": 5000, "graphtargets": targets})
    v = Values(s, 3)
    namer = KeyNamer(s)
    hubs = set(namer.names(np.arange(50)))
    loaded = set(namer.names(np.arange(5000)))
    links = [t for k in namer.names(np.arange(5000)) for t in v.links(k)]
    assert len(links) == 5000 * s.graphdegree and set(links) <= loaded
    share = sum(t in hubs for t in links) / len(links)
    assert top_share[0] <= share <= top_share[1], share


def _ledger(name: str, workers: int = 1, **props: object) -> Ledger:
    spec = resolve(name, {"recordcount": 20, **props})
    ledger = Ledger(spec, workers)
    ledger.loaded(range(spec.loaded_count()), True)
    return ledger


def _checker(name: str, workers: int = 1, writer: int = 1, ledger: Ledger | None = None,
             update_creates: bool = False, **props: object) -> tuple[Checker, Values, Recorder]:
    """A worker's checker (as writer ``writer``) on ``ledger`` (new, with the load acknowledged, if None)."""
    spec = resolve(name, {"recordcount": 20, **props})
    ledger = ledger or _ledger(name, workers, **props)
    rec = Recorder()
    values = Values(spec, 5, writer=writer)
    return Checker(spec, 5, values, rec, workers, ledger, True, update_creates), values, rec


def _answer(rec: Recorder, op: str, status: str = OK) -> None:
    rec.add(op, status, 10, 20)


def _update(check: Checker, values: Values, keynum: int, fields: list[str], status: str = OK) -> dict[str, str]:
    key = check.namer.name(keynum)
    new = values.write(key, fields)
    issued = check.issue(keynum, values.seq)
    _answer(check.rec, "update", status)
    check.wrote("update", keynum, key, fields, values.seq, status, issued)
    return new


def _insert(check: Checker, values: Values, keynum: int, status: str = OK) -> dict[str, str]:
    key = check.namer.name(keynum)
    new = values.write(key)
    issued = check.issue(keynum, values.seq, key)
    _answer(check.rec, "insert", status)
    check.wrote("insert", keynum, key, values.fields, values.seq, status, issued)
    return new


def _delete(check: Checker, keynum: int, status: str = OK) -> None:
    key = check.namer.name(keynum)
    issued = check.delete_issued(keynum, key)
    _answer(check.rec, "delete", status)
    check.deleted_key(keynum, key, status, issued)


def _read(check: Checker, keynum: int, got: dict[str, str] | None, fields: list[str] | None = None,
          status: str = OK, before: Before | None = None) -> bool:
    b = before or check.before(keynum)
    _answer(check.rec, "read", status)
    return check.read("read", keynum, check.namer.name(keynum), got, fields, status, b)


def test_lost_update_is_caught_with_one_worker() -> None:
    check, values, rec = _checker("a")
    key = check.namer.name(3)
    old = Values(check.spec, 5).load_record(key)
    new = _update(check, values, 3, ["field1"])
    assert _read(check, 3, {**old, "field1": new["field1"]})
    assert not _read(check, 3, old)  # the store kept the loaded value
    assert rec.verify_failures == 1 and "lost update" in rec.first_failures[0]
    rec.flush()
    assert rec.histograms[("read", "UNEXPECTED")].get_total_count() == 1
    assert rec.histograms[("read", "OK")].get_total_count() == 1


def test_another_workers_acknowledged_update_makes_the_older_value_a_lost_update() -> None:
    ledger = _ledger("a", workers=2)
    a, va, _ = _checker("a", 2, writer=1, ledger=ledger)
    b, vb, rec = _checker("a", 2, writer=2, ledger=ledger)
    key = a.namer.name(3)
    old = Values(a.spec, 5).load_record(key)
    started = b.before(3)  # b's read is sent before a's update is acknowledged: either value may come back
    first = _update(a, va, 3, ["field1"])
    assert _read(b, 3, old, before=started)
    assert _read(b, 3, {**old, "field1": first["field1"]}, before=started)
    assert not _read(b, 3, old)  # sent after the acknowledgement
    assert "worker 0" not in rec.first_failures[0] and "the load's write #0" in rec.first_failures[0]
    second = _update(a, va, 3, ["field1"])  # issued after the first was acknowledged
    assert not _read(b, 3, {**old, "field1": first["field1"]})
    assert "worker 0's write #1" in rec.first_failures[-1] and "lost update" in rec.first_failures[-1]
    assert _read(b, 3, {**old, "field1": second["field1"]})
    # two updates in flight at once: whichever the store kept is current
    wa = va.write(key, ["field2"])
    ta = a.issue(3, va.seq)
    wb = vb.write(key, ["field2"])
    tb = b.issue(3, vb.seq)
    a.wrote("update", 3, key, ["field2"], va.seq, OK, ta)
    b.wrote("update", 3, key, ["field2"], vb.seq, OK, tb)
    current = {**old, "field1": second["field1"]}
    assert _read(b, 3, {**current, "field2": wa["field2"]}) and _read(a, 3, {**current, "field2": wb["field2"]})
    assert rec.verify_failures == 2


def test_a_version_nobody_issued_is_refused() -> None:
    ledger = _ledger("a", workers=2)
    check, _, rec = _checker("a", 2, ledger=ledger)
    key = check.namer.name(3)
    forged = Values(check.spec, 5, writer=2)
    forged.write(key, ["field1"])
    value = forged.write(key, ["field1"])["field1"]  # write #2 of worker 1, which issued nothing
    assert not _read(check, 3, {"field1": value}, ["field1"])
    assert "which had issued only 0 writes" in rec.first_failures[0]
    assert not _read(check, 3, {"field1": Values(check.spec, 5, writer=7).write(key, ["field1"])["field1"]},
                     ["field1"])
    assert "does not exist in this run" in rec.first_failures[1]


def test_an_answer_verified_before_is_accepted_again_only_while_nothing_changed() -> None:
    """The memo of verified answers never lets through what the full check would refuse."""
    ledger = _ledger("a", workers=2)
    check, _, rec = _checker("a", 2, ledger=ledger)
    other, other_values, _ = _checker("a", 2, writer=2, ledger=ledger)
    key = check.namer.name(3)
    old = Values(check.spec, 5).load_record(key)
    assert _read(check, 3, dict(old))
    assert key in check.verified
    # a later answer that differs in one character is checked in full
    flipped = dict(old, field4=old["field4"][:-1] + ("x" if old["field4"][-1] != "x" else "y"))
    assert not _read(check, 3, flipped)
    # the same values under swapped field names: not the answer verified before
    assert not _read(check, 3, dict(old, field4=old["field5"], field5=old["field4"]))
    # after another worker's acknowledged update, the answer verified before is a lost update
    new = _update(other, other_values, 3, ["field1"])
    assert not _read(check, 3, dict(old))
    assert "lost update" in rec.first_failures[-1]
    # a subset verified for one field does not pass for another, even through a reused list
    asked = ["field1"]
    assert _read(check, 3, {"field1": new["field1"]}, asked)
    asked[0] = "field2"
    assert not _read(check, 3, {"field1": new["field1"]}, asked)
    # after another worker's acknowledged delete, the record verified before must not come back
    _delete(other, 3)
    assert not _read(check, 3, {**old, "field1": new["field1"]})
    assert "delete was acknowledged" in rec.first_failures[-1]
    assert rec.verify_failures == 5


def test_not_found_is_a_failure_exactly_when_the_record_must_exist() -> None:
    ledger = _ledger("delete", workers=2)
    check, _, rec = _checker("delete", 2, ledger=ledger)
    other, other_values, _ = _checker("delete", 2, writer=2, ledger=ledger)
    assert not _read(check, 3, None, status=NOT_FOUND)  # loaded, never deleted
    assert _read(check, 25, None, status=NOT_FOUND)  # never inserted
    _insert(other, other_values, 25)  # another worker's insert, acknowledged
    assert not _read(check, 25, None, status=NOT_FOUND)
    assert "inserted and acknowledged" in rec.first_failures[-1]
    # a delete in flight (issued, not yet returned) may have removed it
    issued = other.delete_issued(4, other.namer.name(4))
    assert _read(check, 4, None, status=NOT_FOUND)
    _answer(other.rec, "delete")
    other.deleted_key(4, other.namer.name(4), OK, issued)
    assert _read(check, 4, None, status=NOT_FOUND)
    assert rec.verify_failures == 2



def test_a_delete_answered_not_found_is_a_lie_unless_another_delete_of_the_key_raced_it() -> None:
    """Seen with 2 processes x 2 threads on SQLite: worker 0 issued the first delete of a key, worker 2 issued
    another while the first waited for the write lock; worker 2's won (OK) and worker 0's found nothing."""
    ledger = _ledger("delete", workers=2)
    check, _, rec = _checker("delete", 2, ledger=ledger)
    other, _, _ = _checker("delete", 2, writer=2, ledger=ledger)
    _delete(check, 3, NOT_FOUND)  # loaded, never deleted, no other delete: the store lost the record
    assert rec.verify_failures == 1 and "no other delete of it was issued" in rec.first_failures[-1]
    first = check.delete_issued(5, check.namer.name(5))
    _delete(other, 5)  # issued after the first, answered before it
    _answer(rec, "delete", NOT_FOUND)
    check.deleted_key(5, check.namer.name(5), NOT_FOUND, first)
    assert rec.verify_failures == 1
    _delete(check, 5, NOT_FOUND)  # a delete of a key already deleted: NOT_FOUND is the truth
    assert rec.verify_failures == 1

def test_scan_coverage_counts_every_record_that_must_exist() -> None:
    ledger = _ledger("e", workers=2, recordcount=50)
    check, _, rec = _checker("e", 2, ledger=ledger, recordcount=50)
    other, other_values, _ = _checker("e", 2, writer=2, ledger=ledger, recordcount=50)
    inserted = {other.namer.name(50): _insert(other, other_values, 50)}
    loaded = {k: Values(check.spec, 5).load_record(k) for k in check.namer.names(np.arange(50))}
    table = sorted({**loaded, **inserted}.items())
    at = [k for k, _ in table].index(other.namer.name(50))
    start = max(0, at - 2)

    def scan(rows: list[tuple[str, dict[str, str]]], count: int = 5) -> None:
        t = ledger.now()
        _answer(rec, "scan")
        check.scan(table[start][0], count, rows, None, OK, t)

    scan(table[start:start + 5])
    assert rec.verify_failures == 0
    scan(table[start:start + 2])  # short: must have reached the end of the table
    scan([r for r in table[start:start + 6] if r[0] != other.namer.name(50)])  # skipped the other's insert
    assert "skipped " + other.namer.name(50) in rec.first_failures[-1]
    scan([])
    assert rec.verify_failures == 3
    _delete(other, 50)  # deleted: a scan that leaves it out is right, one that returns it is not
    scan([r for r in table[start:start + 6] if r[0] != other.namer.name(50)])
    scan(table[start:start + 5])
    assert rec.verify_failures == 4 and "delete was acknowledged" in rec.first_failures[-1]


@pytest.mark.parametrize("workers", [1, 2])
def test_query_result_is_exact_whatever_the_number_of_workers(workers: int) -> None:
    ledger = _ledger("query", workers=workers, recordcount=200)
    check, values, rec = _checker("query", workers, ledger=ledger, recordcount=200)
    keys = check.namer.names(np.arange(200))
    group = values.group_of(keys[0])
    members = [k for k in keys if values.group_of(k) == group]
    query = Query(check.spec.queryfield, values.group_value(group), "sum", check.spec.querysumfield)
    right = QueryResult(len(members), sum(values.summand_of(k) for k in members))
    for answer in (right, QueryResult(right.count, (right.total or 0) + 1), QueryResult(right.count - 1, right.total),
                   QueryResult(right.count + 1, (right.total or 0) + 1)):
        before = check.query_before(group)
        _answer(rec, "query")
        check.query(group, query, answer, OK, before)
    assert rec.verify_failures == 3
    assert f"count {right.count + 1}, expected {right.count}" in rec.first_failures[-1]


def test_query_bounds_follow_the_writes_in_flight() -> None:
    spec_props: dict[str, Any] = {"recordcount": 200, "insertproportion": 0.1, "queryproportion": 0.8}
    ledger = _ledger("query", workers=2, **spec_props)
    check, values, rec = _checker("query", 2, ledger=ledger, **spec_props)
    other, other_values, _ = _checker("query", 2, writer=2, ledger=ledger, **spec_props)
    new_key = other.namer.name(200)
    group = values.group_of(new_key)
    members = [k for k in check.namer.names(np.arange(200)) if values.group_of(k) == group]
    query = Query(check.spec.queryfield, values.group_value(group), "count")
    new = other_values.write(new_key)
    issued = other.issue(200, other_values.seq, new_key)  # in flight: either count is right
    for count in (len(members), len(members) + 1, len(members) + 2):
        before = check.query_before(group)
        _answer(rec, "query")
        check.query(group, query, QueryResult(count), OK, before)
    assert rec.verify_failures == 1 and f"between {len(members)} and {len(members) + 1}" in rec.first_failures[0]
    _answer(other.rec, "insert")
    other.wrote("insert", 200, new_key, list(new), other_values.seq, OK, issued)
    before = check.query_before(group)
    _answer(rec, "query")
    check.query(group, query, QueryResult(len(members)), OK, before)
    assert rec.verify_failures == 2 and f"expected {len(members) + 1}" in rec.first_failures[1]


def test_an_upsert_after_a_delete_recreates_a_partial_record_that_is_not_a_failure() -> None:
    """HBase's update is a put (update_requires_existing=False): update after delete makes a partial record;
    a store that does not declare upserts must not, and nor may a record never deleted lack fields."""
    check, values, rec = _checker("delete", update_creates=True)
    _delete(check, 3)
    new = _update(check, values, 3, ["field4"])
    assert _read(check, 3, new)
    assert not _read(check, 5, {"field4": Values(check.spec, 5).load_record(check.namer.name(5))["field4"]})
    assert "missing" in rec.first_failures[-1]
    strict, strict_values, strict_rec = _checker("delete")
    _delete(strict, 3)
    new = _update(strict, strict_values, 3, ["field4"], NOT_FOUND)
    assert not _read(strict, 3, new)  # a store whose update needs the record: a lie
    assert strict_rec.verify_failures == 1


def test_a_traversal_is_checked_with_deletes_running() -> None:
    spec_props: dict[str, Any] = {"recordcount": 30, "deleteproportion": 0.1, "graphproportion": 0.8}
    ledger = _ledger("graph", workers=2, **spec_props)
    check, values, rec = _checker("graph", 2, ledger=ledger, **spec_props)
    other, _, _ = _checker("graph", 2, writer=2, ledger=ledger, **spec_props)
    start = check.namer.name(0)
    full = values.reachable(start, 2)
    first_hop = values.links(start)

    def graph(reached: set[str]) -> None:
        t = ledger.now()
        _answer(rec, "graph")
        check.graph(start, 0, 2, reached, OK, t)

    graph(full)
    graph(full - {sorted(full)[0]})
    assert rec.verify_failures == 1
    victim = next(k for k in first_hop if values.links(k) and set(values.links(k)) - set(first_hop) - {start})
    _delete(other, check.keynum_of(victim) or 0)
    without = {victim, *first_hop} | {t for k in first_hop if k != victim for t in values.links(k)}
    without.discard(start)
    graph(without)  # the deleted record leads nowhere now
    graph(full if full != without else full | {"user0x"})  # through the deleted record: not any more
    assert rec.verify_failures == 2


def test_the_vectorised_crc_is_zlibs() -> None:
    rng = np.random.default_rng(7)
    for width in (0, 1, 3, 4, 5, 86, 103):
        rows = rng.integers(0, 256, (50, width), dtype=np.uint8)
        state = rng.integers(0, 2**32, 50, dtype=np.uint32)
        got = crc32_rows(rows, state)
        assert [int(c) for c in got] == [zlib.crc32(r.tobytes(), int(s)) for r, s in zip(rows, state, strict=True)]
    lead = rng.integers(0, 9, 50)  # ragged, right-aligned messages
    rows = rng.integers(0, 256, (50, 9), dtype=np.uint8)
    got = crc32_rows(rows, np.zeros(50, dtype=np.uint32), lead)
    assert [int(c) for c in got] == [zlib.crc32(r[s:].tobytes()) for r, s in zip(rows, lead, strict=True)]


@pytest.mark.parametrize(("workload", "props"), [("a", {}), ("query", {}), ("graph", {}), ("a", {"fieldlength": 15}),
                                                 ("a", {"fieldcount": 3, "fieldlength": 1000})])
def test_the_vectorised_load_writes_values_every_check_accepts(workload: str, props: dict[str, object]) -> None:
    spec = resolve(workload, {"recordcount": 500, **props})
    values = Values(spec, 3)
    keys = values.namer.names(np.arange(0, 500, dtype=np.int64))
    columns = values.load_columns(keys)
    assert columns is not None and set(columns) == set(values.fields)
    for f, column in columns.items():
        texts = column.to_pylist()
        assert len(set(texts)) == len(texts) or f in values.fixed  # every value new
        for key, text in zip(keys, texts, strict=True):
            assert values.check(key, f, text) in (None, Version(LOAD_WRITER, 0)), (key, f, text)
            if f not in values.fixed:  # a value moved to another key is caught
                assert isinstance(values.check(keys[0] if key != keys[0] else keys[1], f, text), str)
    assert Values(resolve("a", {"fieldlengthdistribution": "uniform", "minfieldlength": 20}), 3).load_columns(
        keys) is None  # lengths drawn per value: the per-record path


def test_join_data_customers_and_their_orders_with_fields_no_update_rewrites() -> None:
    """The join workload's records: 1 in 5 a customer with a region, the others orders naming a loaded customer
    and an amount; updates never touch those fields, so the expected join holds during the run."""
    spec = resolve("join", {"recordcount": 500})
    v = Values(spec, 7)
    keys = KeyNamer(spec).names(np.arange(500, dtype=np.int64))
    records = {k: v.load_record(k) for k in keys}
    customers = {k for k, r in records.items() if r["field1"] == "none"}
    assert len(customers) == 500 // (1 + spec.joinorders)
    assert all(records[c]["field0"].startswith("r") and records[c]["field2"] == "0" for c in customers)
    orders = [r for k, r in records.items() if k not in customers]
    assert all(r["field1"] in customers and r["field0"] == "none" and 0 <= int(r["field2"]) < 1000 for r in orders)
    assert len({records[r["field1"]]["field0"] for r in orders}) == spec.joingroups  # every region has orders
    assert not {"field0", "field1", "field2"} & set(v.writable_fields)
    assert v.write(keys[0], ["field1"])["field1"] == records[keys[0]]["field1"]


@pytest.mark.parametrize("prop", ["insertproportion", "deleteproportion"])
def test_a_join_workload_that_inserts_or_deletes_is_refused(prop: str) -> None:
    with pytest.raises(UsageError, match="neither inserts nor deletes"):
        resolve("join", {prop: 0.05, "readproportion": 0.05})
