"""The acknowledged-insert counter of a Spark phase: YCSB's ``AcknowledgedCounterGenerator`` for tasks that
share no memory, as close as a network allows.

Each task takes its insert keys from its own stripe (:class:`~storagebench.workloads.generators.StripedCounter`:
no coordination on the insert path) and counts the inserts it has acknowledged.  A :class:`Messenger` thread
in the task sends that count to the driver's :class:`AckServer` every :data:`REFRESH_S` and sets the
counter's ``cluster_last`` from the answer: the highest key number below which every stripe's inserts are
acknowledged (:func:`~storagebench.workloads.generators.cluster_prefix`).  ``latest``, ``zipfian`` and
``exponential`` then choose among the inserts of the whole cluster.

What differs from YCSB's counter in one JVM: another task's insert becomes choosable up to two refresh
periods plus a round trip after it returned (YCSB: at once), and the prefix waits for the slowest stripe,
where YCSB's waits for the oldest insert in flight.  A task that cannot reach the driver keeps the last
prefix it learnt (the phase goes on; the result says how many exchanges failed).
"""

from __future__ import annotations

import socket
import socketserver
import threading
from typing import Any

from storagebench.workloads.generators import StripedCounter, cluster_prefix

REFRESH_S = 0.05


class AckServer:
    """The driver's side: every task's acknowledged count, and the prefix over all of them."""

    def __init__(self, host: str, start: int, workers: int) -> None:
        self.start, self.acked, self.lock = start, [0] * workers, threading.Lock()
        self.exchanges = 0
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for line in self.rfile:
                    try:
                        worker, count = (int(x) for x in line.split())
                    except ValueError:
                        return
                    self.wfile.write(b"%d\n" % server.report(worker, count))

        self._server = socketserver.ThreadingTCPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.address: tuple[str, int] = self._server.server_address[:2]  # type: ignore[assignment]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="storagebench-acks", daemon=True)
        self._thread.start()

    def report(self, worker: int, count: int) -> int:
        with self.lock:
            if 0 <= worker < len(self.acked):
                self.acked[worker] = max(self.acked[worker], count)
            self.exchanges += 1
            return cluster_prefix(self.start, self.acked)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Messenger:
    """A task's side: sends its stripe's acknowledged count, sets ``counter.cluster_last`` from the answer."""

    def __init__(self, counter: StripedCounter, address: tuple[str, int]) -> None:
        self.counter, self.address = counter, address
        self.failures = self.exchanges = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="storagebench-acks-messenger", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        sock: Any = None
        reader: Any = None
        while not self._stop.wait(REFRESH_S):
            try:
                if sock is None:
                    sock = socket.create_connection(self.address, timeout=2)
                    reader = sock.makefile("rb")
                sock.sendall(b"%d %d\n" % (self.counter.worker, self.counter.acked))
                prefix = int(reader.readline())
                self.counter.cluster_last = max(self.counter.cluster_last, prefix)
                self.exchanges += 1
            except (OSError, ValueError):
                self.failures += 1
                if sock is not None:
                    sock.close()
                sock = None
        if sock is not None:
            sock.close()

    def close(self) -> dict[str, Any]:
        """Stop; what the counter saw (for the result)."""
        self._stop.set()
        self._thread.join(timeout=5)
        c = self.counter
        return {"inserted": c.inserted, "picked_inserts": c.picked_inserts, "picked_others": c.picked_others,
                "last": c.last(), "exchanges": self.exchanges, "failed_exchanges": self.failures}
