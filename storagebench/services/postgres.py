"""PostgreSQL 15 from the Debian package, as a private cluster of our own.

The server binaries come from ``postgresql-15`` (installed with apt-get when missing).  The cluster lives
in ``<data>/postgres/pgdata``, is initialised with ``initdb -A trust`` and runs as the ``postgres`` user
(PostgreSQL refuses root), listening on 127.0.0.1:5433 with a unix socket directory of its own, so it
never touches a cluster the system may run.  Settings are lean (small shared buffers, few background
workers, no parallel query, no JIT) because cores are shared with the other engines.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
from pathlib import Path
from typing import Any

from storagebench.errors import ServiceError
from storagebench.services.base import ProcessSpec, Service
from storagebench.services.versions import POSTGRES_MAJOR

#: the OS user the server runs as (initdb and postgres refuse to run as root)
PG_USER = "postgres"
#: the database role and database the adapter uses by default
SUPERUSER = "postgres"
DEFAULT_DATABASE = "postgres"

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


def bin_dir() -> Path:
    return Path(f"/usr/lib/postgresql/{POSTGRES_MAJOR}/bin")


class PostgresService(Service):
    name = "postgres"
    description = f"PostgreSQL {POSTGRES_MAJOR} (Debian package), private cluster as user {PG_USER}"
    start_timeout = 60.0

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def socket_dir(self) -> Path:
        return self.data_dir / "socket"

    @property
    def port(self) -> int:
        return self.ports["sql"]

    # -- provision ---------------------------------------------------------------------------------
    def provision(self) -> None:
        if not (bin_dir() / "postgres").exists():
            if not shutil.which("apt-get"):
                raise ServiceError(f"postgres: {bin_dir()}/postgres is missing and apt-get is not available; "
                                   f"install PostgreSQL {POSTGRES_MAJOR} server binaries")
            env = {"DEBIAN_FRONTEND": "noninteractive"}
            self.step("apt-get update", ["apt-get", "update"], env=env)
            self.step(f"apt-get install postgresql-{POSTGRES_MAJOR}",
                      ["apt-get", "install", "-y", "--no-install-recommends", f"postgresql-{POSTGRES_MAJOR}"],
                      env=env)
        try:
            pw = pwd.getpwnam(PG_USER)
        except KeyError as exc:
            raise ServiceError(f"postgres: OS user {PG_USER!r} does not exist "
                               f"(the Debian package creates it)") from exc
        self.data_dir.mkdir(parents=True, exist_ok=True)
        grant_traverse(self.data_dir, pw.pw_uid, pw.pw_gid, self.ctx.echo)
        for directory in (self.data_dir, self.socket_dir):
            directory.mkdir(parents=True, exist_ok=True)
            os.chown(directory, pw.pw_uid, pw.pw_gid)
        if not (self.pgdata / "PG_VERSION").exists():
            if self.pgdata.exists():  # a half-finished initdb: start over
                shutil.rmtree(self.pgdata)
            self.step("initdb", ["runuser", "-u", PG_USER, "--", str(bin_dir() / "initdb"),
                                 "-D", str(self.pgdata), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
                                 "--locale=C.UTF-8", "--no-sync"])
        elif (version := (self.pgdata / "PG_VERSION").read_text().strip()) != POSTGRES_MAJOR:
            raise ServiceError(f"postgres: {self.pgdata} holds a PostgreSQL {version} cluster, expected "
                               f"{POSTGRES_MAJOR}; remove it with "
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

    # -- run ---------------------------------------------------------------------------------------
    def processes(self) -> list[ProcessSpec]:
        argv: list[str] = [str(bin_dir() / "postgres"), "-D", str(self.pgdata), "-p", str(self.port),
                           "-c", f"listen_addresses={self.host}",
                           "-c", f"unix_socket_directories={self.socket_dir}"]
        for key, value in SETTINGS.items():
            argv += ["-c", f"{key}={value}"]
        return [ProcessSpec("server", argv, user=PG_USER, cwd=self.data_dir)]

    def probe(self) -> str:
        import psycopg2

        conn = psycopg2.connect(host=self.host, port=self.port, user=SUPERUSER, dbname=DEFAULT_DATABASE,
                                connect_timeout=3)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW server_version")
                row = cur.fetchone()
        finally:
            conn.close()
        assert row is not None
        return f"PostgreSQL {str(row[0]).split()[0]}"

    def endpoints(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "user": SUPERUSER, "database": DEFAULT_DATABASE}

    def stop_hook(self) -> None:
        # SIGTERM (what the manager sends) is a *smart* shutdown that waits for clients; fast is what we want
        self.step("pg_ctl stop -m fast", ["runuser", "-u", PG_USER, "--", str(bin_dir() / "pg_ctl"), "stop",
                                          "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "30"], timeout=60)


def grant_traverse(path: Path, uid: int, gid: int, echo: Any = print) -> None:
    """Let ``uid`` reach ``path``: the cache defaults to /root/.cache, and /root is usually 0700.

    Only the search (x) bit is granted, only where missing, and with a per-user ACL when ``setfacl``
    exists (falls back to o+x), so nothing becomes listable or readable.
    """
    for parent in reversed(path.resolve().parents):
        st = parent.stat()
        if st.st_uid == uid or st.st_mode & stat.S_IXOTH or (st.st_gid == gid and st.st_mode & stat.S_IXGRP):
            continue
        if _acl_allows(parent, uid):
            continue
        if shutil.which("setfacl"):
            import subprocess

            subprocess.run(["setfacl", "-m", f"u:{uid}:x", str(parent)], check=True)
            echo(f"[postgres] granted user {uid} traverse (x) on {parent} via ACL")
        else:
            os.chmod(parent, st.st_mode | stat.S_IXOTH)
            echo(f"[postgres] added o+x to {parent} so the postgres user can reach its data directory")


def _acl_allows(path: Path, uid: int) -> bool:
    if not shutil.which("getfacl"):
        return False
    import subprocess

    out = subprocess.run(["getfacl", "-n", "-p", str(path)], capture_output=True, text=True,
                         check=False).stdout
    return any(line.startswith(f"user:{uid}:") and "x" in line.split(":")[2] for line in out.splitlines())
