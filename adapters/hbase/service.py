"""HBase: a standalone HMaster (master, region server and ZooKeeper in one JVM) plus the Thrift server.

``pom.xml`` (this folder) resolves the jars into ``<cache>/maven/repo``.  Maven Central serves the server
modules as ``<v>-hadoop3`` but ``hbase-thrift`` only as plain ``<v>`` (its pom pins Hadoop 2.10), so
the pom takes that one jar without its dependencies and everything else from the ``-hadoop3`` line
(same HBase source; ``versions.HBASE`` names the -hadoop3 version).  log4j2 is added as the slf4j
binding (the Maven artefacts ship none).

Processes (JDK 17 with the ``--add-opens`` flags HBase's own ``bin/hbase`` uses):

* ``master``: ``HMaster start`` with ``hbase.cluster.distributed=false`` (starts its own ZooKeeper on
  2181), ``hbase.rootdir=file://<data>/hbase`` with the plain filesystem WAL, every RPC and the master
  info server on 127.0.0.1, the region server's info server off.  Data survives restarts.
* ``thrift``: ``ThriftServer`` on 9090 (thread-pool server, binary protocol, buffered transport: what
  happybase speaks by default), its info server off.

The probe is a happybase round trip (table listing and a put + get on the table ``sbench_probe``);
the version is the one the cluster reports (``ClusterMetrics.hbase_version``) through the master info
server's ``/api/v1/admin/cluster_metrics``: Thrift1 has no version call.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from storagebench.errors import ServiceError
from storagebench.services.base import ProcessSpec, Service
from storagebench.services.build import build_java_launcher, java_program
from storagebench.services.ports import local_ports

#: HBase 2.6 supports JDK 17
HBASE = "2.6.1-hadoop3"
#: the engine's well-known ports (role -> port); ``STORAGEBENCH_PORT_OFFSET`` shifts them all
BASE_PORTS: dict[str, int] = {"zookeeper": 2181, "thrift": 9090, "master": 16000, "region": 16020, "master_info": 16010}
#: what the engine binds and the adapter uses by default
PORTS = local_ports(BASE_PORTS)
#: this store's folder: the launcher's pom and Java sources
HERE = Path(__file__).resolve().parent

#: the table the probe writes to (inside the harness's own namespace prefix)
PROBE_TABLE = "sbench_probe"

#: JDK 17 flags from HBase 2.6's bin/hbase
JDK17_FLAGS = [
    "-Dorg.apache.hbase.thirdparty.io.netty.tryReflectionSetAccessible=true",
    "--add-modules", "jdk.unsupported",
    "--add-opens", "java.base/java.nio=ALL-UNNAMED",
    "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens", "java.base/java.util=ALL-UNNAMED",
    "--add-opens", "java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports", "java.security.jgss/sun.security.krb5=ALL-UNNAMED",
    "--add-exports", "java.base/sun.net.dns=ALL-UNNAMED",
    "--add-exports", "java.base/sun.net.util=ALL-UNNAMED",
]

_LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_OUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{ISO8601} %-5p [%t] %c{2}: %m%n
rootLogger = WARN,console
logger.hbase.name = org.apache.hadoop.hbase
logger.hbase.level = INFO
logger.zookeeper.name = org.apache.hadoop.hbase.zookeeper
logger.zookeeper.level = WARN
"""

#: Hadoop metrics2: the JMX values are a snapshot refreshed every ``period`` seconds (default 10, which
#: with the table metrics' own 5 s let a footprint read 10 s after a load still see the empty table)
_METRICS2 = "*.period=1\n"


def cluster_version(info_url: str, timeout: float = 5.0) -> str:
    """The HBase version the cluster reports (``ClusterMetrics``), from the master info server."""
    with urllib.request.urlopen(f"{info_url}/api/v1/admin/cluster_metrics", timeout=timeout) as response:
        data = json.loads(response.read())
    return str(data["data"]["hbase_version"])


