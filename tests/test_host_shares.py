"""The rules that let N client hosts share one data set (`run --dataset NAME --host I/N`), without an engine:
every key number has exactly one owner, the hosts' inserts never meet, a host's part of the state holds
only the keys it owns, another host's value is judged by its key and owner, and merge refuses hosts that
did not share one generation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from storagebench.workloads.generators import KeyNamer, host_keynums, key_owner, owned_twin
from storagebench.workloads.spec import WorkloadSpec
from storagebench.workloads.values import Values

from storagebench.errors import UsageError
from storagebench.measuring.checks import Checker
from storagebench.measuring.ledger import C_FOREIGN, C_FOREIGN_ABSENT, Ledger
from storagebench.measuring.measurement import NOT_FOUND, Recorder
from storagebench.results.merge import shared_dataset
from storagebench.running.datasets import host_part

ROWS = 101  # not a multiple of the hosts' count: the stripes start at different offsets


def _spec(index: int, count: int) -> WorkloadSpec:
    return WorkloadSpec(name="a", recordcount=ROWS, operationcount=100, hostindex=index, hostcount=count)


@pytest.mark.parametrize("count", [1, 2, 3])
def test_every_key_has_one_owner_and_the_hosts_inserts_never_meet(count: int) -> None:
    local = np.arange(ROWS + 500, dtype=np.int64)
    inserted = []
    for index in range(count):
        keys = host_keynums(_spec(index, count), local)
        assert (keys[:ROWS] == local[:ROWS]).all()  # the shared keys are themselves
        mine = keys[ROWS:]
        assert (mine >= ROWS).all() and (key_owner(mine, count) == index).all()
        inserted.append(set(mine.tolist()))
        # the names a host uses for its inserts are those of its striped key numbers
        namer, plain = KeyNamer(_spec(index, count)), KeyNamer(WorkloadSpec(name="a", recordcount=ROWS))
        first = [namer.name(k) for k in range(ROWS, ROWS + 5)]
        assert namer.names(local[ROWS:ROWS + 5]) == plain.names(mine[:5]) == first
        # an update always lands on a key the host owns, in the same block of N
        for k in range(ROWS + 10):
            twin = owned_twin(_spec(index, count), k)
            assert (k >= ROWS or key_owner(twin, count) == index) and abs(twin - k) < count
    for a in range(count):
        for b in range(a + 1, count):
            assert not inserted[a] & inserted[b]
    # together, the hosts' inserts fill the key numbers above the shared ones without a gap
    assert set().union(*inserted) >= set(range(ROWS, ROWS + 500))


def test_a_hosts_part_of_the_state_holds_only_the_keys_it_owns() -> None:
    spec = _spec(1, 2)
    # what host 1's read-back saw: shared keys of both hosts, and its own inserts (local numbers >= ROWS)
    found = {k: [k * 10 + f for f in range(spec.fieldcount)] for k in [*range(0, 20), ROWS, ROWS + 1, ROWS + 2]}
    keys, versions = host_part(found, spec)
    assert (keys % 2 == 1).all()
    assert keys.tolist() == [*range(1, 20, 2), 101, 103, 105]  # local ROWS.. -> the odd key numbers from 101
    assert versions[0].tolist() == found[1] and versions[-1].tolist() == found[ROWS + 2]
    # the two hosts' parts of the same read-backs never hold one key twice
    other, _ = host_part(found, _spec(0, 2))
    assert not set(keys.tolist()) & set(other.tolist()) and (other % 2 == 0).all()


def test_another_hosts_value_is_judged_by_its_key_and_owner(tmp_path: Path) -> None:
    spec = _spec(0, 2)
    state = tmp_path / "state.npy"
    np.save(state, np.zeros((ROWS, spec.fieldcount), dtype=np.int64))
    ledger = Ledger(spec, 1)
    ledger.set_dataset(str(state), 0)
    checker = Checker(spec, 42, Values(spec, 42, 1), Recorder(), 1, ledger, True)
    host1 = Values(spec, 42, 2)  # host 1's worker 0 writes as 1 + 1 + 2 * 0
    namer = KeyNamer(spec)
    owned_by_1, owned_by_0 = namer.name(3), namer.name(4)
    assert checker.record_problem(3, owned_by_1, host1.write(owned_by_1), None, 1, 2, None) is None
    assert ledger.counter(C_FOREIGN) == spec.fieldcount
    problem = checker.record_problem(4, owned_by_0, host1.write(owned_by_0), None, 1, 2, None)
    assert problem is not None and "owned (written only) by host 0" in problem
    # a value made for another key is caught whoever wrote it
    assert checker.record_problem(3, owned_by_1, host1.write(owned_by_0), None, 1, 2, None) is not None


def test_with_deletes_another_hosts_key_may_be_gone_but_not_the_hosts_own(tmp_path: Path) -> None:
    """A deleting workload: NOT_FOUND of another host's key is accepted (its owner may have deleted it) and
    counted; NOT_FOUND of the host's own loaded key, which it never deleted, is still a failure; and on a
    store whose update is an upsert, another host's key may come back with only the fields updated."""
    spec = WorkloadSpec(name="delete", recordcount=ROWS, operationcount=100, deleteproportion=0.15,
                        readproportion=0.8, hostindex=0, hostcount=2)
    state = tmp_path / "state.npy"
    np.save(state, np.zeros((ROWS, spec.fieldcount), dtype=np.int64))
    for update_creates in (False, True):
        ledger = Ledger(spec, 1)
        _loaded_before_run(ledger, state)
        recorder = Recorder()
        checker = Checker(spec, 42, Values(spec, 42, 1), recorder, 1, ledger, True, update_creates)
        namer = KeyNamer(spec)
        rs = ledger.now()
        assert checker.read("read", 3, namer.name(3), None, None, NOT_FOUND, (rs, None))
        assert ledger.counter(C_FOREIGN_ABSENT) == 1 and recorder.verify_failures == 0
        assert not checker.read("read", 4, namer.name(4), None, None, NOT_FOUND, (rs, None))
        assert recorder.verify_failures == 1 and "NOT_FOUND, but the record was loaded" in recorder.first_failures[0]
        # host 1 deleted key 3, then updated field2 of it: an upsert store holds field2 alone
        partial = {"field2": Values(spec, 42, 2).write(namer.name(3), ["field2"])["field2"]}
        problem = checker.record_problem(3, namer.name(3), partial, None, rs, ledger.now(), None)
        assert (problem is None) == update_creates, problem


