"""The run manifest: ``run.json`` in every run folder, written when the run starts and at each change.

It says what the run meant to do (stores, workloads), what it holds on the stores right now (namespaces
prepared and not yet dropped, with the non-secret options to reach them), who runs it (pid, host) and
how it ended: ``state`` is ``running``, then ``complete``, ``interrupted`` or ``failed`` (with ``reason``: a
file that could not be written, an error that ended the run).  A run killed with SIGKILL
stays ``running`` with a pid that no longer exists: ``report`` calls it incomplete and
``storagebench clean`` drops the namespaces it left.

Fields (additive; ``schema_version`` 1): kind = "storagebench.run", run_id, state, pid, host, started_at,
finished_at, signal (name, when interrupted), reason (when failed), stores, workloads, namespaces
[{store, namespace}], store_options {store: options without secrets}.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
from pathlib import Path
from typing import Any

from storagebench.inputs import InputRefused
from storagebench.results.files import read_json, write_json

MANIFEST = "run.json"
#: space held in the run folder from the start and freed for the last write of run.json, so that a disk
#: that fills up during the run cannot leave the manifest saying ``running``
RESERVE, RESERVE_BYTES = ".run.json.reserve", 64 * 2**10
#: run.json files larger than this are not read (a manifest lists stores, workloads and namespaces)
MAX_MANIFEST_BYTES = 2**20
KIND = "storagebench.run"
SCHEMA_VERSION = 1
REDACTED = "**********"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class UnreadableManifest(Exception):
    """A run folder's run.json exists but cannot be read; the message names it and says why."""


class RunManifest:
    def __init__(self, run_dir: Path, data: dict[str, Any]) -> None:
        self.run_dir, self.data = run_dir, data
        #: why the manifest could not be saved at some point (the first failure), "" if it always was
        self.unsaved = ""

    @property
    def path(self) -> Path:
        return self.run_dir / MANIFEST

    @classmethod
    def create(cls, run_dir: Path, run_id: str, stores: dict[str, dict[str, Any]],
               workloads: list[str]) -> RunManifest:
        """``stores``: name -> redacted options (secret values are left out of the file)."""
        manifest = cls(run_dir, {
            "kind": KIND, "schema_version": SCHEMA_VERSION, "run_id": run_id, "state": "running",
            "pid": os.getpid(), "host": socket.gethostname(), "started_at": _now(), "finished_at": None,
            "stores": list(stores), "workloads": workloads, "namespaces": [],
            "store_options": {name: {k: v for k, v in opts.items() if v != REDACTED}
                              for name, opts in stores.items()},
        })
        manifest.save()
        with contextlib.suppress(OSError):  # without it the last write may still fit
            (run_dir / RESERVE).write_bytes(bytes(RESERVE_BYTES))
        return manifest

    @classmethod
    def load(cls, run_dir: Path) -> RunManifest | None:
        """The manifest of a run folder, or None when it has none (or one that is not ours); raises
        :class:`UnreadableManifest` when it has one that cannot be read (cut short, corrupt, not a file):
        then nobody can tell whether the run finished."""
        path = run_dir / MANIFEST
        if not path.exists() and not path.is_symlink():
            return None
        try:
            data = read_json(path, MAX_MANIFEST_BYTES)
        except InputRefused as exc:
            raise UnreadableManifest(f"{path}: unreadable run manifest: {exc}") from None
        except (ValueError, RecursionError) as exc:
            raise UnreadableManifest(f"{path}: unreadable run manifest (corrupt or truncated JSON: "
                                     f"{str(exc).splitlines()[0][:120]})") from None
        if not isinstance(data, dict) or data.get("kind") != KIND:
            return None
        return cls(run_dir, data)

    def save(self) -> None:
        """A run goes on when its manifest cannot be written (the disk is full); the first such failure
        is kept in :attr:`unsaved` (the run then ends ``failed``)."""
        try:
            write_json(self.path, self.data)
        except OSError as exc:
            self.unsaved = self.unsaved or str(exc)

    def namespace_in_use(self, store: str, namespace: str) -> None:
        entry = {"store": store, "namespace": namespace}
        if entry not in self.data["namespaces"]:
            self.data["namespaces"].append(entry)
            self.save()

    def namespace_dropped(self, store: str, namespace: str) -> None:
        entry = {"store": store, "namespace": namespace}
        if entry in self.data["namespaces"]:
            self.data["namespaces"].remove(entry)
            self.save()

    def finish(self, state: str, signal_name: str | None = None, reason: str = "") -> None:
        """``complete``, ``interrupted`` (by ``signal_name``) or ``failed`` (``reason``: what could not be
        done, e.g. a file that could not be written)."""
        self.data.update(state=state, finished_at=_now())
        if signal_name:
            self.data["signal"] = signal_name
        if reason:
            self.data["reason"] = reason
        with contextlib.suppress(OSError):
            (self.run_dir / RESERVE).unlink(missing_ok=True)  # its room is for this write
        self.save()

    @property
    def state(self) -> str:
        return str(self.data.get("state", "unknown"))

    def alive(self) -> bool:
        """The run is still going: ``running``, on this host, and its process exists."""
        return (self.state == "running" and self.data.get("host") == socket.gethostname()
                and isinstance(self.data.get("pid"), int) and pid_alive(self.data["pid"]))

    def effective_state(self) -> str:
        """``running`` only while the process lives; a dead ``running`` run is ``died``."""
        if self.state == "running" and not self.alive():
            return "died"
        return self.state

    def planned(self) -> list[tuple[str, str]]:
        return [(s, w) for s in self.data.get("stores", []) for w in self.data.get("workloads", [])]
