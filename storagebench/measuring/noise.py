"""The noise probe: about a second of CPU, memory and fsync calibration at the start of a run.

Recorded with the machine fingerprint in every result file, so that a noisy night (other work on the
cores, a slow disk) can be recognised later: compare ``cpu_loops_per_sec`` and ``fsync_p50_us`` across
runs on the same ``fingerprint``, and look at the spread (``cv``) within one probe.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _cpu(seconds: float) -> dict[str, float]:
    rates = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        total = 0
        for i in range(20_000):
            total += i * i
        rates.append(20_000 / (time.perf_counter() - t0))
    return {"cpu_loops_per_sec": statistics.median(rates),
            "cpu_cv": statistics.pstdev(rates) / statistics.mean(rates)}


def _memory(seconds: float) -> dict[str, float]:
    src = np.ones(8 * 2**20 // 8)  # 8 MiB: larger than most L2 caches
    dst = np.empty_like(src)
    rates = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        np.copyto(dst, src)
        rates.append(src.nbytes / (time.perf_counter() - t0) / 1e9)
    return {"memory_copy_gb_per_sec": statistics.median(rates),
            "memory_cv": statistics.pstdev(rates) / statistics.mean(rates)}


def _fsync(directory: Path, seconds: float) -> dict[str, Any]:
    """Appends 4 KiB blocks with an fsync each: at most :data:`FSYNCS`, and at most a tenth of the free
    space (the results need the rest); skipped, and said so, when that is fewer than :data:`MIN_FSYNCS`."""
    free = shutil.disk_usage(directory).free
    blocks = min(FSYNCS, free // 10 // BLOCK)
    if blocks < MIN_FSYNCS:
        return {"fsync_skipped": f"{free / 2**20:.1f} MiB free on {directory}: a tenth of it holds fewer than "
                                 f"{MIN_FSYNCS} blocks of {BLOCK} bytes"}
    times: list[float] = []
    block = os.urandom(BLOCK)
    fd, path = tempfile.mkstemp(prefix=".noise-", dir=directory)
    try:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline and len(times) < blocks:
            os.write(fd, block)
            t0 = time.perf_counter()
            os.fsync(fd)
            times.append((time.perf_counter() - t0) * 1e6)
    finally:
        os.close(fd)
        os.unlink(path)
    arr = np.asarray(times)
    return {"fsync_p50_us": float(np.percentile(arr, 50)), "fsync_p99_us": float(np.percentile(arr, 99)),
            "fsyncs": len(times)}


#: bytes per write of the fsync probe, and how many it writes at most (8 MiB) and at least
BLOCK = 4096
FSYNCS = 2000
MIN_FSYNCS = 50


def fingerprint(machine: dict[str, Any]) -> str:
    """A short stable id of the machine (host, CPU model, cores, memory, platform)."""
    keys = ("hostname", "cpu", "cpu_count", "memory_gib", "platform")
    text = "|".join(str(machine.get(k)) for k in keys)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def probe(directory: Path, seconds: float = 1.0) -> dict[str, Any]:
    """Measure; ``directory`` is where the fsync test writes (the run folder: the disk results go to).
    ``fsync_skipped`` says why the fsync figures are missing (too little free space, a write failed)."""
    began = time.perf_counter()
    out: dict[str, Any] = {}
    try:
        out["loadavg"] = list(os.getloadavg())
    except OSError:
        pass
    out.update(_cpu(seconds * 0.35))
    out.update(_memory(seconds * 0.3))
    try:
        out.update(_fsync(directory, seconds * 0.35))
    except OSError as exc:  # the disk filled up meanwhile: the run goes on, the result says why
        out["fsync_skipped"] = f"{exc.strerror or exc} (in {directory})"
    out["probe_seconds"] = time.perf_counter() - began
    return out
