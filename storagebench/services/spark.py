"""Spark standalone: one master and N workers on 127.0.0.1, from pyspark's own jars (no download).

``SPARK_HOME`` is the installed pyspark package (its ``jars/`` holds the whole Spark 3.5 runtime).  Each
daemon is started as ``java -cp $SPARK_HOME/jars/* org.apache.spark.deploy.{master.Master,worker.Worker}``
(what ``bin/spark-class`` runs; calling java directly keeps the pid file pointing at the JVM) with
``JAVA_HOME`` a JDK 17 and ``SPARK_LOCAL_IP=127.0.0.1`` (otherwise the web UIs bind 0.0.0.0).

Size, from the environment (defaults fit a 2-core machine shared with the engines):
``STORAGEBENCH_SPARK_WORKERS`` (1), ``STORAGEBENCH_SPARK_WORKER_CORES`` (1) and
``STORAGEBENCH_SPARK_WORKER_MEMORY`` (1g) per worker.  Worker *i* listens on the worker ports of
:mod:`storagebench.services.ports` plus *i*.  Executors' scratch space is ``<data>/spark/work``.

The probe reads the master's ``/json/`` status (a real HTTP round trip to the master) and requires every
worker to be registered and alive.  The endpoints file records the master URL, which ``--engine spark``
uses when no ``--spark-master`` is given.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

from storagebench.errors import ServiceError
from storagebench.services.base import ProcessSpec, Service

ENV_WORKERS = "STORAGEBENCH_SPARK_WORKERS"
ENV_CORES = "STORAGEBENCH_SPARK_WORKER_CORES"
ENV_MEMORY = "STORAGEBENCH_SPARK_WORKER_MEMORY"
#: heap of the master and worker daemons themselves (executors get their own JVMs)
DAEMON_HEAP = "256m"


def spark_home() -> Path:
    try:
        import pyspark
    except ImportError as exc:
        raise ServiceError("spark: pyspark is not installed (pip install 'storagebench[spark]')") from exc
    return Path(pyspark.__file__).parent


def scala_version() -> str:
    """The Scala line of pyspark's jars (the worker's executor launcher needs it, as bin/spark-class sets it)."""
    found = sorted((spark_home() / "jars").glob("scala-library-*.jar"))
    if not found:
        raise ServiceError(f"spark: no scala-library jar under {spark_home() / 'jars'}")
    return ".".join(found[0].stem.removeprefix("scala-library-").split(".")[:2])


def _positive(env: str, default: int) -> int:
    raw = os.environ.get(env, str(default))
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ServiceError(f"spark: {env}={raw!r} must be a positive integer")
    return value


#: standalone cluster; worker i listens on worker + i and worker_ui + i
BASE_PORTS: dict[str, int] = {"master": 7077, "master_ui": 8090, "worker": 7078, "worker_ui": 8091}


class SparkService(Service):
    name = "spark"
    base_ports = BASE_PORTS
    description = "Spark standalone master + workers (pyspark's jars)"
    start_timeout = 120.0

    @property
    def workers(self) -> int:
        return _positive(ENV_WORKERS, 1)

    @property
    def cores(self) -> int:
        return _positive(ENV_CORES, 1)

    @property
    def memory(self) -> str:
        return os.environ.get(ENV_MEMORY, "1g")

    @property
    def ports(self) -> dict[str, int]:
        base = super().ports
        ports = {"master": base["master"], "master_ui": base["master_ui"]}
        for i in range(self.workers):
            ports[self._role(i)] = base["worker"] + i
            ports[self._role(i, "_ui")] = base["worker_ui"] + i
        return ports

    @staticmethod
    def _role(worker: int, suffix: str = "") -> str:
        """Port role of worker ``worker``: ``worker``, ``worker1``, ... (the first one as in ports.py)."""
        return f"worker{worker or ''}{suffix}"

    @property
    def master_url(self) -> str:
        return f"spark://{self.host}:{self.ports['master']}"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.ports['master_ui']}"

    def _env(self) -> dict[str, str]:
        from storagebench.spark.session import jdk17_home

        home = jdk17_home()
        if home is None:
            raise ServiceError("spark: no JDK 17 found (set JAVA_HOME, or apt-get install openjdk-17-jdk)")
        return {"JAVA_HOME": home, "SPARK_HOME": str(spark_home()), "SPARK_SCALA_VERSION": scala_version(),
                "SPARK_LOCAL_IP": self.host,
                "SPARK_WORKER_DIR": str(self.data_dir / "work"), "SPARK_LOG_DIR": str(self.ctx.log_dir),
                "SPARK_PUBLIC_DNS": self.host}  # the address the UIs advertise

    def _java(self, env: dict[str, str], main: str, *args: str) -> list[str]:
        jars = Path(env["SPARK_HOME"]) / "jars"
        if not jars.is_dir():
            raise ServiceError(f"spark: {jars} is missing (is pyspark fully installed?)")
        return [str(Path(env["JAVA_HOME"]) / "bin" / "java"), f"-Xmx{DAEMON_HEAP}", "-XX:+UseSerialGC",
                "-cp", f"{jars}/*", main, *args]

    def provision(self) -> None:
        spark_home()
        self._env()
        (self.data_dir / "work").mkdir(parents=True, exist_ok=True)

    def processes(self) -> list[ProcessSpec]:
        env = self._env()
        ports = self.ports
        specs = [ProcessSpec("master", self._java(
            env, "org.apache.spark.deploy.master.Master", "--host", self.host, "--port", str(ports["master"]),
            "--webui-port", str(ports["master_ui"])), env=env, cwd=self.data_dir)]
        for i in range(self.workers):
            specs.append(ProcessSpec(self._role(i), self._java(
                env, "org.apache.spark.deploy.worker.Worker", "--host", self.host,
                "--port", str(ports[self._role(i)]), "--webui-port", str(ports[self._role(i, "_ui")]),
                "--cores", str(self.cores), "--memory", self.memory, "--work-dir", str(self.data_dir / "work"),
                self.master_url), env=env, cwd=self.data_dir))
        return specs

    def status_json(self, timeout: float = 5.0) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.ui_url}/json/", timeout=timeout) as response:
            data = json.loads(response.read())
        if not isinstance(data, dict):
            raise ServiceError("spark: the master's /json/ is not an object")
        return data

    def probe(self) -> str:
        data = self.status_json()
        alive = int(data.get("aliveworkers", 0))
        if data.get("status") != "ALIVE" or alive < self.workers:
            raise ServiceError(f"spark master {data.get('status')}, {alive} of {self.workers} workers alive")
        from storagebench.spark.session import spark_version

        cores = data.get("cores", "?")
        return f"Spark {spark_version()} standalone ({alive} worker(s), {cores} cores)"

    def endpoints(self) -> dict[str, Any]:
        return {"master": self.master_url, "ui": self.ui_url, "workers": self.workers, "cores": self.cores,
                "memory": self.memory}
