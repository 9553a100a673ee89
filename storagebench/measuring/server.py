"""What each operation costs the *server*: CPU, storage I/O and memory of the engine's own processes.

For an engine started by ``storagebench services`` (its pid files), or any process tree the user names
(``--server-pid``), a sampler reads the processes' own counters (``psutil``: ``/proc/<pid>/stat``, ``io``,
``status``) before a phase, every :data:`INTERVAL_S` while it runs, and after it:

* **CPU**: per root process, over its live tree, user + system + the CPU of children already reaped
  (``children_user``/``children_system``, which the kernel adds to the parent when a child exits); the
  difference between its last sample and its first is exact, short-lived children (PostgreSQL backends,
  one per client connection) included.  A root that dies during the phase (a fault killed or restarted
  the engine) keeps what its last sample saw, and the roots that replace it (found again through
  ``resolve`` when a root is gone) count from zero: the figure is then a lower bound by at most one
  interval per death, said in the result.
* **Storage bytes** read and written (``read_bytes``/``write_bytes``: what the process caused to be sent to
  storage, as the kernel counts it: reads from the device, writes when a page is dirtied, so a page written
  again after each ``fsync`` counts each time, and a file written then deleted before write-back counts
  too): per process, last sample minus first; a process that exits between samples loses at most one
  interval of I/O (said in the result).  Checked against the device's own counter on PostgreSQL (a 4 s
  window of workload a: 106.9 MB counted, 111.3 MB at the device).
* **Peak memory**: the largest sum of resident set sizes over the samples.

Divided by operations and by the logical bytes the client wrote: CPU µs per operation, write
amplification (storage bytes written ÷ logical bytes written), read amplification (storage bytes read ÷
logical bytes read), space amplification (footprint ÷ logical bytes loaded).  Where the engine cannot be
observed (embedded in the client, remote, adopted with no pid) the result says so instead of a figure.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

INTERVAL_S = 0.2


@dataclass
class _Seen:
    first_read: int
    first_write: int
    last_read: int
    last_write: int


@dataclass
class _Root:
    first_cpu: float
    last_cpu: float


@dataclass
class ServerSampler:
    """Samples a set of root pids (and their descendants) from :meth:`start` to :meth:`stop`;
    ``resolve`` names the roots again when one of them is gone (an engine restarted under new pids)."""

    roots: list[int]
    resolve: Callable[[], list[int]] | None = None
    interval: float = INTERVAL_S
    _cpu: dict[tuple[int, float], _Root] = field(default_factory=dict)
    _io: dict[int, _Seen] = field(default_factory=dict)
    _peak_rss: int = 0
    _samples: int = 0
    _deaths: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _began: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _trees(self) -> list[tuple[Any, list[Any]]]:
        """Each live root with its descendants; names the roots again when one is gone."""
        import psutil

        trees: list[tuple[Any, list[Any]]] = []
        gone = False
        for pid in self.roots:
            try:
                root = psutil.Process(pid)
                if root.status() == psutil.STATUS_ZOMBIE:
                    raise psutil.NoSuchProcess(pid)
                trees.append((root, [root, *root.children(recursive=True)]))
            except psutil.Error:
                gone = True
        if gone and self.resolve is not None:
            fresh = [pid for pid in self.resolve() if pid not in self.roots]
            if fresh:
                self.roots = [t[0].pid for t in trees] + fresh
                return self._trees()
        return trees

    def _sample(self, trees: list[tuple[Any, list[Any]]]) -> None:
        import psutil

        rss = 0
        alive = set()
        for root, procs in trees:
            cpu = 0.0
            for proc in procs:
                try:
                    t = proc.cpu_times()
                    io = proc.io_counters()
                    rss += proc.memory_info().rss
                except psutil.Error:
                    continue
                cpu += t.user + t.system + t.children_user + t.children_system
                with self._lock:
                    seen = self._io.get(proc.pid)
                    if seen is None:
                        # a process born during the phase: all its I/O is the phase's (before start: a baseline)
                        fresh = self._samples > 0
                        base_r, base_w = (0, 0) if fresh else (io.read_bytes, io.write_bytes)
                        self._io[proc.pid] = _Seen(base_r, base_w, io.read_bytes, io.write_bytes)
                    else:
                        seen.last_read, seen.last_write = io.read_bytes, io.write_bytes
            try:
                ident = (root.pid, root.create_time())
            except psutil.Error:
                continue
            alive.add(ident)
            with self._lock:
                known = self._cpu.get(ident)
                if known is None:  # a root born during the phase (a restart): all its CPU is the phase's
                    self._cpu[ident] = _Root(0.0 if self._samples > 0 else cpu, cpu)
                else:
                    known.last_cpu = max(known.last_cpu, cpu)
        with self._lock:
            self._deaths = sum(1 for ident in self._cpu if ident not in alive)
        self._peak_rss = max(self._peak_rss, rss)
        self._samples += 1

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample(self._trees())

    def start(self) -> None:
        self._sample(self._trees())
        self._began = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="server-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        trees = self._trees()
        self._sample(trees)
        with self._lock:
            read = sum(s.last_read - s.first_read for s in self._io.values())
            written = sum(s.last_write - s.first_write for s in self._io.values())
            cpu = sum(r.last_cpu - r.first_cpu for r in self._cpu.values())
            deaths = self._deaths
        out: dict[str, Any] = {
            "cpu_s": max(0.0, cpu), "storage_read_bytes": read, "storage_write_bytes": written,
            "peak_rss_bytes": self._peak_rss, "processes": sum(len(procs) for _, procs in trees),
            "samples": self._samples, "seconds": time.monotonic() - self._began}
        if deaths:
            out["cpu_note"] = (f"lower bound: {deaths} engine process tree(s) ended during the phase; each "
                               f"loses at most {self.interval:g} s of CPU")
        return out


def per_operation(raw: Mapping[str, Any], operations: int, logical_written: int, logical_read: int,
                  client_cpu_s: float | None) -> dict[str, Any]:
    """The sampler's totals divided by what the phase did."""
    out: dict[str, Any] = {"observed": True, **raw,
                           "storage_io_note": "the kernel's per-process counters (a write counted when its page "
                                              "is dirtied, again after each fsync); a process that exits between "
                                              f"samples loses at most {INTERVAL_S:g} s of its I/O"}
    if operations > 0:
        out["cpu_us_per_op"] = raw["cpu_s"] * 1e6 / operations
    if logical_written > 0:
        out["logical_write_bytes"] = logical_written
        out["write_amplification"] = raw["storage_write_bytes"] / logical_written
    if logical_read > 0:
        out["logical_read_bytes"] = logical_read
        out["read_amplification"] = raw["storage_read_bytes"] / logical_read
    if client_cpu_s:
        out["server_to_client_cpu"] = raw["cpu_s"] / client_cpu_s
    return out


def unobserved(reason: str) -> dict[str, Any]:
    return {"observed": False, "reason": reason}
