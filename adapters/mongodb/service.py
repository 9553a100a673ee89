"""The MongoDB wire API, served by FerretDB v1 on our own PostgreSQL.

No package registry ships a real ``mongod``, so the local "mongodb" engine is FerretDB 1.24.2 (the last
release that runs on plain PostgreSQL) built from the Go module proxy into the cache.  It stores every
MongoDB database as a schema of the PostgreSQL database ``ferretdb`` in the ``postgres`` service's
cluster.  What answers is reported as FerretDB, never as MongoDB.

Why not ``go install``: FerretDB panics at start-up unless ``build/version/version.txt`` was generated
into its source tree (its release build does that).  So provisioning downloads the module, copies it to
the cache, writes that file, and runs ``go build`` there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

from storagebench.errors import ServiceError
from storagebench.services.base import ProcessSpec, Service
from storagebench.services.build import go_binary, go_env
from storagebench.services.ports import local_ports

#: the last FerretDB that runs on plain PostgreSQL
FERRETDB = "v1.24.2"
#: the engine's well-known ports (role -> port); ``STORAGEBENCH_PORT_OFFSET`` shifts them all
BASE_PORTS: dict[str, int] = {"wire": 27017}
#: what the engine binds and the adapter uses by default
PORTS = local_ports(BASE_PORTS)

FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
#: the PostgreSQL database FerretDB keeps its data in (created in the postgres service's cluster)
FERRETDB_PG_DATABASE = "ferretdb"



def module_cache_dir(cache: Path, module: str, version: str) -> Path:
    """Where ``go mod download`` puts ``module@version`` (upper-case letters are escaped as !lower)."""
    escaped = "".join(f"!{c.lower()}" if c.isupper() else c for c in module)
    return cache / "go" / "mod" / f"{escaped}@{version}"


class FerretDBService(Service):
    name = "mongodb"
    base_ports = BASE_PORTS
    description = f"FerretDB {FERRETDB} (MongoDB wire protocol) on the postgres service"
    requires = ("postgres",)
    start_timeout = 60.0
    # the ferretdb database's synchronous_commit default, which FerretDB's pooled connections pick up
    durability_at_start = True

    @property
    def binary(self) -> Path:
        return self.ctx.cache / "go" / f"ferretdb-{FERRETDB}" / "ferretdb"

    @property
    def port(self) -> int:
        return self.ports["wire"]

    def _postgres(self) -> Any:
        from storagebench.adapters.postgres.service import PostgresService

        return PostgresService(self.ctx)

    def provision(self) -> None:
        if not self.binary.exists():
            self._build()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._ensure_database()

    def _build(self) -> None:
        go = go_binary()
        env = go_env(self.ctx.cache)
        work = self.ctx.cache / "go"
        work.mkdir(parents=True, exist_ok=True)
        self.step(f"go mod download {FERRETDB_MODULE}@{FERRETDB}",
                  [go, "mod", "download", f"{FERRETDB_MODULE}@{FERRETDB}"], cwd=work, env=env)
        source = work / "src" / f"ferretdb-{FERRETDB}"
        shutil.rmtree(source, ignore_errors=True)
        shutil.copytree(module_cache_dir(self.ctx.cache, FERRETDB_MODULE, FERRETDB), source)
        for folder, _dirs, files in os.walk(source):  # the module cache is read-only
            os.chmod(folder, 0o755)
            for name in files:
                os.chmod(Path(folder) / name, 0o644)
        version_dir = source / "build" / "version"
        (version_dir / "version.txt").write_text(f"{FERRETDB}\n")
        (version_dir / "package.txt").write_text("storagebench\n")
        partial = self.binary.with_name("ferretdb.partial")
        self.step(f"go build ferretdb {FERRETDB} (a few minutes the first time)",
                  [go, "build", "-p", "1", "-trimpath", "-o", str(partial), "./cmd/ferretdb"],
                  cwd=source, env=env)
        partial.rename(self.binary)
        shutil.rmtree(source, ignore_errors=True)

    def _ensure_database(self) -> None:
        """FerretDB wants its PostgreSQL database to exist; create it once (postgres is up: requires)."""
        import psycopg2

        pg = self._postgres()
        try:
            conn = psycopg2.connect(connect_timeout=5, **{("dbname" if k == "database" else k): v
                                                           for k, v in pg.endpoints().items()})
        except psycopg2.Error as exc:
            raise ServiceError(f"mongodb: cannot reach the postgres service to create database "
                               f"{FERRETDB_PG_DATABASE!r} ({exc}); "
                               f"run `storagebench services up postgres`") from exc
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (FERRETDB_PG_DATABASE,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{FERRETDB_PG_DATABASE}"')
                    self.ctx.echo(f"[mongodb] created PostgreSQL database {FERRETDB_PG_DATABASE!r}")
                # FerretDB ignores write concerns: its backend's commit setting decides durability
                from storagebench.adapters.postgres.adapter import SYNCHRONOUS_COMMIT

                cur.execute(f'ALTER DATABASE "{FERRETDB_PG_DATABASE}" SET synchronous_commit = '
                            f"{SYNCHRONOUS_COMMIT[self.ctx.durability]}")
        finally:
            conn.close()

    def processes(self) -> list[ProcessSpec]:
        pg = self._postgres().endpoints()
        credentials = pg["user"] + (f":{quote(pg['password'], safe='')}" if pg.get("password") else "")
        url = f"postgres://{credentials}@{pg['host']}:{pg['port']}/{FERRETDB_PG_DATABASE}"
        argv = [str(self.binary), "--handler=postgresql",
                f"--listen-addr={self.host}:{self.port}", "--debug-addr=-", "--telemetry=disable",
                f"--state-dir={self.data_dir}", "--log-level=WARN"]
        # the URL holds the backend's password: through the environment, never on the command line
        return [ProcessSpec("ferretdb", argv, env={"FERRETDB_POSTGRESQL_URL": url}, cwd=self.data_dir)]

    def probe(self) -> str:
        import pymongo

        client: Any = pymongo.MongoClient(host=self.host, port=self.port, serverSelectionTimeoutMS=3000,
                                          connectTimeoutMS=3000, directConnection=True)
        try:
            info = client.admin.command("buildInfo")
        finally:
            client.close()
        label = describe_build_info(info)
        if "ferretdbVersion" in info:  # FerretDB does not report its backend: ask the backend itself
            label += f" on {self._postgres().probe()}"
        return label

    def endpoints(self) -> dict[str, Any]:
        pg = self._postgres().endpoints()
        dsn = f"host={pg['host']} port={pg['port']} user={pg['user']} dbname={FERRETDB_PG_DATABASE}"
        if pg.get("password"):
            dsn += f" password={pg['password']}"
        return {"host": self.host, "port": self.port, "backend_postgres_dsn": dsn}


def describe_build_info(info: dict[str, Any]) -> str:
    """'FerretDB 1.24.2 (MongoDB wire 7.0.42)' or 'MongoDB 7.0.12' from a buildInfo reply."""
    wire = str(info.get("version", "?"))
    if "ferretdbVersion" in info:
        return f"FerretDB {str(info['ferretdbVersion']).removeprefix('v')} (MongoDB wire {wire})"
    return f"MongoDB {wire}"


#: the engine ``storagebench services`` starts for this store
SERVICE = FerretDBService
