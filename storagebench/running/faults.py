"""Faults as a scenario: ``run --fault KIND@SECONDS[:DURATION]`` acts on the engine ``storagebench services``
started, SECONDS into each run phase, and the result says what it cost.

* ``kill``: SIGKILL every process of the engine, then start it again through ``services`` (as a crash and
  a supervisor's restart would).
* ``pause``: SIGSTOP the engine's process tree for DURATION seconds (default 5), then SIGCONT (a stall:
  a long GC pause, a frozen VM, a saturated disk).
* ``restart``: a clean stop and start through ``services``.
* ``full``: the filesystem holding the engine's data directory filled to the last block for DURATION seconds
  (default 5) by a ballast file (``fallocate``), then the ballast removed (a disk that filled up and was
  cleaned).  Only where that filesystem is one of its own, holding neither ``/`` nor the results folder
  (e.g. a tmpfs or loop-mounted image mounted on the data directory before ``services up``): filling the
  host's disk would fail everything else on it, so that is refused before anything runs.  An engine that
  stopped on the full disk is started again once the ballast is gone (``engine_stopped``, ``ready_s``).

Measured: the fault's own timeline (when it struck, when the engine answered again), the longest stretch
without a successful operation that began at or after the fault (``outage_s``, from the watchdog's dead
intervals), operations failed, and, with the read-back pass, acknowledged writes lost.  While a fault is
injected the phase does not stop on consecutive failures and the stall timeout covers the engine's restart.
On every exit (including SIGINT) a paused engine is continued, a killed one started again and a ballast
removed.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storagebench.errors import StorageBenchError, UsageError

KINDS = ("kill", "pause", "restart", "full")
#: kinds that last DURATION seconds (default DEFAULT_PAUSE_S)
TIMED = ("pause", "full")
DEFAULT_PAUSE_S = 5.0
#: the file that fills the data directory's filesystem during a ``full`` fault
BALLAST = ".storagebench-full-ballast"
_FAULT = re.compile(r"^(?P<kind>[a-z]+)@(?P<at>\d+(?:\.\d+)?)(?::(?P<duration>\d+(?:\.\d+)?))?$")


@dataclass(frozen=True)
class FaultSpec:
    kind: str
    at_s: float
    duration_s: float = 0.0

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        match = _FAULT.match(text.strip())
        if not match or match["kind"] not in KINDS:
            raise UsageError(f"--fault {text!r}: expected KIND@SECONDS[:DURATION] with KIND one of "
                             f"{', '.join(KINDS)} (e.g. kill@5, pause@5:3)")
        duration = float(match["duration"]) if match["duration"] else (DEFAULT_PAUSE_S if match["kind"] in TIMED
                                                                      else 0.0)
        if match["duration"] and match["kind"] not in TIMED:
            raise UsageError(f"--fault {text!r}: only {' and '.join(TIMED)} take a duration")
        return cls(match["kind"], float(match["at"]), duration)

    def label(self) -> str:
        return f"{self.kind}@{self.at_s:g}" + (f":{self.duration_s:g}" if self.kind in TIMED else "")


def _tree(pids: list[int]) -> list[int]:
    import psutil

    found: list[int] = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
            found += [root.pid, *(c.pid for c in root.children(recursive=True))]
        except psutil.Error:
            continue
    return found


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def fill(directory: Path) -> tuple[Path, int]:
    """Fill the filesystem of ``directory`` with a ballast file, to its last free block (root's reserve
    included: engines running as root can use it); the ballast and its size."""
    ballast = directory / BALLAST
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    size = 0
    try:
        chunk = os.statvfs(directory).f_bfree * os.statvfs(directory).f_frsize
        while chunk >= 4096:  # what is left after metadata took its share: smaller and smaller pieces
            try:
                os.posix_fallocate(fd, size, chunk)
                size += chunk
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                chunk //= 2
    finally:
        os.close(fd)
    return ballast, size


def own_filesystem(directory: Path, results_dir: Path) -> str | None:
    """Why filling ``directory``'s filesystem is refused (None: it is one of its own)."""
    if not directory.is_dir():
        return f"its data directory {directory} does not exist"
    device = directory.stat().st_dev
    for other, what in ((Path("/"), "/"), (results_dir.resolve(), "the results folder")):
        while not other.exists():
            other = other.parent
        if other.stat().st_dev == device:
            return (f"its data directory {directory} is on the filesystem of {what}: filling it would fail "
                    f"everything else there; mount a filesystem of its own on {directory} before "
                    f"`storagebench services up` (as root: mount -t tmpfs -o size=256m tmpfs {directory})")
    return None


