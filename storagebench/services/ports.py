"""Where local engines listen.  Everything binds to :data:`HOST`.

Each engine declares its well-known ports once, as ``BASE_PORTS`` in its service module (a store's in
``adapters/<store>/service.py``); docker/compose.yaml publishes exactly those (a test checks they agree).
``STORAGEBENCH_PORT_OFFSET=N`` shifts *every* port of every engine by ``N`` (including the derived ones:
HBase master/region/info, Kudu web servers), so a second set of engines can run beside the first one,
e.g. ``STORAGEBENCH_HOME=/tmp/sb2 STORAGEBENCH_PORT_OFFSET=10000 storagebench services up``.  Use the
same two variables for the runs and tests that talk to that set.  Adapters take their defaults from
their service module and from the endpoints file, so nothing else hard-codes a port.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from storagebench.errors import UsageError

HOST = "127.0.0.1"

OFFSET_VARIABLE = "STORAGEBENCH_PORT_OFFSET"


def port_offset(environ: Mapping[str, str] = os.environ) -> int:
    """The shift applied to every port, from ``$STORAGEBENCH_PORT_OFFSET`` (default 0)."""
    raw = environ.get(OFFSET_VARIABLE, "").strip()
    if not raw:
        return 0
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"{OFFSET_VARIABLE}={raw!r} is not an integer") from None


def shifted(base: Mapping[str, int], offset: int) -> dict[str, int]:
    """``base`` moved by ``offset``; refused when a port would leave 1024..65535."""
    moved = {role: port + offset for role, port in base.items()}
    if moved and (min(moved.values()) < 1024 or max(moved.values()) > 65535):
        low, high = min(base.values()), max(base.values())
        raise UsageError(f"{OFFSET_VARIABLE}={offset} puts ports outside 1024..65535 "
                         f"(allowed: {1024 - low}..{65535 - high})")
    return moved


def local_ports(base: Mapping[str, int]) -> dict[str, int]:
    """An engine's ports as this process binds and reaches them (the offset of the environment applied)."""
    return shifted(base, port_offset())
