"""The one place for where each local engine listens.  Everything binds to :data:`HOST`.

:data:`BASE_PORTS` are the well-known ports; docker/compose.yaml publishes exactly those (a test checks
they agree).  ``STORAGEBENCH_PORT_OFFSET=N`` shifts *every* port of every engine by ``N`` (including
the derived ones: HBase master/region/info, Kudu web servers), so a second set of engines can run
beside the first one, e.g. ``STORAGEBENCH_HOME=/tmp/sb2 STORAGEBENCH_PORT_OFFSET=10000 storagebench
services up``.  Use the same two variables for the runs and tests that talk to that set.  Adapters
take their defaults from here and from the endpoints file, so nothing else hard-codes a port.
"""

from __future__ import annotations

import os

from storagebench.errors import UsageError

HOST = "127.0.0.1"

#: service name -> {port role: well-known port}
BASE_PORTS: dict[str, dict[str, int]] = {
    "postgres": {"sql": 5433},
    "mongodb": {"wire": 27017},
    "s3": {"http": 7070},
    "hdfs": {"namenode": 8020, "webhdfs": 9870},
    "hbase": {"zookeeper": 2181, "thrift": 9090, "master": 16000, "region": 16020, "master_info": 16010},
    "kudu": {"master": 7051, "tserver": 7050, "master_http": 8051, "tserver_http": 8050},
    "neo4j": {"bolt": 7687},
    #: standalone cluster; worker i listens on worker + i and worker_ui + i
    "spark": {"master": 7077, "master_ui": 8090, "worker": 7078, "worker_ui": 8091},
}

OFFSET_VARIABLE = "STORAGEBENCH_PORT_OFFSET"


def port_offset(environ: dict[str, str] | os._Environ[str] = os.environ) -> int:
    """The shift applied to every port, from ``$STORAGEBENCH_PORT_OFFSET`` (default 0)."""
    raw = environ.get(OFFSET_VARIABLE, "").strip()
    if not raw:
        return 0
    try:
        offset = int(raw)
    except ValueError:
        raise UsageError(f"{OFFSET_VARIABLE}={raw!r} is not an integer") from None
    low = min(p for roles in BASE_PORTS.values() for p in roles.values())
    high = max(p for roles in BASE_PORTS.values() for p in roles.values())
    if low + offset < 1024 or high + offset > 65535:
        raise UsageError(f"{OFFSET_VARIABLE}={offset} puts ports outside 1024..65535 "
                          f"(allowed: {1024 - low}..{65535 - high})")
    return offset


def shifted(offset: int) -> dict[str, dict[str, int]]:
    return {name: {role: port + offset for role, port in roles.items()} for name, roles in BASE_PORTS.items()}


#: service name -> {port role: port}, with the offset applied: what the services bind and adapters use
PORTS: dict[str, dict[str, int]] = shifted(port_offset())
