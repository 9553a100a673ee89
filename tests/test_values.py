"""Field values: random like YCSB's, new on every write, self-checking; and the checks built on them."""

from __future__ import annotations

import zlib

import numpy as np
from storagebench.adapters.base import Query, QueryResult
from storagebench.workloads.generators import KeyNamer
from storagebench.workloads.spec import resolve
from storagebench.workloads.values import HEADER, Values, Version

from storagebench.measuring.checks import Checker
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


def test_the_readers_fast_path_accepts_only_what_the_full_check_accepts() -> None:
    spec = resolve("a")
    v = Values(spec, 42, writer=3)
    load = Values(spec, 42).load_record("user9")
    load_chars, mine = v.version_chars(0, 0), v.write("user9", ["field2"])
    assert v.carries("user9", "field0", load["field0"], load_chars)
    assert v.carries("user9", "field2", mine["field2"], v.version_chars(3, v.seq))
    # another write, key or field, a flipped character, a cut value: not carried (the full check says why)
    assert not v.carries("user9", "field2", mine["field2"], v.version_chars(3, v.seq - 1))
    assert not v.carries("user9", "field2", mine["field2"], load_chars)
    assert not v.carries("user8", "field0", load["field0"], load_chars)
    assert not v.carries("user9", "field1", load["field0"], load_chars)
    flipped = load["field0"][:60] + ("x" if load["field0"][60] != "x" else "y") + load["field0"][61:]
    assert not v.carries("user9", "field0", flipped, load_chars)
    assert not v.carries("user9", "field0", load["field0"][:-1], load_chars)


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


def test_short_fields_are_plain_random_text() -> None:
    v = Values(resolve("a", {"fieldlength": HEADER}), 1, writer=1)
    rec = v.write("user1")
    assert all(len(x) == HEADER for x in rec.values())
    assert v.check("user1", "field0", rec["field0"]) is None
    assert isinstance(v.check("user1", "field0", rec["field0"] + "x"), str)


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


def _checker(name: str, workers: int = 1, **props: object) -> tuple[Checker, Values, Recorder]:
    spec = resolve(name, {"recordcount": 20, **props})
    rec = Recorder()
    values = Values(spec, 5, writer=1)
    return Checker(spec, 5, values, rec, 0, workers, True), values, rec


def _answer(rec: Recorder, op: str, status: str = OK) -> None:
    rec.add(op, status, 10, 20)


def test_lost_update_is_caught_with_one_worker() -> None:
    check, values, rec = _checker("a")
    key = KeyNamer(check.spec).name(3)
    old = values.load_record(key)
    new = values.write(key, ["field1"])
    _answer(rec, "update")
    check.wrote("update", 3, key, ["field1"], values.seq, OK)
    _answer(rec, "read")
    assert check.read("read", 3, key, {**old, "field1": new["field1"]}, None, OK)
    _answer(rec, "read")
    assert not check.read("read", 3, key, old, None, OK)  # the store kept the loaded value
    assert rec.verify_failures == 1 and "lost update" in rec.first_failures[0]
    rec.flush()
    assert rec.histograms[("read", "UNEXPECTED")].get_total_count() == 1
    assert rec.histograms[("read", "OK")].get_total_count() == 1


def test_an_answer_verified_before_is_accepted_again_only_while_nothing_changed() -> None:
    """The memo of verified answers never lets through what the full check would refuse."""
    check, values, rec = _checker("a")
    key = KeyNamer(check.spec).name(3)
    old = values.load_record(key)
    _answer(rec, "read")
    assert check.read("read", 3, key, dict(old), None, OK)
    assert key in check.verified
    # a later answer that differs in one character is checked in full
    flipped = dict(old, field4=old["field4"][:-1] + ("x" if old["field4"][-1] != "x" else "y"))
    _answer(rec, "read")
    assert not check.read("read", 3, key, flipped, None, OK)
    # the same values under swapped field names: not the answer verified before
    swapped = dict(old, field4=old["field5"], field5=old["field4"])
    _answer(rec, "read")
    assert not check.read("read", 3, key, swapped, None, OK)
    # after this worker's update, the answer verified before is a lost update
    new = values.write(key, ["field1"])
    check.wrote("update", 3, key, ["field1"], values.seq, OK)
    _answer(rec, "read")
    assert not check.read("read", 3, key, dict(old), None, OK)
    assert "lost update" in rec.first_failures[-1]
    # a subset verified for one field does not pass for another, even through a reused list
    asked = ["field1"]
    _answer(rec, "read")
    assert check.read("read", 3, key, {"field1": new["field1"]}, asked, OK)
    asked[0] = "field2"
    _answer(rec, "read")
    assert not check.read("read", 3, key, {"field1": new["field1"]}, asked, OK)
    # after a delete (one worker), the record verified before must not come back
    check.deleted_key(3, key, OK)
    _answer(rec, "read")
    assert not check.read("read", 3, key, {**old, "field1": new["field1"]}, None, OK)
    assert rec.verify_failures == 5


