"""Durability profiles: what an *acknowledged write* means, chosen per run and read back per engine.

Two profiles:

* ``durable`` (the default): an acknowledged write survives a power loss on that engine — the engine
  fsyncs (or hsyncs) its log or data before it answers.  This is the promise a database user expects
  when nothing says otherwise, and the only one under which engines can be compared fairly: an engine
  that cannot give it says so (``honoured: false``), it is not quietly compared with a faster promise.
* ``fast``: acknowledged once the write is in the engine's memory or the OS page cache.

Each adapter knows its engine's knobs (module docstring + :meth:`Adapter.durability`): what it applies
per connection (PostgreSQL ``synchronous_commit``) and what it reads back from the server
(``SHOW``, Kudu ``/varz``, HBase and HDFS ``/conf``, Neo4j ``SHOW SETTINGS``).  Settings that only a
server restart changes are set by the service recipe (``storagebench services up --durability ...``);
a run whose profile differs from what the server runs with records ``honoured: false`` and says how to
restart it.  Every result file carries the :class:`Durability` record (``durability`` key).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Profile = Literal["durable", "fast"]
PROFILES: tuple[Profile, ...] = ("durable", "fast")
DEFAULT_PROFILE: Profile = "durable"

#: measured on the machine these engines were developed on; true of most cloud VMs with virtual disks
VM_CAVEAT = ("on a VM an fsync may complete in the hypervisor's cache (about 0.15 ms here) without a "
             "physical flush, so durable and fast differ less than on real disks")


@dataclass(frozen=True)
class Durability:
    """What a store promised for an acknowledged write during one run."""

    #: the profile the run asked for
    profile: str
    #: the engine settings that decide it, as read back from the server (or as configured, see observed)
    settings: dict[str, str] = field(default_factory=dict)
    #: True when ``settings`` were read back from the server, False when they are what was configured
    observed: bool = False
    #: True: the engine gives the asked-for promise; False: it cannot or is not set up to; None: unknown
    honoured: bool | None = None
    #: one sentence: how the promise is kept or why it is not
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "caveat": VM_CAVEAT}


def unknown(profile: str, note: str = "this adapter does not report its durability") -> Durability:
    return Durability(profile, {}, False, None, note)


def restart_hint(service: str, profile: str) -> str:
    return f"restart it with `storagebench services up {service} --durability {profile}`"


def read_hadoop_conf(url: str, names: tuple[str, ...], timeout: float = 10.0) -> dict[str, str]:
    """The named keys of a Hadoop-style ``/conf`` servlet (HDFS NameNode, HBase master info server):
    the configuration the running daemon actually loaded.  Absent keys are left out."""
    import urllib.request
    import xml.etree.ElementTree as ET

    with urllib.request.urlopen(f"{url.rstrip('/')}/conf", timeout=timeout) as response:
        root = ET.fromstring(response.read())
    found = {}
    for prop in root.iter("property"):
        name = prop.findtext("name")
        if name in names:
            found[name] = str(prop.findtext("value") or "")
    return found
