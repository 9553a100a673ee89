"""One lean SparkSession for the harness: local[2] by default, no UI, bound to 127.0.0.1, the venv's Python
on both sides, small driver memory, connectors from Maven Central cached under the storagebench cache.

Spark 3.5 needs Java 8/11/17: when ``JAVA_HOME`` is unset, a JDK 17 under /usr/lib/jvm is used if present.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from storagebench.errors import UsageError
from storagebench.services.base import storagebench_home

JDK17_CANDIDATES = ("/usr/lib/jvm/java-17-openjdk-amd64", "/usr/lib/jvm/java-17-openjdk-arm64",
                    "/usr/lib/jvm/openjdk-17")

DRIVER_MEMORY_ENV = "STORAGEBENCH_SPARK_DRIVER_MEMORY"
#: the user's choice of the executors' Python, before this module changes the variable per session
_USER_PYSPARK_PYTHON = os.environ.get("PYSPARK_PYTHON")
#: the master when none is given and no standalone cluster is recorded in the endpoints file
LOCAL_MASTER = "local[2]"

#: lean defaults; the caller's ``conf`` wins
BASE_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.memory": "768m",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.python.worker.reuse": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
    # executors of a standalone cluster: small, one per worker core (the load is in their Python workers)
    "spark.executor.memory": "512m",
}


def ivy_dir() -> Path:
    """Where spark.jars.packages resolves to (one cache for every connector)."""
    return storagebench_home() / "cache" / "ivy"


def jdk17_home() -> str | None:
    """``JAVA_HOME`` when set, else a JDK 17 under /usr/lib/jvm (None when neither is there)."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    return next((c for c in JDK17_CANDIDATES if Path(c, "bin", "java").exists()), None)


def spark_version() -> str:
    """The pyspark version installed here (the Spark runtime its jars carry)."""
    return str(require_pyspark().__version__)


def prepare_environment() -> None:
    """Environment Spark reads when it launches its JVM and Python workers (before the first session)."""
    home = jdk17_home()
    if home:
        os.environ["JAVA_HOME"] = home
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def require_pyspark() -> Any:
    try:
        import pyspark
    except ImportError as exc:
        raise UsageError("the spark engine needs pyspark 3.5: pip install 'storagebench[spark]'") from exc
    if not pyspark.__version__.startswith("3.5"):
        raise UsageError(f"pyspark {pyspark.__version__} found; storagebench needs 3.5.x")
    return pyspark


def get_session(master: str = "local[2]", app: str = "storagebench", packages: Sequence[str] = (),
                conf: Mapping[str, str] | None = None) -> Any:
    """Get or create the session.  Packages only take effect when this process starts its JVM."""
    require_pyspark()
    from pyspark.sql import SparkSession

    prepare_environment()
    # executors run this interpreter unless told otherwise (the same venv in local mode and on this machine)
    python = _USER_PYSPARK_PYTHON or sys.executable
    settings = {**BASE_CONF, "spark.jars.ivy": str(ivy_dir()), "spark.pyspark.python": python,
                **dict(conf or {})}
    if os.environ.get(DRIVER_MEMORY_ENV):  # bigger batch datasets are collected in the driver to be verified
        settings["spark.driver.memory"] = os.environ[DRIVER_MEMORY_ENV]
    if packages:
        settings["spark.jars.packages"] = ",".join(packages)
    active = SparkSession.getActiveSession()
    if active is not None:
        context = active.sparkContext
        if context.master == master and getattr(context, "_storagebench_settings", None) == settings:
            return active
        # getOrCreate would hand back this context with its old master and settings: start afresh
        active.stop()
    # an in-process driver takes its executors' interpreter from this variable when the context starts
    os.environ["PYSPARK_PYTHON"] = settings["spark.pyspark.python"]
    builder = SparkSession.builder.master(master).appName(app)
    for key, value in settings.items():
        builder = builder.config(key, value)
    # SparkContext replaces the driver's SIGINT handler with its own (cancel jobs, raise KeyboardInterrupt),
    # which would take Ctrl-C away from the run's handler (stop workers, keep what was measured, exit 130)
    keep = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    try:
        session = builder.getOrCreate()
    finally:
        if keep is not None:
            signal.signal(signal.SIGINT, keep)
    session.sparkContext.setLogLevel("WARN")
    session.sparkContext._storagebench_settings = settings  # type: ignore[attr-defined]
    return session


def release_session() -> None:
    """Stop this process's Spark session, if it started one, so its executors give the cluster's cores back
    (another application, e.g. the batch phase's own process, can only start once they are free)."""
    if "pyspark.sql" not in sys.modules:
        return
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


def default_master() -> str:
    """The master of ``storagebench services up spark`` (endpoints file) when it is up, else local mode."""
    from storagebench.services.manager import load_endpoints

    master = load_endpoints().get("spark", {}).get("master")
    return str(master) if master else LOCAL_MASTER


def java_problem() -> str:
    """Why Spark cannot start a JVM here ("" when a Java is found)."""
    prepare_environment()
    home = os.environ.get("JAVA_HOME")
    if home:
        return "" if Path(home, "bin", "java").exists() else f"JAVA_HOME={home} has no bin/java"
    return "" if shutil.which("java") else "no Java found (set JAVA_HOME to a JDK 17)"


def is_local(master: str) -> bool:
    return master == "local" or master.startswith("local[") or master.startswith("local-")