def test_other_writers_versions_are_accepted_only_with_several_workers() -> None:
    check, _, rec = _checker("a", workers=4)
    key = KeyNamer(check.spec).name(3)
    other = Values(check.spec, 5, writer=2).write(key, ["field1"])
    base = Values(check.spec, 5).load_record(key)
    _answer(rec, "read")
    assert check.read("read", 3, key, {**base, **other}, None, OK)
    alone, _, rec1 = _checker("a", workers=1)
    _answer(rec1, "read")
    assert not alone.read("read", 3, key, {**base, **other}, None, OK)


def test_not_found_of_a_loaded_key_is_a_failure_unless_deletes_run() -> None:
    check, _, rec = _checker("a")
    _answer(rec, "read", NOT_FOUND)
    assert not check.read("read", 3, "user3", None, None, NOT_FOUND)
    _answer(rec, "read", NOT_FOUND)
    assert check.read("read", 25, "user25", None, None, NOT_FOUND)  # never loaded nor inserted
    several, _, rec4 = _checker("delete", workers=4)
    _answer(rec4, "read", NOT_FOUND)
    assert several.read("read", 3, "user3", None, None, NOT_FOUND)  # another worker may have deleted it
    assert rec.verify_failures == 1 and rec4.verify_failures == 0


def test_short_scan_is_a_failure() -> None:
    check, values, rec = _checker("e", recordcount=50)
    loaded = sorted(KeyNamer(check.spec).names(np.arange(50)))
    rows = [(k, values.load_record(k)) for k in loaded[10:15]]
    _answer(rec, "scan")
    check.scan(loaded[10], 5, rows, None, OK)
    assert rec.verify_failures == 0
    _answer(rec, "scan")
    check.scan(loaded[10], 5, rows[:2], None, OK)
    _answer(rec, "scan")
    check.scan(loaded[10], 5, [rows[0], *rows[2:]], None, OK)  # skipped one
    _answer(rec, "scan")
    check.scan(loaded[10], 5, [], None, OK)
    assert rec.verify_failures == 3


def test_query_result_is_checked_against_expected_count_and_sum() -> None:
    check, values, rec = _checker("query", recordcount=200)
    keys = KeyNamer(check.spec).names(np.arange(200))
    group = values.group_of(keys[0])
    members = [k for k in keys if values.group_of(k) == group]
    query = Query(check.spec.queryfield, values.group_value(group), "sum", check.spec.querysumfield)
    right = QueryResult(len(members), sum(values.summand_of(k) for k in members))
    _answer(rec, "query")
    check.query(group, query, right, OK)
    assert rec.verify_failures == 0
    _answer(rec, "query")
    check.query(group, query, QueryResult(right.count, (right.total or 0) + 1), OK)
    _answer(rec, "query")
    check.query(group, query, QueryResult(right.count - 1, right.total), OK)
    assert rec.verify_failures == 2


def test_an_upsert_after_a_delete_recreates_a_partial_record_that_is_not_a_failure() -> None:
    """HBase's update is a put (update_requires_existing=False): update after delete makes a partial record."""
    spec = resolve("delete", {"recordcount": 20})
    rec = Recorder()
    values = Values(spec, 5, writer=1)
    check = Checker(spec, 5, values, rec, 0, 1, True, update_creates=True)
    key = KeyNamer(spec).name(3)
    _answer(rec, "delete")
    check.deleted_key(3, key, OK)
    new = values.write(key, ["field4"])
    _answer(rec, "update")
    check.wrote("update", 3, key, ["field4"], values.seq, OK)
    _answer(rec, "read")
    assert check.read("read", 3, key, new, None, OK)
    strict = Checker(spec, 5, values, rec, 0, 1, True)
    _answer(rec, "delete")
    strict.deleted_key(3, key, OK)
    _answer(rec, "read")
    assert not strict.read("read", 3, key, new, None, OK)  # a store whose update needs the record: a lie
