"""Cooperative clients: several clients of one process share a thread, each waiting on its own socket.

On a machine with fewer cores than clients, a process (or a thread) per client pays a context switch
for nearly every operation, and threads of one interpreter pay the GIL's hand-offs on top.  A store
whose adapter waits for its server through :func:`wait_readable` (it declares
``Capabilities.cooperative``) can instead run its clients as greenlets on one thread per process: while
one client waits for its answer the thread runs another, and one wake-up of the thread can serve
several answers, as go-ycsb's goroutines share the Go runtime's threads and pgbench's ``-j`` threads
serve several connections each.  Every client still has its own connection and one operation in flight
(a closed loop, as YCSB); its latency includes the time its answer waited for the thread, as a Go
client's includes the scheduler's.  The trade is in the far tail: a thread that always has an answer
to serve never sleeps, so on a machine whose cores the servers share the kernel preempts it for them,
now and then for a whole time slice (4 clients on 2 cores, PostgreSQL: p99 82 µs against 160-230 with
a process per client, p99.9 8 ms against 1.0-1.3 ms; pgbench ``-j 2 -c 4`` shows the same 6 ms).

:class:`Hub` is the scheduler: the thread's own greenlet, polling the sockets its clients wait on and
the timers they sleep on.  Outside a hub (every other layout) :func:`wait_readable` and :func:`sleep`
block the calling thread, so adapter code has one path.
"""

from __future__ import annotations

import heapq
import itertools
import select
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

_local = threading.local()
#: the longest the hub sleeps in poll() with nothing due (a bound, so a hung socket never hides a timer)
_POLL_MAX_MS = 250


def current() -> Hub | None:
    """The hub of this thread while it runs cooperative clients, else None."""
    hub: Hub | None = getattr(_local, "hub", None)
    return hub


def wait_readable(fd: int) -> None:
    """Return once ``fd`` is readable (or closed, or in error): in a hub the thread serves the other
    clients meanwhile; elsewhere the calling thread sleeps in poll()."""
    wait_fd(fd, select.POLLIN)


def wait_writable(fd: int) -> None:
    """Return once ``fd`` is writable (or closed, or in error), as :func:`wait_readable`."""
    wait_fd(fd, select.POLLOUT)


def wait_fd(fd: int, events: int) -> None:
    hub = current()
    if hub is not None:
        hub.wait_fd(fd, events)
        return
    poller = select.poll()
    poller.register(fd, events)
    poller.poll()


def sleep(seconds: float) -> None:
    """time.sleep, except that in a hub only the calling client sleeps."""
    hub = current()
    if hub is not None:
        hub.sleep(seconds)
    elif seconds > 0:
        time.sleep(seconds)


class Hub:
    """Runs callables as greenlets on this thread until every one has returned."""

    def __init__(self) -> None:
        import greenlet

        self._greenlet = greenlet
        self._getcurrent = greenlet.getcurrent
        self._main = greenlet.getcurrent()
        self._poll = select.poll()
        self._waiting: dict[int, Any] = {}
        self._timers: list[tuple[float, int, Any]] = []
        self._seq = itertools.count()

    def wait_fd(self, fd: int, events: int) -> None:
        if fd in self._waiting:
            raise RuntimeError(f"two clients wait on socket {fd}")
        self._waiting[fd] = self._getcurrent()
        self._poll.register(fd, events)
        self._main.switch()

    def sleep(self, seconds: float) -> None:
        heapq.heappush(self._timers, (time.monotonic() + max(0.0, seconds), next(self._seq),
                                      self._greenlet.getcurrent()))
        self._main.switch()

    def run(self, targets: Sequence[Callable[[], None]]) -> None:
        """Start every target, then serve their sockets and timers until all have returned.  A target
        must not raise (the runner's workers catch everything): an exception ends the hub with it."""
        if getattr(_local, "hub", None) is not None:
            raise RuntimeError("a hub is already running on this thread")
        _local.hub = self
        try:
            running = [len(targets)]

            def client(target: Callable[[], None]) -> None:
                try:
                    target()
                finally:
                    running[0] -= 1

            for target in targets:  # each runs until it first waits (or returns)
                self._greenlet.greenlet(client, parent=self._main).switch(target)
            poll, waiting, timers = self._poll, self._waiting, self._timers
            while running[0]:
                timeout = _POLL_MAX_MS
                if timers:  # poll() counts milliseconds: wake before the timer, then look without sleeping
                    timeout = min(timeout, max(0, int((timers[0][0] - time.monotonic()) * 1000)))
                for fd, _events in poll.poll(timeout):
                    poll.unregister(fd)
                    waiting.pop(fd).switch()
                if timers:
                    now = time.monotonic()
                    while timers and timers[0][0] <= now:
                        heapq.heappop(timers)[2].switch()
        finally:
            _local.hub = None
