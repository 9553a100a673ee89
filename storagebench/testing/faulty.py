"""Adapters that misbehave on purpose, for testing the harness (never registered as stores).

Use them by import path: ``--stores storagebench.testing.faulty:StallingAdapter`` or
``PhasePlan("storagebench.testing.faulty:StallingAdapter", ...)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from storagebench.adapters.base import AdapterOptions, Capabilities, Query, QueryResult, Record
from storagebench.adapters.null.adapter import NullAdapter
from storagebench.errors import Unavailable
from storagebench.running import coop


class StallingOptions(AdapterOptions):
    #: operations (per worker) that succeed before the store "dies"
    succeed_ops: int = 100
    #: then each operation: hangs (a server that stopped answering), or fails after ``fail_after_s``
    #: (a per-operation timeout expiring, or a refused connection when 0)
    then: Literal["hang", "fail"] = "hang"
    hang_s: float = 3600.0
    fail_after_s: float = 0.0
    #: the message of each failure
    error: str = "timed out"
    #: worker ``slow_worker`` spends ``setup_s`` seconds in its set-up (a slow or hanging connect)
    slow_worker: int = -1
    setup_s: float = 0.0
    #: only this worker dies after ``succeed_ops`` (-1: every worker)
    dying_worker: int = -1


class StallingAdapter(NullAdapter):
    """The null adapter until ``succeed_ops`` operations have run, then a dead server.

    Its waits go through :func:`storagebench.running.coop.sleep` (it is cooperative): clients sharing a thread
    sleep one at a time, as they would wait on a dead server's socket.
    """

    name = "stalling"
    description = "test adapter: succeeds, then hangs or fails every operation"
    Options = StallingOptions
    capabilities: ClassVar[Capabilities] = Capabilities(stores_data=False, cooperative=True)

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.calls = 0
        self.worker = -1

    def init_worker(self, worker: int) -> None:
        o = self.options
        assert isinstance(o, StallingOptions)
        self.worker = worker
        if worker == o.slow_worker:
            coop.sleep(o.setup_s)
        super().init_worker(worker)

    def _op(self) -> None:
        self.calls += 1
        o = self.options
        assert isinstance(o, StallingOptions)
        if self.calls <= o.succeed_ops or o.dying_worker not in (-1, self.worker):
            return
        coop.sleep(o.hang_s if o.then == "hang" else o.fail_after_s)
        raise Unavailable(f"stalling: operation {self.calls}: {o.error}")

    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        self._op()

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        self._op()
        return {}

    def update(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        self._op()

    def delete(self, namespace: str, key: str) -> None:
        self._op()

    def scan(self, namespace: str, start_key: str, count: int,
             fields: Sequence[str] | None = None) -> list[tuple[str, Record]]:
        self._op()
        return []

    def query(self, namespace: str, query: Query) -> QueryResult:
        self._op()
        return super().query(namespace, query)