def _loaded_before_run(ledger: Ledger, state: Path) -> None:
    """The ledger of a run on a data set whose every key was loaded (``state``) before the run."""
    from storagebench.measuring.ledger import BEFORE_RUN, INS

    ledger.key_slots()[:ROWS, INS] = BEFORE_RUN
    ledger.set_dataset(str(state), 0)


def _result(name: str, generation: int, index: int, count: int) -> dict[str, Any]:
    return {"store": "sqlite", "workload": "a", "phase": "run", "run_id": f"h{index}",
            "dataset": {"name": name, "generation": generation,
                        "hosts": {"index": index, "count": count, "foreign_versions": 3}}}


def test_merge_takes_all_hosts_of_one_generation_and_refuses_anything_else() -> None:
    assert shared_dataset([_result("x", 1, 0, 2), _result("x", 1, 1, 2)]) == {
        "name": "x", "generation": 1, "hosts": 2, "foreign_versions": 6, "foreign_absent": 0}
    cases = [
        ([_result("x", 1, 0, 3), _result("x", 1, 1, 3)], "host(s) 2 of 3 that shared data set x generation 1 are "
                                                         "missing"),
        ([_result("x", 1, 0, 2), _result("x", 1, 0, 2)], "both are host 0/2"),
        ([_result("x", 1, 0, 2), _result("x", 2, 1, 2)], "it ran on data set x generation 2"),
        ([_result("x", 1, 0, 2), _result("y", 1, 1, 2)], "it ran on data set y generation 1"),
        ([_result("x", 1, 0, 2), {**_result("x", 1, 1, 2), "dataset": None}], "did not run with --dataset NAME "
                                                                              "--host I/N"),
    ]
    for results, said in cases:
        with pytest.raises(UsageError, match=re.escape(said)):
            shared_dataset(results)
