"""Neo4j 5.26 LTS (community), embedded in a tiny Java main with only the Bolt connector.

``pom.xml`` (this folder) resolves ``org.neo4j:neo4j`` + ``neo4j-bolt`` into ``<cache>/neo4j/<version>/lib``
(Maven repository under ``<cache>/maven/repo``); ``Neo4jServer.java`` (this folder) is compiled with
``javac`` into ``<cache>/neo4j/<version>/classes`` (recompiled when the source changes).  The server
uses ``DatabaseManagementServiceBuilder`` on ``data_dir``, Bolt on 127.0.0.1:7687 without TLS, HTTP
and HTTPS connectors off, **auth disabled** (a loopback-only benchmark engine; the adapter then
connects without credentials), a bounded page cache and heap.  5.26 runs on JDK 17 (2025.x needs 21).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from storagebench.errors import ServiceError
from storagebench.services.base import ProcessSpec, Service
from storagebench.services.ports import local_ports

#: the 5.26 LTS line (runs on JDK 17)
NEO4J = "5.26.30"
#: the engine's well-known ports (role -> port); ``STORAGEBENCH_PORT_OFFSET`` shifts them all
BASE_PORTS: dict[str, int] = {"bolt": 7687}
#: what the engine binds and the adapter uses by default
PORTS = local_ports(BASE_PORTS)
#: this store's folder: the launcher's pom and Java sources
HERE = Path(__file__).resolve().parent

MAIN_CLASS = "Neo4jServer"


class Neo4jService(Service):
    name = "neo4j"
    base_ports = BASE_PORTS
    description = f"Neo4j {NEO4J} community, embedded with Bolt (Maven Central jars + a tiny Java main)"
    start_timeout = 180.0

    @property
    def heap(self) -> str:
        """768 MiB, or half of a ``--memory`` cap."""
        return f"{self.ctx.memory // 2 // 2**20}m" if self.ctx.memory else "768m"

    @property
    def page_cache_mib(self) -> int:
        """256 MiB, or a quarter of a ``--memory`` cap."""
        return self.ctx.memory // 4 // 2**20 if self.ctx.memory else 256

    @property
    def root(self) -> Path:
        return self.ctx.cache / "neo4j" / NEO4J

    @property
    def uri(self) -> str:
        return f"bolt://{self.host}:{self.ports['bolt']}"

    def _java(self, program: str) -> str:
        found = shutil.which(program)
        if not found:
            raise ServiceError(f"neo4j: `{program}` not found; install a JDK 17 (e.g. apt-get install openjdk-17-jdk)")
        return found

    def provision(self) -> None:
        lib = self.root / "lib"
        if not (lib / ".complete").exists():
            self.step(f"resolve Neo4j {NEO4J} + Bolt jars", [
                "mvn", "-B", "-q", "-f", str(HERE / "pom.xml"),
                f"-Dmaven.repo.local={self.ctx.cache / 'maven' / 'repo'}", f"-Dneo4j.version={NEO4J}",
                f"-Dsbench.build.dir={self.root / 'maven-build'}",
                "dependency:copy-dependencies", f"-DoutputDirectory={lib}", "-DincludeScope=runtime"])
            (lib / ".complete").touch()
        source = HERE / f"{MAIN_CLASS}.java"
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        classes = self.root / "classes"
        stamp = classes / ".source-sha256"
        if not stamp.exists() or stamp.read_text() != digest:
            shutil.rmtree(classes, ignore_errors=True)
            classes.mkdir(parents=True)
            self.step(f"compile {source.name}", [self._java("javac"), "--release", "17", "-cp", f"{lib}/*",
                                                  "-d", str(classes), str(source)])
            stamp.write_text(digest)
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def processes(self) -> list[ProcessSpec]:
        argv = [
            self._java("java"), f"-Xms{min(256, int(self.heap[:-1]))}m", f"-Xmx{self.heap}", "-XX:+UseG1GC",
            "-XX:ParallelGCThreads=2", "-XX:ConcGCThreads=1", "-XX:+ExitOnOutOfMemoryError",
            "-Dfile.encoding=UTF-8", "-cp", f"{self.root / 'classes'}:{self.root / 'lib'}/*", MAIN_CLASS,
            str(self.data_dir), self.host, str(self.ports["bolt"]), str(self.page_cache_mib),
        ]
        return [ProcessSpec("server", argv, cwd=self.data_dir)]

    def probe(self) -> str:
        import neo4j

        # one auto-commit query, no retries (execute_query would retry for 30 s while starting up)
        with neo4j.GraphDatabase.driver(self.uri, auth=None, connection_timeout=5,
                                        max_connection_pool_size=1) as driver, \
                driver.session(database="system") as session:
            records = session.run("CALL dbms.components() YIELD name, versions, edition "
                                  "RETURN name, versions, edition").data()
        kernel = next(r for r in records if r["name"] == "Neo4j Kernel")
        return f"Neo4j {kernel['versions'][0]} ({kernel['edition']})"

    def endpoints(self) -> dict[str, Any]:
        return {"uri": self.uri, "database": "neo4j"}


#: the engine ``storagebench services`` starts for this store
SERVICE = Neo4jService