@dataclass
class FaultInjector:
    """Injects one fault into one store's engine, on a thread of its own, during one run phase."""

    fault: FaultSpec
    store: str
    timeline: dict[str, Any] = field(default_factory=dict)
    _thread: threading.Thread | None = None
    _cancel: threading.Event = field(default_factory=threading.Event)
    _paused: list[int] = field(default_factory=list)
    _killed: bool = False
    _ballast: Path | None = None
    began: float = 0.0
    #: the memory cap and durability profile the engine was started with: it is started again with them
    _started_with: tuple[int | None, str | None] = (None, None)

    def _manager(self) -> Any:
        from storagebench.durability import DEFAULT_PROFILE, PROFILES
        from storagebench.services import load_service, service_names
        from storagebench.services.base import ServiceContext
        from storagebench.services.manager import Manager

        memory, profile = self._started_with
        durability = next((p for p in PROFILES if p == profile), DEFAULT_PROFILE)
        return Manager(ServiceContext(echo=lambda _m: None, durability=durability, memory=memory),
                       list(service_names()), load_service)

    def _pids(self) -> list[int]:
        return [p.pid for p in self._manager().processes(self.store) if p.alive]

    def start(self) -> None:
        manager = self._manager()
        self._started_with = (manager.running_memory(self.store), manager.running_profile(self.store))
        self.began = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"fault-{self.store}", daemon=True)
        self._thread.start()

    def _at(self) -> float:
        return round(time.monotonic() - self.began, 3)

    def _run(self) -> None:
        if self._cancel.wait(self.fault.at_s):
            return
        try:
            pids = self._pids()
            self.timeline["struck_s"] = self._at()
            if self.fault.kind == "pause":
                self._paused = _tree(pids)
                _signal(self._paused, signal.SIGSTOP)
                self._cancel.wait(self.fault.duration_s)
                _signal(self._paused, signal.SIGCONT)
                self._paused = []
                self.timeline["resumed_s"] = self._at()
                return
            if self.fault.kind == "full":
                self._ballast, size = fill(self._manager().service(self.store).data_dir)
                self.timeline["ballast_bytes"] = size
                self._cancel.wait(self.fault.duration_s)
                self._free()
                if not self._pids():  # the engine stopped on the full disk: a supervisor starts it again
                    self.timeline["engine_stopped"] = True
                    self._manager().up([self.store])
                    self.timeline["ready_s"] = self._at()
                return
            if self.fault.kind == "kill":
                import psutil

                self._killed = True
                victims = _tree(pids)
                _signal(victims, signal.SIGKILL)
                self.timeline["killed_processes"] = len(victims)
                # the engine's start refuses while its old processes (pid files, sockets) linger
                psutil.wait_procs([psutil.Process(p) for p in victims if psutil.pid_exists(p)], timeout=30)
            else:
                self._manager().down([self.store])
            self.timeline["stopped_s"] = self._at()
            self._manager().up([self.store])
            self._killed = False
            self.timeline["ready_s"] = self._at()
        except (StorageBenchError, OSError) as exc:
            self.timeline["error"] = f"{type(exc).__name__}: {exc}"

    def _free(self) -> None:
        if self._ballast is not None:
            self._ballast.unlink(missing_ok=True)
            self._ballast = None
            self.timeline["freed_s"] = self._at()

    def stop(self) -> dict[str, Any]:
        """After the phase: leave the engine running and continued and its disk freed, whatever happened;
        the timeline."""
        self._cancel.set()
        if self._thread is not None:
            self._thread.join(timeout=600)
        self._free()
        if self._paused:
            _signal(self._paused, signal.SIGCONT)
            self.timeline["resumed_s"] = self._at()
        if self._killed or not self._pids():
            self._manager().up([self.store])
            self.timeline["ready_s"] = self._at()
        return {"fault": self.fault.label(), "kind": self.fault.kind, "at_s": self.fault.at_s,
                "duration_s": self.fault.duration_s, **self.timeline}


def fault_budget_s(fault: FaultSpec, store: str) -> float:
    """How long a fault may keep the store from answering: the watchdog waits that long before it calls
    the phase stalled (a restart takes the engine's start timeout at most)."""
    from storagebench.services import load_service

    restarts = fault.kind in ("kill", "restart")
    return fault.duration_s + (load_service(store).start_timeout if restarts else 0.0) + 30.0


def check_fault(fault: FaultSpec, stores: list[str], run_seconds: float | None, results_dir: Path) -> None:
    """Refuse, before anything runs, a fault that cannot be injected or would miss the phase."""
    from storagebench.services.manager import engine_pids

    if not run_seconds:
        raise UsageError(f"--fault {fault.label()} needs a run phase of known length: "
                         "-p operationcount=0 -p maxexecutiontime=SECONDS")
    if fault.at_s + fault.duration_s >= run_seconds:
        raise UsageError(f"--fault {fault.label()} ends after the run phase ({run_seconds:g} s): "
                         "choose an earlier time or a longer maxexecutiontime")
    for store in stores:
        pids, why = engine_pids(store, {})
        if not pids:
            raise UsageError(f"--fault on {store}: {why}; faults act only on engines "
                             "`storagebench services up` started here")
        if fault.kind == "full":
            from storagebench.services import load_service
            from storagebench.services.base import ServiceContext

            refused = own_filesystem(load_service(store)(ServiceContext(echo=lambda _m: None)).data_dir, results_dir)
            if refused:
                raise UsageError(f"--fault {fault.label()} on {store}: {refused}")


def outage(fault_record: dict[str, Any], dead_intervals: list[tuple[float, float]]) -> dict[str, Any]:
    """The longest stretch without a successful operation that began at or after the fault struck
    (the phase's dead intervals are >= 1 s; a shorter one is reported as < 1 s)."""
    struck = fault_record.get("struck_s")
    if struck is None:
        return {"outage_s": None, "note": "the fault did not strike (the phase ended first)"}
    after = [(a, b) for a, b in dead_intervals if b >= struck - 1.0]
    if not after:
        return {"outage_s": 0.0, "note": "no stretch of 1 s or more without a successful operation"}
    start, end = max(after, key=lambda ab: ab[1] - ab[0])
    return {"outage_s": round(end - start, 3), "outage_from_s": start, "outage_to_s": end}
