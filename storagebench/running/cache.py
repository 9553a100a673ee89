"""The state of the store's caches at the start of a run phase (``cache`` in every result file).

``as found`` (the default): whatever the load, or earlier runs, left in the engine's caches and the OS page
cache.  ``run --cold`` (and ``sweep --ladder records --cold``) makes the store cold first: the engine that
``storagebench services up`` started for it is restarted through the services manager (with the memory
cap and durability profile it was started with; never an engine started elsewhere), the OS page cache is
dropped (``sync``, then ``3`` into ``/proc/sys/vm/drop_caches``: root; when it cannot be written the result
says so), and the phase starts only once the store has answered one real read of a loaded key through the
adapter.  An embedded store has no engine to restart: dropping the page cache is all there is to do.

``state`` is ``cold`` only when everything that empties the store's caches was done: the engine restarted
(or there is none) and, for an embedded store, the page cache dropped.  Otherwise ``as found`` with a
``note`` saying what was not done and why.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from storagebench.adapters.base import Adapter, AdapterOptions
from storagebench.errors import NotFound, StorageBenchError

CacheStateName = Literal["cold", "as found"]
COLD: CacheStateName = "cold"
AS_FOUND: CacheStateName = "as found"
DROP_CACHES = Path("/proc/sys/vm/drop_caches")
#: seconds a restarted store has to answer its first read before the phase is failed
ANSWER_TIMEOUT_S = 120.0


class NotAnswering(StorageBenchError):
    """The store did not answer a read after it was made cold."""


@dataclass(frozen=True)
class CacheState:
    state: CacheStateName = AS_FOUND
    #: seconds from stopping the engine until it answered its own probe again (None: not restarted)
    engine_restart_s: float | None = None
    #: seconds after the restart (or the page-cache drop) until a read of a loaded key came back
    engine_answered_s: float | None = None
    os_cache_dropped: bool = False
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line: "cold (engine restarted in 3.1 s, OS page cache dropped)"."""
        done = []
        if self.engine_restart_s is not None:
            done.append(f"engine restarted in {self.engine_restart_s:.1f} s")
        if self.os_cache_dropped:
            done.append("OS page cache dropped")
        text = self.state + (f" ({', '.join(done)})" if done else "")
        return text + (f"; {self.note}" if self.note else "")


def describe(record: dict[str, Any] | None) -> str:
    """:meth:`CacheState.describe` of a result's ``cache`` record ("not recorded" in older files)."""
    if not record:
        return "not recorded"
    restart, answered = record.get("engine_restart_s"), record.get("engine_answered_s")
    return CacheState(COLD if record.get("state") == COLD else AS_FOUND,
                      None if restart is None else float(restart), None if answered is None else float(answered),
                      bool(record.get("os_cache_dropped")), str(record.get("note") or "")).describe()


def drop_os_cache(path: Path = DROP_CACHES) -> tuple[bool, str]:
    """``sync``, then drop the page cache, dentries and inodes; (dropped?, why not)."""
    os.sync()
    try:
        path.write_text("3\n")
    except OSError as exc:
        return False, f"OS page cache not dropped: cannot write {path} ({exc.strerror or exc}; root is needed)"
    return True, ""


def has_engine(store: str) -> bool:
    """Whether ``store`` runs as an engine of its own (one ``services`` can start), not inside the client."""
    from storagebench.services import service_names

    return store in service_names()


def restart_engine(store: str, options: dict[str, Any], echo: Callable[[str], None]) -> tuple[float | None, str]:
    """Restart the engine ``services`` started for ``store``: (seconds, a note) or (None, why it was not)."""
    from storagebench.services import load_service, service_names
    from storagebench.services.base import ServiceContext
    from storagebench.services.manager import Manager, other_server

    if not has_engine(store):
        return None, "embedded store: no engine process to restart"
    ctx = ServiceContext(echo=echo)
    differs = other_server(store, options, ctx.home)
    if differs:
        return None, f"engine not restarted: {differs}"
    manager = Manager(ctx, list(service_names()), load_service)
    if not manager.is_up(store):
        return None, (f"engine not restarted: not started by `storagebench services up` under {ctx.home} "
                      "(remote, adopted or down); the harness restarts only engines it started")
    seconds = manager.restart(store)
    requires = load_service(store).requires
    note = (f"the engines it stands on ({', '.join(requires)}) were not restarted" if requires else "")
    return seconds, note


def wait_for_answer(adapter: type[Adapter], options: AdapterOptions, namespace: str, key: str,
                    timeout_s: float = ANSWER_TIMEOUT_S) -> float:
    """Seconds until a read of ``key`` through a new adapter instance comes back (found or not found: the
    store answered; the phase's own checks judge what it answered).  :class:`NotAnswering` after ``timeout_s``."""
    started = time.monotonic()
    last = ""
    while True:
        client = adapter(options)
        try:
            client.connect()
            try:
                client.read(namespace, key, None)
            except NotFound:
                pass
            return time.monotonic() - started
        except Exception as exc:
            last = f"{type(exc).__name__}: {exc}"
        finally:
            try:
                client.close()
            except Exception:  # a half-open connection of a store still starting
                pass
        if time.monotonic() - started > timeout_s:
            raise NotAnswering(f"the store did not answer a read of {key!r} in {namespace} within {timeout_s:g} s "
                               f"after it was made cold (last: {last})")
        time.sleep(0.5)


def make_cold(store: str, adapter: type[Adapter], options: AdapterOptions, direct: dict[str, Any],
              namespace: str, key: str, echo: Callable[[str], None] = print,
              timeout_s: float = ANSWER_TIMEOUT_S) -> CacheState:
    """Restart the store's engine (when the harness started it), drop the OS page cache, then wait for one
    read of ``key`` to come back; what was done, as the result's ``cache`` record."""
    restart_s, restart_note = restart_engine(store, direct, echo)
    dropped, drop_note = drop_os_cache()
    answered = wait_for_answer(adapter, options, namespace, key, timeout_s)
    cold = restart_s is not None or (not has_engine(store) and dropped)
    notes = [n for n in (restart_note, drop_note) if n]
    if not cold:
        notes.insert(0, "cold asked for, not reached")
    return CacheState(COLD if cold else AS_FOUND, None if restart_s is None else round(restart_s, 3),
                      round(answered, 3), dropped, "; ".join(notes))
