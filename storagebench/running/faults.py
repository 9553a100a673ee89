"""Faults as a scenario: ``run --fault KIND@SECONDS[:DURATION]`` acts on the engine ``storagebench services``
started, SECONDS into each run phase, and the result says what it cost.

* ``kill``: SIGKILL every process of the engine, then start it again through ``services`` (as a crash and
  a supervisor's restart would).
* ``pause``: SIGSTOP the engine's process tree for DURATION seconds (default 5), then SIGCONT (a stall:
  a long GC pause, a frozen VM, a saturated disk).
* ``restart``: a clean stop and start through ``services``.

Measured: the fault's own timeline (when it struck, when the engine answered again), the longest stretch
without a successful operation that began at or after the fault (``outage_s``, from the watchdog's dead
intervals), operations failed, and, with the read-back pass, acknowledged writes lost.  While a fault is
injected the phase does not stop on consecutive failures and the stall timeout covers the engine's restart.
On every exit (including SIGINT) a paused engine is continued and a killed one started again.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from storagebench.errors import StorageBenchError, UsageError

KINDS = ("kill", "pause", "restart")
DEFAULT_PAUSE_S = 5.0
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
        duration = float(match["duration"]) if match["duration"] else (DEFAULT_PAUSE_S if match["kind"] == "pause"
                                                                      else 0.0)
        if match["duration"] and match["kind"] != "pause":
            raise UsageError(f"--fault {text!r}: only pause takes a duration")
        return cls(match["kind"], float(match["at"]), duration)

    def label(self) -> str:
        return f"{self.kind}@{self.at_s:g}" + (f":{self.duration_s:g}" if self.kind == "pause" else "")


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
    began: float = 0.0

    def _manager(self) -> Any:
        from storagebench.services import load_service, service_names
        from storagebench.services.base import ServiceContext
        from storagebench.services.manager import Manager

        return Manager(ServiceContext(echo=lambda _m: None), list(service_names()), load_service)

    def _pids(self) -> list[int]:
        return [p.pid for p in self._manager().processes(self.store) if p.alive]

    def start(self) -> None:
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

    def stop(self) -> dict[str, Any]:
        """After the phase: leave the engine running and continued, whatever happened; the timeline."""
        self._cancel.set()
        if self._thread is not None:
            self._thread.join(timeout=600)
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

    return fault.duration_s + (load_service(store).start_timeout if fault.kind != "pause" else 0.0) + 30.0


def check_fault(fault: FaultSpec, stores: list[str], run_seconds: float | None) -> None:
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
