"""The read-back pass: which keys it reads (all, or a seeded sample above READBACK_KEYS)."""

from __future__ import annotations

import numpy as np
from storagebench.workloads.spec import resolve

from storagebench.running.readback import READBACK_KEYS, keys_to_read
from storagebench.running.runner import PhasePlan, new_ledger


def test_every_written_key_is_read_back_up_to_the_limit_then_a_seeded_sample() -> None:
    small = PhasePlan("sqlite", {}, resolve("d", {"recordcount": 100, "operationcount": 1000}), "run", "sbench_x", 3)
    ledger = new_ledger(small, loaded=True)
    for keynum in (100, 101, 102):  # three inserts issued during the run
        ledger.insert_issued(keynum, 0, 0)
    keys, total = keys_to_read(small, ledger)
    assert keys.tolist() == list(range(103)) and total == 103
    big = PhasePlan("sqlite", {}, resolve("c", {"recordcount": READBACK_KEYS + 5000}), "run", "sbench_x", 3)
    ledger = new_ledger(big, loaded=True)
    keys, total = keys_to_read(big, ledger)
    assert total == READBACK_KEYS + 5000 and len(keys) == READBACK_KEYS == len(np.unique(keys))
    assert (np.diff(keys) > 0).all() and np.array_equal(keys, keys_to_read(big, ledger)[0])
