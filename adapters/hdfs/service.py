"""HDFS: a two-DataNode MiniDFSCluster from ``hadoop-client-minicluster`` (Maven Central).

``pom.xml`` (this folder) resolves ``org.apache.hadoop:hadoop-client-minicluster:<HADOOP>`` (a shaded jar
that carries MiniDFSCluster) into ``<cache>/maven/repo``; ``MiniDFS.java`` (this folder) is compiled
against it into ``<cache>/hdfs/<HADOOP>/classes``.  The launcher binds the NameNode RPC (8020), its
HTTP/WebHDFS endpoint (9870) and every datanode address to 127.0.0.1 (WebHDFS redirects reads and
writes to the datanode, so its address must be reachable too), disables permissions, and formats the
name directory only on the first start: data under ``<home>/data/hdfs`` survives restarts.

Recipe notes (verified): Hadoop 3.5.0 runs on JDK 17 without ``--add-opens`` flags; the minicluster
ships no slf4j binding (we add slf4j-simple at WARN).

The probe is a WebHDFS round trip with the ``hdfs`` client (HdfsCLI, what the adapter uses by default):
GETHOMEDIRECTORY + LISTSTATUS, then the NameNode's JMX bean ``NameNodeInfo`` for the version and the
number of live datanodes (writes need one).
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from storagebench.errors import ServiceError
from storagebench.services.base import ProcessSpec, Service
from storagebench.services.build import build_java_launcher, java_program
from storagebench.services.ports import local_ports

#: the first Hadoop with full Java 17 support
HADOOP = "3.5.0"
#: the engine's well-known ports (role -> port); ``STORAGEBENCH_PORT_OFFSET`` shifts them all
BASE_PORTS: dict[str, int] = {"namenode": 8020, "webhdfs": 9870}
#: what the engine binds and the adapter uses by default
PORTS = local_ports(BASE_PORTS)
#: this store's folder: the launcher's pom and Java sources
HERE = Path(__file__).resolve().parent

#: the user WebHDFS requests run as (permissions are off; this only names the home directory)
HDFS_USER = "storagebench"
#: How a file close waits for its last block.  Hadoop's defaults (hdfs-default.xml, what MiniDFSCluster
#: and a real cluster run with unless told otherwise) let the NameNode close a file only once its last
#: block is COMPLETE, i.e. after a DataNode's incremental block report arrived.  The client's close
#: (completeFile) usually wins that race, is refused, and retries after a sleep: 400 ms for the Java
#: client (``dfs.client.block.write.locateFollowingBlock.initial.delay.ms``, which WebHDFS uses inside
#: the DataNode), a fixed 500 ms for hdfs-native.  With one small file per record that sleep was most
#: of every insert (p50 70 ms WebHDFS / 521 ms native, p90 ~500 ms).  HDFS-8999's
#: ``dfs.namenode.file.close.num-committed-allowed`` lets a close succeed while the last block is
#: COMMITTED (every DataNode of the pipeline has acknowledged every byte; with synconclose after its
#: fsync), but only when the block expects more replicas than ``dfs.namenode.replication.min`` (1):
#: never with one DataNode.  So the cluster runs as a small real one would: two DataNodes, replication
#: 2, close allowed on COMMITTED.  Every write then goes to two DataNodes (two fsyncs when durable).
CLOSE_SETTINGS: dict[str, str] = {
    "storagebench.minidfs.datanodes": "2",
    "dfs.replication": "2",
    "dfs.namenode.file.close.num-committed-allowed": "1",
}



def _get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def namenode_version(http_url: str, timeout: float = 5.0) -> tuple[str, int]:
    """(software version, live datanodes) from the NameNode's JMX bean ``NameNodeInfo``."""
    beans = _get_json(f"{http_url}/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo", timeout)["beans"]
    if not beans:
        raise ServiceError("hdfs: the NameNode has no NameNodeInfo JMX bean (not a NameNode?)")
    info = beans[0]
    version = str(info.get("SoftwareVersion") or str(info["Version"]).split(",")[0])
    live = json.loads(info.get("LiveNodes") or "{}")
    return version, len(live)


class MiniDFSService(Service):
    name = "hdfs"
    base_ports = BASE_PORTS
    description = (f"HDFS {HADOOP} (MiniDFSCluster from hadoop-client-minicluster): 1 NameNode + 2 DataNodes "
                   "(replication 2)")
    start_timeout = 180.0
    durability_at_start = True
    heap = "-Xmx512m"

    def conf(self) -> dict[str, str]:
        """Configuration the launcher sets on top of Hadoop's defaults (``hdfs-default.xml``)."""
        durable = self.ctx.durability == "durable"
        return {
            # durable: the DataNode fsyncs block + checksum files when a file is closed (each record is
            # one file, closed by its write) and the NameNode fsyncs its edit log; fast: Hadoop's
            # defaults (page cache) and MiniDFSCluster's skipped edit-log fsync
            "dfs.datanode.synconclose": str(durable).lower(),
            "storagebench.minidfs.skip-fsync": str(not durable).lower(),
            **CLOSE_SETTINGS,
        }

    @property
    def root(self) -> Path:
        return self.ctx.cache / "hdfs" / HADOOP

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.ports['webhdfs']}"

    def _classpath(self) -> list[str]:
        return build_java_launcher(self, self.root, HERE, {"hadoop.version": HADOOP},
                                   [HERE / "MiniDFS.java"])

    def provision(self) -> None:
        self._classpath()
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def processes(self) -> list[ProcessSpec]:
        argv = [java_program(), self.heap, "-XX:+UseSerialGC", "-Xss512k",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-Djava.net.preferIPv4Stack=true",
                "-cp", ":".join(self._classpath()), "MiniDFS",
                str(self.data_dir / "minidfs"), str(self.ports["namenode"]), str(self.ports["webhdfs"]),
                *(f"{k}={v}" for k, v in self.conf().items())]
        return [ProcessSpec("minidfs", argv, cwd=self.data_dir)]

    def probe(self) -> str:
        try:
            import hdfs
        except ImportError as exc:
            raise ServiceError("hdfs: the probe needs HdfsCLI: pip install storagebench[hdfs]") from exc
        client = hdfs.InsecureClient(self.http_url, user=HDFS_USER, timeout=5)
        client.status("/")  # GETFILESTATUS
        client.list("/")  # LISTSTATUS
        home = _get_json(f"{self.http_url}/webhdfs/v1/?op=GETHOMEDIRECTORY&user.name={HDFS_USER}")
        if "Path" not in home:
            raise ServiceError(f"hdfs: unexpected GETHOMEDIRECTORY answer {home}")
        version, live = namenode_version(self.http_url)
        if live < int(CLOSE_SETTINGS["storagebench.minidfs.datanodes"]):
            raise ServiceError("hdfs: NameNode answers but no DataNode is live yet")
        return f"HDFS {version}"

    def endpoints(self) -> dict[str, Any]:
        return {"url": self.http_url, "namenode": f"hdfs://{self.host}:{self.ports['namenode']}",
                "user": HDFS_USER}


#: the engine ``storagebench services`` starts for this store
SERVICE = MiniDFSService
