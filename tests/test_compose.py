"""docker/compose.yaml: valid compose, and in step with the local services.

The host ports come from :mod:`storagebench.services.ports` (the one source of truth) and the
credentials from the service modules, so a change there that compose.yaml does not follow fails here.
No Docker is needed: the file is checked against the compose-spec JSON schema that check-jsonschema
ships, and its structure is read with PyYAML.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from storagebench.services import base_ports
from storagebench.services.compose import assemble
from storagebench.services.ports import HOST

BASE_PORTS = base_ports()
PORTS = BASE_PORTS

COMPOSE = Path(__file__).resolve().parents[1] / "docker" / "compose.yaml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose.get("services")
    assert isinstance(found, dict) and found, "compose.yaml has no services"
    return found


def published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of every published port, short or long syntax."""
    out = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            ip = str(entry.get("host_ip", ""))
            host, target = entry.get("published"), entry.get("target")
        else:
            spec = str(entry).split("/")[0]
            parts = spec.rsplit(":", 2)
            if len(parts) == 3:
                ip, host, target = parts
            else:  # "host:container" or "container": no host ip, i.e. all interfaces
                ip, host, target = "", parts[0], parts[-1]
        out.append((ip.strip("[]"), int(str(host)), int(str(target))))
    return out


def owner(name: str) -> str:
    """The engine a compose service belongs to: 'hdfs-datanode' -> 'hdfs'."""
    return name.split("-", 1)[0]


def test_compose_file_is_the_assembly_of_the_fragments() -> None:
    assert COMPOSE.read_text() == assemble(), \
        "docker/compose.yaml is stale: run `storagebench services compose -o docker/compose.yaml`"


def test_schema_valid() -> None:
    pytest.importorskip("check_jsonschema")
    proc = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                           str(COMPOSE)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_engine_is_a_service(services: dict[str, dict[str, Any]]) -> None:
    missing = sorted(set(PORTS) - set(services))
    assert not missing, f"engines without a compose service of the same name: {missing}"
    strays = sorted(n for n in services if owner(n) not in PORTS)
    assert not strays, f"compose services that belong to no engine of ports.py: {strays}"


@pytest.mark.parametrize("engine", sorted(PORTS))
def test_engine_ports_match_ports_py(services: dict[str, dict[str, Any]], engine: str) -> None:
    host_ports = {port: ip for ip, port, _target in published(services[engine])}
    for role, port in BASE_PORTS[engine].items():
        assert port in host_ports, f"{engine}: {role} port {port} (BASE_PORTS) is not published by {engine!r}"
        assert host_ports[port] == HOST, f"{engine}: port {port} is published on {host_ports[port] or 'all'} " \
                                         f"interfaces, not {HOST}"


def test_every_published_port_is_loopback_only_and_unique(services: dict[str, dict[str, Any]]) -> None:
    seen: dict[int, str] = {}
    for name, service in services.items():
        for ip, port, _target in published(service):
            assert ip == HOST, f"{name}: port {port} is published on {ip or 'all interfaces'}, not {HOST}"
            assert port not in seen, f"host port {port} is published by both {seen[port]} and {name}"
            seen[port] = name


def test_companion_daemons_share_the_engine_network(services: dict[str, dict[str, Any]]) -> None:
    """Second daemons (datanode, Thrift, tablet server) join the engine's network namespace, publish
    nothing themselves, and the engine publishes every port on the same number inside and out (the
    daemons advertise 127.0.0.1:<port> to clients)."""
    for name, service in services.items():
        if name in PORTS:
            continue
        engine = owner(name)
        assert service.get("network_mode") == f"service:{engine}", f"{name}: network_mode must be service:{engine}"
        assert not service.get("ports"), f"{name}: publish ports on {engine}, whose network it uses"
        for _ip, port, target in published(services[engine]):
            assert port == target, f"{engine}: host port {port} must equal the container port (got {target})"


def test_every_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck")
        assert isinstance(check, dict) and not check.get("disable"), f"{name}: no healthcheck"
        test = check.get("test")
        assert test and test not in (["NONE"], "NONE"), f"{name}: healthcheck has no test"
        if isinstance(test, list):
            assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, f"{name}: malformed healthcheck {test}"


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_credentials_match_the_local_services(services: dict[str, dict[str, Any]]) -> None:
    from storagebench.adapters.postgres import service as postgres
    from storagebench.adapters.s3 import service as s3

    pg = _environment(services["postgres"])
    assert pg.get("POSTGRES_USER", "postgres") == postgres.SUPERUSER
    assert pg.get("POSTGRES_DB", pg.get("POSTGRES_USER", "postgres")) == postgres.DEFAULT_DATABASE
    # `services adopt` records no password for a cluster it did not create: compose's must be trust
    assert pg.get("POSTGRES_HOST_AUTH_METHOD") == "trust", "adopt records no password for compose's cluster"

    gw = _environment(services["s3"])
    # adopt finds no generated credentials file for compose's gateway and records the fixed keys
    assert (gw.get("ROOT_ACCESS_KEY"), gw.get("ROOT_SECRET_KEY")) == s3.LEGACY_KEYS
    assert gw.get("VGW_REGION", "us-east-1") == s3.REGION

    assert _environment(services["neo4j"]).get("NEO4J_AUTH") == "none", "the local Neo4j runs without auth"
    assert not any(k.startswith("MONGO_INITDB_ROOT") for k in _environment(services["mongodb"])), \
        "the local MongoDB endpoint has no credentials"