class HBaseService(Service):
    name = "hbase"
    base_ports = BASE_PORTS
    description = f"Apache HBase {HBASE} standalone (master, region server, ZooKeeper in one JVM) + Thrift"
    start_timeout = 180.0
    master_heap = "-Xmx512m"
    thrift_heap = "-Xmx256m"

    @property
    def root(self) -> Path:
        return self.ctx.cache / "hbase" / HBASE

    @property
    def conf_dir(self) -> Path:
        return self.data_dir / "conf"

    @property
    def info_url(self) -> str:
        return f"http://{self.host}:{self.ports['master_info']}"

    def _classpath(self) -> list[str]:
        return build_java_launcher(self, self.root, HERE, {
            "hbase.version": HBASE,
            # the plain (non -hadoop3) release of the same version: see the module docstring
            "hbase.thrift.version": HBASE.removesuffix("-hadoop3"),
        })

    def site(self) -> dict[str, str]:
        data, host = self.data_dir, self.host
        return {
            "hbase.cluster.distributed": "false",
            "hbase.rootdir": (data / "hbase").as_uri(),
            "hbase.tmp.dir": str(data / "tmp"),
            "hbase.zookeeper.quorum": host,
            "hbase.zookeeper.property.clientPort": str(self.ports["zookeeper"]),
            "hbase.zookeeper.property.dataDir": str(data / "zookeeper"),
            # the local filesystem has no hflush/hsync capability flags
            "hbase.unsafe.stream.capability.enforce": "false",
            "hbase.wal.provider": "filesystem",
            # the raw local filesystem: the default file:// one (checksummed) silently turns hsync into
            # a flush, so no setting could make the WAL reach the disk (strace shows no fsync at all)
            "fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
            # WAL syncs of USE_DEFAULT mutations (meta edits) hsync; Thrift1's puts are SYNC_WAL, which
            # hflushes whatever this says (see the adapter), so no profile changes user writes here
            "hbase.wal.hsync": "true",
            "hbase.master.hostname": host,
            "hbase.regionserver.hostname": host,
            "hbase.master.ipc.address": host,
            "hbase.regionserver.ipc.address": host,
            "hbase.master.port": str(self.ports["master"]),
            "hbase.regionserver.port": str(self.ports["region"]),
            # the master's info server answers the version query; the others stay off
            "hbase.master.info.bindAddress": host,
            "hbase.master.info.port": str(self.ports["master_info"]),
            "hbase.regionserver.info.port": "-1",
            "hbase.thrift.info.port": "-1",
            # files a flush or compaction replaced go to oldWALs/ and archive/ and are deleted by the master's
            # cleaners after a TTL (defaults 10 and 5 minutes, checked every 10): during a long load they held
            # 2.5x the data (1 M records: data 1.4 GB, archive 2.4 GB, oldWALs 1.3 GB; 10 M filled 59 GB)
            "hbase.master.cleaner.interval": "30000",
            "hbase.master.logcleaner.ttl": "60000",
            "hbase.master.hfilecleaner.ttl": "60000",
            # few threads: the machine is shared with other engines
            "hbase.regionserver.handler.count": "8",
            "hbase.thrift.minWorkerThreads": "4",
            # the per-table size metrics the adapter's footprint reads, refreshed every second (default 5 s)
            "hbase.regionserver.metrics.period": "1000",
        }

    def provision(self) -> None:
        self._classpath()
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        props = "\n".join(f"  <property><name>{escape(k)}</name><value>{escape(v)}</value></property>"
                          for k, v in self.site().items())
        (self.conf_dir / "hbase-site.xml").write_text(
            f'<?xml version="1.0"?>\n<!-- written by storagebench services up hbase -->\n'
            f"<configuration>\n{props}\n</configuration>\n")
        (self.conf_dir / "log4j2.properties").write_text(_LOG4J2)
        (self.conf_dir / "hadoop-metrics2-hbase.properties").write_text(_METRICS2)

    def _java(self, heap: str, main: str, *args: str) -> list[str]:
        return [java_program(), heap, "-XX:+UseSerialGC", "-Djava.net.preferIPv4Stack=true", *JDK17_FLAGS,
                f"-Dlog4j2.configurationFile={self.conf_dir / 'log4j2.properties'}",
                "-cp", ":".join([str(self.conf_dir), *self._classpath()]), main, *args]

    def processes(self) -> list[ProcessSpec]:
        master = self._java(self.master_heap, "org.apache.hadoop.hbase.master.HMaster", "start")
        thrift = self._java(self.thrift_heap, "org.apache.hadoop.hbase.thrift.ThriftServer",
                            "-b", self.host, "-p", str(self.ports["thrift"]), "start")
        return [ProcessSpec("master", master, cwd=self.data_dir),
                ProcessSpec("thrift", thrift, cwd=self.data_dir)]

    def probe(self) -> str:
        try:
            import happybase
        except ImportError as exc:
            raise ServiceError("hbase: the probe needs happybase: pip install storagebench[hbase]") from exc
        connection = happybase.Connection(self.host, self.ports["thrift"], timeout=10_000, autoconnect=False)
        try:
            connection.open()
            if PROBE_TABLE.encode() not in connection.tables():
                connection.create_table(PROBE_TABLE, {"f": {"max_versions": 1}})
            table = connection.table(PROBE_TABLE)
            table.put(b"probe", {b"f:ok": b"1"})
            if table.row(b"probe").get(b"f:ok") != b"1":
                raise ServiceError("hbase: the probe row did not read back")
        finally:
            connection.close()
        return f"HBase {cluster_version(self.info_url)}"

    def stop_hook(self) -> None:
        """Ask the cluster to shut down (flushes memstores) and wait for the master JVM to exit.

        A plain SIGTERM makes the standalone master stop its ZooKeeper before the region server is
        done, which then hangs until the manager's SIGKILL (and the next start replays the WAL).
        """
        pid_file = self.ctx.run_dir / f"{self.name}.master.pid"
        pid = int(json.loads(pid_file.read_text())["pid"])
        self.step("shut the cluster down", self._java("-Xmx128m", "org.apache.hadoop.hbase.master.HMaster",
                                                      "stop", "--shutDownCluster"), timeout=90)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
                if Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[-1].startswith("Z"):
                    return
            except (ProcessLookupError, FileNotFoundError):
                return
            time.sleep(0.3)

    def endpoints(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.ports["thrift"], "info_url": self.info_url,
                "zookeeper_quorum": f"{self.host}:{self.ports['zookeeper']}"}


#: the engine ``storagebench services`` starts for this store
SERVICE = HBaseService
