"""The load's producer thread: values made beside the writer are the values a load without it writes,
in key order, and a failure on either side stops both."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from storagebench.workloads.generators import KeyNamer
from storagebench.workloads.spec import resolve
from storagebench.workloads.values import LOAD_WRITER, Values

from storagebench.registry import load_adapter
from storagebench.running.runner import BATCH, PhasePlan, _Ahead, run_local


def test_items_arrive_in_order_and_a_producer_error_is_raised_in_the_consumer() -> None:
    assert list(_Ahead(iter(range(1000)))) == list(range(1000))

    def broken() -> Iterator[int]:
        yield 1
        raise ValueError("generator failed")

    with pytest.raises(ValueError, match="generator failed"):
        list(_Ahead(broken()))


def test_closing_stops_a_producer_that_is_ahead_of_a_consumer_that_gave_up() -> None:
    made: list[int] = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            made.append(n)
            yield n
            n += 1

    ahead = _Ahead(endless(), depth=2)
    assert next(iter(ahead)) == 0
    ahead.close()
    time.sleep(0.3)
    stopped_at = len(made)
    time.sleep(0.3)
    assert len(made) == stopped_at <= 5  # at most depth ahead (plus the one being put), then it stops
    assert not any(t.name == "storagebench-load-producer" and t.is_alive() for t in threading.enumerate())


def test_a_batched_load_made_ahead_writes_exactly_the_generators_values(isolated_home: Path) -> None:
    records = 4 * BATCH * 3 + 17  # several chunks, the last one short
    spec = resolve("c", {"recordcount": records, "loadbatchsize": 500})
    plan = PhasePlan("sqlite", {}, spec, "load", "sbench_producer", seed=7)
    adapter = load_adapter("sqlite")({})
    adapter.connect()
    adapter.prepare("sbench_producer", spec.field_names())
    outcome = run_local(plan)
    assert outcome.workers_ok
    # the load writer's values, made again chunk by chunk in key order, as a load without a producer makes them
    expected, namer = Values(spec, 7, LOAD_WRITER, 0, 0), KeyNamer(spec)
    chunk = 4 * BATCH
    for lo in range(0, records, chunk):
        names = namer.names(np.arange(lo, min(records, lo + chunk), dtype=np.int64))
        columns = expected.load_columns(names)
        assert columns is not None
        for i in (0, len(names) // 2, len(names) - 1):
            record = adapter.read("sbench_producer", names[i])
            assert record == {f: columns[f][i].as_py() for f in spec.field_names()}, names[i]
    adapter.close()
