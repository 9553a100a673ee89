"""Field values: generation cost (µs/value), zlib ratio against YCSB-like random text, check cost.

    .venv/bin/python benchmarks/values.py

YCSB-like text follows RandomByteIterator's character masks (31, 63, 95, 31, 63, 95 added to ' ').
Figures are noisy on a shared machine; run it twice.
"""

from __future__ import annotations

import time
import zlib

import numpy as np
from storagebench.workloads.spec import resolve
from storagebench.workloads.values import Values

RECORDS = 20_000


def ycsb_like(total: int, rng: np.random.Generator) -> bytes:
    ints = rng.integers(0, 2**32, (total + 5) // 6, dtype=np.uint64)
    masks = (31, 63, 95, 31, 63, 95)
    cols = [((ints >> np.uint64(5 * i)) & np.uint64(m)) + np.uint64(32) for i, m in enumerate(masks)]
    return np.stack(cols, axis=1).astype(np.uint8).tobytes()[:total]


def ratio(data: bytes) -> float:
    return len(data) / len(zlib.compress(data, 6))


def main() -> None:
    spec = resolve("a")
    values = Values(spec, 42, writer=1)
    keys = [f"user{i}" for i in range(RECORDS)]
    t0 = time.perf_counter()
    records = [values.write(k) for k in keys]
    per_value = (time.perf_counter() - t0) / (RECORDS * spec.fieldcount) * 1e6
    t0 = time.perf_counter()
    for k in keys[:5000]:
        values.write(k, ["field3"])
    per_update = (time.perf_counter() - t0) / 5000 * 1e6
    t0 = time.perf_counter()
    for k, r in zip(keys, records, strict=True):
        values.mismatch(k, r, None)
    per_check = (time.perf_counter() - t0) / (RECORDS * spec.fieldcount) * 1e6
    # updates as the runner makes them (writer 1 over the load's values): how many change what is stored
    rng = np.random.default_rng(3)
    stored = {k: Values(spec, 42).load_record(k) for k in keys[:2000]}
    updater = Values(spec, 42, writer=1)
    changed = 0
    for n in rng.integers(0, 2000, 10_000).tolist():
        key, field = keys[n], spec.field_names()[n % spec.fieldcount]
        new = updater.write(key, [field])[field]
        changed += new != stored[key][field]
        stored[key][field] = new
    ours = "".join(v for r in records for v in r.values()).encode()
    ycsb = ycsb_like(len(ours), np.random.default_rng(1))
    print(f"values: {RECORDS:,} records x {spec.fieldcount} fields of {spec.fieldlength} chars")
    print(f"generate: {per_value:.2f} µs/value in a 10-field insert; {per_update:.2f} µs for a 1-field update")
    print(f"check:    {per_check:.2f} µs/value")
    print(f"updates that change the stored value: {changed:,} of 10,000")
    print(f"zlib -6 ratio: ours {ratio(ours):.3f}x, YCSB-like random text {ratio(ycsb):.3f}x")


if __name__ == "__main__":
    main()
