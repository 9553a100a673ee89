"""Start, stop and inspect local engines: pid files, port checks, readiness, endpoints file."""

from __future__ import annotations

import json
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from storagebench.durability import PROFILES, Profile
from storagebench.errors import ServiceError
from storagebench.results.files import atomic_write_text
from storagebench.services.base import ProcessSpec, Service, ServiceContext, storagebench_home
from storagebench.services.ports import HOST


def endpoints_file(home: Path | None = None) -> Path:
    """Where ``services up`` records how to reach each engine; adapters read it for their defaults."""
    return (home or storagebench_home()) / "endpoints.json"


def load_endpoints(home: Path | None = None) -> dict[str, dict[str, Any]]:
    path = endpoints_file(home)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_endpoints(ctx: ServiceContext, name: str, values: dict[str, Any] | None) -> None:
    data = load_endpoints(ctx.home)
    if values is None:
        data.pop(name, None)
    else:
        data[name] = values
    # it holds the engines' generated passwords and keys: owner only
    atomic_write_text(endpoints_file(ctx.home), json.dumps(data, indent=2, sort_keys=True) + "\n", mode=0o600)


def port_holder(port: int) -> str | None:
    """Who listens on 127.0.0.1:port (or any address), as 'pid N (cmd)', or None if free."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
            return None
        except OSError:
            pass
    try:
        out = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True,
                             timeout=5, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return out.split("users:")[-1].strip() if "users:" in out else "an unknown process"


@dataclass
class ProcessState:
    name: str
    pid: int
    alive: bool
    rss_bytes: int


def _pid_file(ctx: ServiceContext, service: str, proc: str) -> Path:
    return ctx.run_dir / f"{service}.{proc}.pid"


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _is_ours(pid: int, argv0: str) -> bool:
    """Only signal a pid whose command line still is the one we started (pids get reused)."""
    cmd = _cmdline(pid)
    if not cmd:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        if stat.read_text().split(") ")[-1].split()[0] == "Z":
            return False
    except OSError:
        return False
    return any(os.path.basename(part) == os.path.basename(argv0) for part in cmd[:3])


def _tree_rss(pid: int) -> int:
    """RSS of the process and its descendants, in bytes."""
    total = 0
    stack = [pid]
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().split(") ")[-1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    while stack:
        p = stack.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
        stack.extend(children.get(p, []))
    return total


class Manager:
    def __init__(self, ctx: ServiceContext, names: list[str], loader: Callable[[str], type[Service]]) -> None:
        self.ctx = ctx
        self.known = names
        self.loader = loader

    def service(self, name: str) -> Service:
        if name not in self.known:
            raise ServiceError(f"unknown service {name!r}; known: {', '.join(self.known)}")
        return self.loader(name)(self.ctx)

    def names(self, names: list[str] | None) -> list[str]:
        chosen = names or list(self.known)
        for name in chosen:
            self.service(name)  # validates
        ordered: list[str] = []

        def visit(n: str) -> None:
            for dep in self.loader(n).requires:
                visit(dep)
            if n not in ordered:
                ordered.append(n)

        for name in chosen:
            visit(name)
        return ordered

    # -- state -------------------------------------------------------------------------------------
    def processes(self, name: str) -> list[ProcessState]:
        states = []
        for pid_file in sorted(self.ctx.run_dir.glob(f"{name}.*.pid")):
            try:
                record = json.loads(pid_file.read_text())
                pid, argv0 = int(record["pid"]), str(record["argv0"])
            except (OSError, ValueError, KeyError):
                continue
            alive = _is_ours(pid, argv0)
            states.append(ProcessState(pid_file.name.split(".")[1], pid, alive, _tree_rss(pid) if alive else 0))
        return states

    def is_up(self, name: str) -> bool:
        procs = self.processes(name)
        return bool(procs) and all(p.alive for p in procs)

    # -- up ----------------------------------------------------------------------------------------
    def up(self, names: list[str] | None = None) -> dict[str, str]:
        versions: dict[str, str] = {}
        for name in self.names(names):
            versions[name] = self._up_one(self.service(name))
        return versions

    def _profile_file(self, name: str) -> Path:
        return self.ctx.run_dir / f"{name}.durability"

    def running_profile(self, name: str) -> str | None:
        """The durability profile a running service was started with (None if unknown or not up)."""
        try:
            return self._profile_file(name).read_text().strip() or None
        except OSError:
            return None

    def running_memory(self, name: str) -> int | None:
        """The memory limit a running service was started with (None: none, or not up)."""
        try:
            text = (self.ctx.run_dir / f"{name}.memory").read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def _up_one(self, svc: Service) -> str:
        echo = self.ctx.echo
        wanted = self.ctx.durability
        if svc.durability_at_start and self.is_up(svc.name) and self.running_profile(svc.name) != wanted:
            echo(f"[{svc.name}] running with durability {self.running_profile(svc.name) or 'unknown'}; "
                 f"restarting with {wanted}")
            self._stop(svc)
        if self.is_up(svc.name) and self.running_memory(svc.name) != self.ctx.memory:
            echo(f"[{svc.name}] running with memory limit {_size(self.running_memory(svc.name))}; restarting "
                 f"with {_size(self.ctx.memory)}")
            self._stop(svc)
        if self.is_up(svc.name):
            try:
                version = svc.probe()
                echo(f"[{svc.name}] already up: {version}")
                _write_endpoints(self.ctx, svc.name, svc.endpoints())
                return version
            except Exception:
                echo(f"[{svc.name}] processes alive but not answering; restarting")
        if self.processes(svc.name):
            echo(f"[{svc.name}] found dead or stale processes; cleaning up before restart")
            self._stop(svc)
        for role, port in svc.ports.items():
            holder = port_holder(port)
            if holder:
                raise ServiceError(f"{svc.name}: port {port} ({role}) on {HOST} is taken by {holder}; "
                                   f"stop it or free the port, then run `storagebench services up {svc.name}`")
        started = time.monotonic()
        svc.provision()
        self.ctx.run_dir.mkdir(parents=True, exist_ok=True)
        self.ctx.log_dir.mkdir(parents=True, exist_ok=True)
        group = memory_cgroup(self.ctx, svc.name) if self.ctx.memory else None
        for spec in svc.processes():
            pid = self._spawn(svc, spec)
            if group is not None:
                (group / "cgroup.procs").write_text(f"{pid}\n")  # its children inherit the group
        self._profile_file(svc.name).write_text(self.ctx.durability + "\n")
        (self.ctx.run_dir / f"{svc.name}.memory").write_text(f"{self.ctx.memory or ''}\n")
        version = self._wait_ready(svc)
        _write_endpoints(self.ctx, svc.name, svc.endpoints())
        echo(f"[{svc.name}] up in {time.monotonic() - started:.1f}s: {version}")
        return version

    def _spawn(self, svc: Service, spec: ProcessSpec) -> int:
        log = self.ctx.log_dir / f"{svc.name}.{spec.name}.log"
        identity: dict[str, Any] = {}
        if spec.user:
            pw = pwd.getpwnam(spec.user)
            # setgroups([]) too: the child keeps none of root's supplementary groups
            identity = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        with log.open("ab") as out:
            proc = subprocess.Popen(list(map(str, spec.argv)), cwd=spec.cwd, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env={**os.environ, **spec.env},
                                    start_new_session=True, **identity)
        # Popen can return while the child is still inside exec(): /proc/<pid>/cmdline is not yet the
        # new program's, and the liveness check would call it dead.  Wait for the exec to finish.
        deadline = time.monotonic() + 5.0
        argv0 = str(spec.argv[0])
        while not _is_ours(proc.pid, argv0) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        record = {"pid": proc.pid, "argv0": argv0, "log": str(log)}
        _pid_file(self.ctx, svc.name, spec.name).write_text(json.dumps(record))
        return proc.pid

    def _wait_ready(self, svc: Service) -> str:
        deadline = time.monotonic() + svc.start_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            dead = [p for p in self.processes(svc.name) if not p.alive]
            if dead:
                logs = ", ".join(str(self.ctx.log_dir / f"{svc.name}.{p.name}.log") for p in dead)
                raise ServiceError(f"{svc.name}: process {dead[0].name} exited during start-up; see {logs}")
            try:
                return svc.probe()
            except Exception as exc:
                last = exc
                time.sleep(1.0)
        raise ServiceError(f"{svc.name}: not ready after {svc.start_timeout:.0f}s ({last}); "
                           f"logs in {self.ctx.log_dir}")

    # -- restart -----------------------------------------------------------------------------------
    def restart(self, name: str) -> float:
        """Stop the engine ``name`` and start it again with the memory cap and durability profile it was
        started with (its caches empty: ``run --cold``); the seconds it took until it answered its probe.
        Only an engine ``up`` started here (its pid files live) is restarted: refused otherwise."""
        svc = self.service(name)
        if not self.is_up(name):
            raise ServiceError(f"{name}: not running as started by `storagebench services up` under "
                               f"{self.ctx.home}; nothing to restart")
        memory, profile = self.running_memory(name), self.running_profile(name)
        started = time.monotonic()
        self._stop(svc)
        self.ctx.memory = memory
        if profile in PROFILES:
            self.ctx.durability = cast(Profile, profile)
        self._up_one(svc)
        return time.monotonic() - started

    # -- adopt -------------------------------------------------------------------------------------
    def adopt(self, names: list[str] | None = None) -> dict[str, str]:
        """Record engines started elsewhere (docker compose) on the same ports in the endpoints file.

        Every named engine is tried: one that fails is reported with its real cause and the others are
        still adopted; a :class:`ServiceError` naming every failure is raised at the end."""
        versions: dict[str, str] = {}
        failures: list[str] = []
        for name in names or list(self.known):
            svc = self.service(name)
            if any(p.alive for p in self.processes(name)):
                failures.append(f"{name}: started by `storagebench services up`; nothing to adopt")
                continue
            try:
                svc.provision_client()
            except Exception as exc:
                failures.append(f"{name}: cannot provision its client ({exc})")
                continue
            try:
                versions[name] = svc.probe()
            except Exception as exc:
                failures.append(f"{name}: no usable engine on {HOST} ports "
                                f"{', '.join(map(str, svc.ports.values()))}: {type(exc).__name__}: {exc}")
                continue
            _write_endpoints(self.ctx, name, svc.endpoints())
            self.ctx.echo(f"[{name}] adopted: {versions[name]}")
        for failure in failures:
            self.ctx.echo(f"[adopt] {failure}")
        if failures:
            raise ServiceError(f"adopt: {len(failures)} of {len(failures) + len(versions)} engine(s) not "
                               f"adopted: " + "; ".join(failures))
        return versions

    # -- down --------------------------------------------------------------------------------------
    def down(self, names: list[str] | None = None, clean: bool = False) -> None:
        # the named engines and whatever depends on them (dependents stop first), never what they
        # require: `down mongodb [--clean]` must leave postgres, and its data, alone
        self.names(names)  # validates
        chosen = set(names or self.known)
        order = self.names(None)
        for name in order:  # requirements come before dependents, so one pass closes the set
            if any(dep in chosen for dep in self.loader(name).requires):
                chosen.add(name)
        for name in reversed(order):
            if name not in chosen:
                continue
            svc = self.service(name)
            self._stop(svc)
            _write_endpoints(self.ctx, name, None)
            if clean:
                import shutil

                shutil.rmtree(svc.data_dir, ignore_errors=True)
            self.ctx.echo(f"[{name}] down" + (" (data removed)" if clean else ""))

    def _stop(self, svc: Service) -> None:
        procs = self.processes(svc.name)
        if any(p.alive for p in procs):
            try:
                svc.stop_hook()
            except Exception as exc:  # the signals below still stop it
                self.ctx.echo(f"[{svc.name}] clean shutdown failed ({exc}); sending signals")
        for proc in reversed(procs):
            if _is_ours(proc.pid, self._argv0(svc.name, proc.name)):
                self._kill_group(proc.pid)
            _pid_file(self.ctx, svc.name, proc.name).unlink(missing_ok=True)
        self._profile_file(svc.name).unlink(missing_ok=True)

    def _argv0(self, service: str, proc: str) -> str:
        try:
            return str(json.loads(_pid_file(self.ctx, service, proc).read_text())["argv0"])
        except (OSError, ValueError, KeyError):
            return ""

    @staticmethod
    def _kill_group(pid: int, grace: float = 20.0) -> None:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return
            try:  # reap if it is our child
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.2)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    # -- status ------------------------------------------------------------------------------------
    def status(self, names: list[str] | None = None) -> list[dict[str, Any]]:
        rows = []
        for name in names or list(self.known):
            svc = self.service(name)
            procs = self.processes(name)
            state = "down"
            version = ""
            if procs and all(p.alive for p in procs):
                try:
                    version = svc.probe()
                    state = "up"
                except Exception as exc:
                    state = f"not answering ({exc})"
            elif not procs and name in load_endpoints(self.ctx.home):
                try:
                    version = svc.probe()
                    state = "external (adopted)"
                except Exception as exc:
                    state = f"external, not answering ({exc})"
            elif procs:
                dead = ", ".join(p.name for p in procs if not p.alive)
                state = f"crashed ({dead} exited; `storagebench services up {name}` restarts it)"
            rows.append({
                "service": name, "state": state, "version": version,
                "ports": ", ".join(f"{r} {p}" for r, p in svc.ports.items()),
                "pids": ", ".join(str(p.pid) for p in procs if p.alive),
                "rss_mib": round(sum(p.rss_bytes for p in procs) / 2**20, 1),
            })
        return rows


CGROUP_MEMORY = Path("/sys/fs/cgroup/memory")


def _size(limit: int | None) -> str:
    return "none" if not limit else f"{limit / 2**20:,.0f} MiB"


def memory_cgroup(ctx: ServiceContext, service: str) -> Path:
    """A cgroup v1 memory group for one engine, limited to ``ctx.memory`` bytes (swap included where the
    kernel accounts it), so a data set larger than it must come from disk.  Needs root and the v1
    memory controller; refused with what to do otherwise."""
    import hashlib

    if not CGROUP_MEMORY.is_dir():
        raise ServiceError(f"--memory needs the cgroup v1 memory controller at {CGROUP_MEMORY} (not found)")
    group = CGROUP_MEMORY / "storagebench" / hashlib.sha256(str(ctx.home).encode()).hexdigest()[:8] / service
    try:
        group.mkdir(parents=True, exist_ok=True)
        (group / "memory.limit_in_bytes").write_text(str(ctx.memory))
        swap = group / "memory.memsw.limit_in_bytes"
        if swap.exists():
            swap.write_text(str(ctx.memory))
    except OSError as exc:
        raise ServiceError(f"cannot set a memory limit in {group}: {exc.strerror or exc} (root is needed)") from exc
    return group


def engine_memory(store: str) -> dict[str, Any]:
    """The memory cap of the engine ``services up --memory`` started for ``store`` (recorded in results)."""
    from storagebench.services import load_service, service_names

    if store not in service_names():
        return {"limit_bytes": None, "note": "no engine process of its own"}
    ctx = ServiceContext(echo=lambda _m: None)
    limit = Manager(ctx, list(service_names()), load_service).running_memory(store)
    return {"limit_bytes": limit, "how": "engine caches sized to it, processes in a cgroup v1 memory group"
            if limit else "the engine's own lean defaults, no cgroup limit"}


def other_server(store: str, options: dict[str, Any], home: Path | None = None) -> str:
    """Why the run's ``options`` point at another server than the engine ``services`` recorded for
    ``store`` in the endpoints file ("" when they do not)."""
    recorded = load_endpoints(home).get(store) or {}
    differs = sorted(k for k, v in recorded.items() if k in options and str(options[k]) != str(v))
    if differs:
        return (f"the run's {', '.join(differs)} differ from the engine `storagebench services` started: "
                "its processes are not the server this run measured")
    return ""


def engine_pids(store: str, options: dict[str, Any]) -> tuple[list[int], str]:
    """The live root pids of the engine ``services`` started for ``store`` (and of the engines it requires,
    e.g. FerretDB's PostgreSQL), or ``([], why not)``: no service for the store, not started here (remote,
    adopted, down), or the run's options point at another server than the one the endpoints file records."""
    from storagebench.services import load_service, service_names

    if store not in service_names():
        return [], (f"{store} has no engine process of its own (an embedded store runs inside the client "
                    "processes: its cost is in the client's CPU)")
    ctx = ServiceContext(echo=lambda _m: None)
    differs = other_server(store, options, ctx.home)
    if differs:
        return [], differs
    manager = Manager(ctx, list(service_names()), load_service)
    names = [store]
    for name in names:  # the engines it stands on (FerretDB on PostgreSQL) serve its operations too
        names += [dep for dep in manager.loader(name).requires if dep not in names]
    pids = [state.pid for name in names for state in manager.processes(name) if state.alive]
    if not pids:
        return [], (f"no live process of the {store} engine under {ctx.home} (remote, adopted from docker "
                    "compose, or down): nothing to observe")
    return pids, ""

