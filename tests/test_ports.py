"""``STORAGEBENCH_PORT_OFFSET`` shifts every port of every engine, services and adapters alike, so a
second set of engines can run beside the shared one without touching it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from storagebench.services import base_ports
from storagebench.services.ports import port_offset, shifted

BASE_PORTS = base_ports()

_PROBE = """
import json
from storagebench.services import load_service, service_names
from storagebench.services.base import ServiceContext
from storagebench.registry import load_adapter
ctx = ServiceContext()
services = {n: load_service(n)(ctx).ports for n in service_names()}
adapters = {}
for store in ("postgres", "mongodb", "hbase", "neo4j", "kudu", "hdfs", "s3"):
    options = load_adapter(store).Options()
    adapters[store] = {k: str(v) for k, v in options.model_dump().items() if v is not None}
print(json.dumps({"services": services, "adapters": adapters}))
"""


def _probe(offset: str, tmp_path: object) -> dict[str, dict[str, dict[str, object]]]:
    env = {**os.environ, "STORAGEBENCH_PORT_OFFSET": offset, "STORAGEBENCH_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return dict(json.loads(out))


def test_offset_shifts_every_service_port_and_every_adapter_default(tmp_path: object) -> None:
    seen = _probe("10000", tmp_path)
    assert seen["services"] == {name: shifted(ports, 10000) for name, ports in BASE_PORTS.items()}
    joined = json.dumps(seen["adapters"])
    for roles in BASE_PORTS.values():
        for port in roles.values():
            # no adapter default still points at a well-known port; shifted ones appear where used
            assert f":{port}\"" not in joined and f"\"{port}\"" not in joined, port
    assert seen["adapters"]["postgres"]["port"] == str(BASE_PORTS["postgres"]["sql"] + 10000)
    assert str(seen["adapters"]["kudu"]["master_addresses"]).endswith(f":{BASE_PORTS['kudu']['master'] + 10000}")
    assert str(seen["adapters"]["hdfs"]["namenode"]).endswith(f":{BASE_PORTS['hdfs']['namenode'] + 10000}")


def test_no_offset_means_the_well_known_ports() -> None:
    assert port_offset({}) == 0
    assert all(shifted(ports, 0) == ports for ports in BASE_PORTS.values())


@pytest.mark.parametrize("bad", ["ten", "60000", "-5000"])
def test_bad_offset_is_one_line_and_exit_2(bad: str, tmp_path: object) -> None:
    env = {**os.environ, "STORAGEBENCH_PORT_OFFSET": bad, "STORAGEBENCH_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "storagebench.cli", "services", "status"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "STORAGEBENCH_PORT_OFFSET" in proc.stderr
