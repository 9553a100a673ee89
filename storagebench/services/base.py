"""Local, Docker-free engines: how one is provisioned, started and probed.

A :class:`Service` knows three things: how to *provision* itself into the cache (idempotent; every
step goes through :meth:`ServiceContext.step`, which logs to a file and names that file on failure),
which long-running *processes* to start, and how to *probe* readiness with a real client round trip
(returning the version that answered).  :mod:`storagebench.services.manager` does the rest: pid files,
port checks, waiting, stopping, status and the endpoints file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from storagebench.durability import DEFAULT_PROFILE, Profile
from storagebench.errors import ServiceError
from storagebench.services.ports import HOST, local_ports

DEFAULT_HOME = Path.home() / ".cache" / "storagebench"


def storagebench_home() -> Path:
    """Cache root for provisioned engines, data dirs, logs, pid files and the endpoints file."""
    return Path(os.environ.get("STORAGEBENCH_HOME", DEFAULT_HOME)).expanduser()


@dataclass(frozen=True)
class ProcessSpec:
    """One long-running process of a service."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    #: run as this user (PostgreSQL refuses root)
    user: str | None = None


class ServiceContext:
    """Paths and the logged step runner a service uses."""

    def __init__(self, home: Path | None = None, echo: Callable[[str], None] = print,
                 durability: Profile = DEFAULT_PROFILE, memory: int | None = None) -> None:
        self.home = home or storagebench_home()
        self.echo = echo
        #: the durability profile engines are started with (storagebench.durability)
        self.durability: Profile = durability
        #: bytes of memory each engine started now may use (its caches sized to it, its processes in a
        #: memory cgroup with this limit); None: the engines' own lean defaults, no limit
        self.memory: int | None = memory

    @property
    def cache(self) -> Path:
        """Downloaded/built artefacts, shared by runs; safe to keep."""
        return self.home / "cache"

    def data_dir(self, service: str) -> Path:
        return self.home / "data" / service

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    def step(self, service: str, description: str, argv: Sequence[str], *,
             cwd: Path | None = None, env: Mapping[str, str] | None = None, timeout: float = 1800) -> None:
        """Run one provisioning step, output to a log file; on failure raise naming step and log."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"provision-{service}.log"
        self.echo(f"[{service}] {description} ...")
        started = time.monotonic()
        with log.open("a") as out:
            out.write(f"\n$ {' '.join(map(str, argv))}\n")
            out.flush()
            try:
                proc = subprocess.run(list(map(str, argv)), cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                      env={**os.environ, **(env or {})}, timeout=timeout, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise ServiceError(f"{service}: step '{description}' failed ({exc}); log: {log}") from exc
        if proc.returncode != 0:
            raise ServiceError(f"{service}: step '{description}' failed with exit {proc.returncode}; log: {log}")
        self.echo(f"[{service}] {description}: done in {time.monotonic() - started:.1f}s")


class Service(ABC):
    """One engine.  A store's is the ``SERVICE`` of its folder's ``service`` module."""

    name: ClassVar[str]
    #: well-known ports, role -> port (before ``STORAGEBENCH_PORT_OFFSET``)
    base_ports: ClassVar[dict[str, int]] = {}
    #: human description, e.g. "PostgreSQL 15 (Debian package)"
    description: ClassVar[str] = ""
    #: services that must be up first
    requires: ClassVar[tuple[str, ...]] = ()
    #: seconds to wait for readiness after start
    start_timeout: ClassVar[float] = 120.0
    #: whether the durability profile is a start-up setting of the server (a change restarts it);
    #: False when clients choose it per connection (PostgreSQL) or the engine has no such setting
    durability_at_start: ClassVar[bool] = False

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @property
    def host(self) -> str:
        return HOST

    @property
    def ports(self) -> dict[str, int]:
        return local_ports(self.base_ports)

    @property
    def data_dir(self) -> Path:
        return self.ctx.data_dir(self.name)

    def step(self, description: str, argv: Sequence[str], **kwargs: Any) -> None:
        self.ctx.step(self.name, description, argv, **kwargs)

    @abstractmethod
    def provision(self) -> None:
        """Fetch/build what is needed into ``ctx.cache`` and initialise ``data_dir``.  Idempotent and
        fast when already done."""

    @abstractmethod
    def processes(self) -> list[ProcessSpec]:
        """The processes to start, in order (each must stay in the foreground)."""

    @abstractmethod
    def probe(self) -> str:
        """A real client round trip.  Return the engine and version that answered; raise if not ready."""

    @abstractmethod
    def endpoints(self) -> dict[str, Any]:
        """Adapter options to reach this engine (written to the endpoints file)."""

    def provision_client(self) -> None:  # noqa: B027 - optional
        """What a client of this engine needs from the cache when the engine runs elsewhere (e.g. docker
        compose, see ``services adopt``): most need nothing; JVM-client engines fetch their jars."""

    def stop_hook(self) -> None:  # noqa: B027 - optional
        """Extra clean shutdown before signals (e.g. pg_ctl stop)."""


def which(program: str) -> str | None:
    return shutil.which(program)
