"""Live metrics of a Spark phase (``--metrics-port`` with ``--engine spark``).

Each task's worker puts its interval reports (latency histograms per operation and status since its last
report, about every second: :meth:`~storagebench.running.runner._Worker._publish`) on a local queue; a
:class:`Sender` thread sends them to the driver as JSON lines over one TCP connection; the driver's
:class:`Feed` hands each to the live metrics (:class:`~storagebench.running.live.LiveMetrics`), the same
figures local clients feed.  Best effort: a report that cannot be sent is counted and dropped (the
result file's figures come from the tasks' exports, never from the feed).
"""

from __future__ import annotations

import json
import queue
import socket
import socketserver
import threading
from typing import Any

SEND_EVERY_S = 0.5


class Feed:
    """The driver's side: every report received goes to ``take``."""

    def __init__(self, host: str, take: Any) -> None:
        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for line in self.rfile:
                    try:
                        report = json.loads(line)
                    except ValueError:
                        return
                    take(report)

        self._server = socketserver.ThreadingTCPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.address: tuple[str, int] = self._server.server_address[:2]  # type: ignore[assignment]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="storagebench-livefeed", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Sender:
    """A task's side: drains :attr:`reports` (the worker's queue) to the driver every :data:`SEND_EVERY_S`."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self.reports: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.sent = self.dropped = 0
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="storagebench-livefeed-sender", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(SEND_EVERY_S):
            self._drain()

    def _drain(self) -> None:
        lines = []
        while True:
            try:
                lines.append(json.dumps(self.reports.get_nowait()).encode() + b"\n")
            except queue.Empty:
                break
        if not lines:
            return
        try:
            if self._sock is None:
                self._sock = socket.create_connection(self.address, timeout=2)
            self._sock.sendall(b"".join(lines))
            self.sent += len(lines)
        except OSError:
            self.dropped += len(lines)
            if self._sock is not None:
                self._sock.close()
            self._sock = None

    def close(self) -> None:
        """Send what is left (the worker's last report) and stop."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._drain()
        if self._sock is not None:
            self._sock.close()
