"""Kudu: one master and one tablet server from the ``kudu-binary`` artifact on Maven Central.

``org.apache.kudu:kudu-binary:<version>:linux-x86_64`` is a jar holding ``bin/kudu``, ``bin/kudu-master``,
``bin/kudu-tserver`` and their shared libraries (Kudu's own test harness uses it).  The Java client
``kudu-client`` (what the adapter drives through JPype) is resolved by Maven next to it.  Both come
from ``pom.xml`` (this folder) into ``<cache>/kudu/<version>/`` with the Maven repository under
``<cache>/maven/repo``.

Recipe notes (verified): the bundled ``libkrb5.so.3`` has no RUNPATH, so without ``LD_LIBRARY_PATH``
pointing at the bundled ``lib/`` it picks the system ``libkrb5support`` and fails with an undefined
symbol; ``SASL_PATH`` points at the bundled SASL plugins.  No time daemon is needed with
``--unlock_unsafe_flags --time_source=system_unsync``.

The probe uses the bundled ``kudu`` CLI (real RPC round trips through the C++ client): the master
reports its version, at least one tablet server must be registered (tables cannot be created before)
and the table list must answer; it also checks the Java client jars are in place.  It deliberately
does not start a JVM in the calling process (``services status`` and test gating call the probe, and
a process that has started a JVM cannot be forked safely); the adapter tests cover the Java client.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

from storagebench.errors import ServiceError
from storagebench.services.base import ProcessSpec, Service, storagebench_home
from storagebench.services.ports import local_ports

#: kudu-binary (Maven Central, linux-x86_64)
KUDU = "1.17.1"
#: the engine's well-known ports (role -> port); ``STORAGEBENCH_PORT_OFFSET`` shifts them all
BASE_PORTS: dict[str, int] = {"master": 7051, "tserver": 7050, "master_http": 8051, "tserver_http": 8050}
#: what the engine binds and the adapter uses by default
PORTS = local_ports(BASE_PORTS)
#: this store's folder: the launcher's pom and Java sources
HERE = Path(__file__).resolve().parent

_PLATFORM = "linux-x86_64"


def kudu_cache_dir(cache: Path | None = None) -> Path:
    return (cache or storagebench_home() / "cache") / "kudu" / KUDU


def kudu_client_classpath(cache: Path | None = None) -> list[str]:
    """The jars of the Kudu Java client (kudu-client + its few dependencies), from the cache.

    Shared by the service (provisioning puts them there) and :mod:`storagebench.adapters.kudu.adapter`
    (JPype's classpath).
    Raises :class:`ServiceError` with what to run when they are not provisioned yet.
    """
    lib = kudu_cache_dir(cache) / "client-lib"
    jars = sorted(str(p) for p in lib.glob("*.jar"))
    if not (lib / ".complete").exists() or not any("kudu-client" in Path(j).name for j in jars):
        raise ServiceError(f"kudu: Java client jars not found under {lib}; "
                           "run `storagebench services up kudu`")
    return jars


class KuduService(Service):
    name = "kudu"
    base_ports = BASE_PORTS
    description = f"Apache Kudu {KUDU} (kudu-binary from Maven Central): 1 master + 1 tablet server"
    start_timeout = 120.0
    durability_at_start = True

    #: per-daemon memory limits and block cache: small on purpose (2 cores, shared machine)
    master_memory_mib = 256

    @property
    def tserver_memory_mib(self) -> int:
        """The tablet server's hard limit: 768 MiB, or 3/4 of a ``--memory`` cap (the master takes the rest)."""
        return self.ctx.memory * 3 // 4 // 2**20 if self.ctx.memory else 768

    @property
    def tserver_block_cache_mib(self) -> int:
        return max(16, self.tserver_memory_mib // 8) if self.ctx.memory else 64

    @property
    def root(self) -> Path:
        return kudu_cache_dir(self.ctx.cache)

    @property
    def binary_home(self) -> Path:
        return self.root / "binary" / f"kudu-binary-{KUDU}-{_PLATFORM}"

    def _maven(self, description: str, *goal: str) -> None:
        self.step(description, ["mvn", "-B", "-q", "-f", str(HERE / "pom.xml"),
                                f"-Dmaven.repo.local={self.ctx.cache / 'maven' / 'repo'}",
                                f"-Dkudu.version={KUDU}", f"-Dsbench.build.dir={self.root / 'maven-build'}",
                                *goal])

    def provision_client(self) -> None:
        """For engines run elsewhere (``services adopt``): the adapter's Java client jars, and the
        bundled ``kudu`` CLI the probe speaks through (no server is started)."""
        self._binary()
        self._client_lib()

    def _client_lib(self) -> None:
        client_lib = self.root / "client-lib"
        if not (client_lib / ".complete").exists():
            self._maven(f"resolve the Kudu Java client {KUDU}", "dependency:copy-dependencies",
                        f"-DoutputDirectory={client_lib}", "-DincludeScope=runtime")
            (client_lib / ".complete").touch()

    def provision(self) -> None:
        self._binary()
        self._client_lib()
        for role in ("master", "tserver"):
            for sub in ("wal", "data", "logs"):
                (self.data_dir / role / sub).mkdir(parents=True, exist_ok=True)

    def _binary(self) -> None:
        if not (self.root / "binary" / ".complete").exists():
            self._maven(f"fetch and unpack kudu-binary {KUDU}", "dependency:unpack",
                        f"-Dartifact=org.apache.kudu:kudu-binary:{KUDU}:jar:{_PLATFORM}",
                        f"-DoutputDirectory={self.root / 'binary'}", "-Dmdep.overWriteReleases=true")
            for program in (self.binary_home / "bin").iterdir():
                program.chmod(program.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            (self.root / "binary" / ".complete").touch()

    def _env(self) -> dict[str, str]:
        lib = self.binary_home / "lib"
        return {"LD_LIBRARY_PATH": str(lib), "SASL_PATH": str(lib / "sasl2")}

    def _common_flags(self, role: str, rpc_port: int, http_port: int, memory_mib: int) -> list[str]:
        base = self.data_dir / role
        return [
            "--unlock_unsafe_flags", "--time_source=system_unsync",
            f"--rpc_bind_addresses={self.host}:{rpc_port}",
            f"--webserver_interface={self.host}", f"--webserver_port={http_port}",
            f"--webserver_doc_root={self.binary_home / 'www'}",
            f"--fs_wal_dir={base / 'wal'}", f"--fs_data_dirs={base / 'data'}", f"--log_dir={base / 'logs'}",
            "--logtostderr", "--enable_minidumps=false",
            f"--memory_limit_hard_bytes={memory_mib * 2**20}",
            "--num_reactor_threads=2", "--rpc_num_acceptors_per_address=1",
            "--maintenance_manager_num_threads=1",
        ]

    def processes(self) -> list[ProcessSpec]:
        bin_dir = self.binary_home / "bin"
        ports = self.ports
        master = [str(bin_dir / "kudu-master"),
                  *self._common_flags("master", ports["master"], ports["master_http"],
                                      self.master_memory_mib),
                  "--default_num_replicas=1", "--rpc_num_service_threads=2", "--block_cache_capacity_mb=16"]
        tserver = [str(bin_dir / "kudu-tserver"),
                   *self._common_flags("tserver", ports["tserver"], ports["tserver_http"],
                                       self.tserver_memory_mib),
                   f"--tserver_master_addrs={self.master_addresses}", "--rpc_num_service_threads=4",
                   f"--block_cache_capacity_mb={self.tserver_block_cache_mib}",
                   # durable: fsync every WAL append before acknowledging (Kudu's default is false)
                   f"--log_force_fsync_all={'true' if self.ctx.durability == 'durable' else 'false'}"]
        env = self._env()
        return [ProcessSpec("master", master, env, cwd=self.data_dir),
                ProcessSpec("tserver", tserver, env, cwd=self.data_dir)]

    @property
    def master_addresses(self) -> str:
        return f"{self.host}:{self.ports['master']}"

    def _cli(self, *args: str) -> str:
        """Run the bundled ``kudu`` CLI; return its output, raise with its error when it fails."""
        proc = subprocess.run([str(self.binary_home / "bin" / "kudu"), *args], capture_output=True, text=True,
                              timeout=30, env={**os.environ, **self._env()}, check=False)
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            reason = lines[-1] if lines else f"exit {proc.returncode}"
            raise ServiceError(f"kudu {' '.join(args[:2])}: {reason}")
        return proc.stdout

    def probe(self) -> str:
        kudu_client_classpath(self.ctx.cache)  # the adapter's Java client must be there too
        masters = json.loads(self._cli("master", "list", self.master_addresses,
                                       "-columns=uuid,version", "-format=json"))
        tservers = json.loads(self._cli("tserver", "list", self.master_addresses,
                                        "-columns=uuid", "-format=json"))
        if not tservers:
            raise ServiceError("kudu: master answers but no tablet server has registered yet")
        self._cli("table", "list", self.master_addresses)
        # e.g. "kudu 1.17.1 (rev 8d0e39...)"
        version = str(masters[0]["version"]).split()[1]
        return f"Kudu {version}"

    def endpoints(self) -> dict[str, Any]:
        return {"master_addresses": self.master_addresses,
                "web_ui": f"http://{self.host}:{self.ports['master_http']}",
                "tserver_web_ui": f"http://{self.host}:{self.ports['tserver_http']}"}


#: the engine ``storagebench services`` starts for this store
SERVICE = KuduService
