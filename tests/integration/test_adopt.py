"""`services adopt` against engines it did not start (stand-ins for docker compose: the locally started
ones, seen from a fresh home with an empty client-library cache).  The JVM-client engines provision
what their clients need (Kudu: its Java client jars and CLI); a failing engine does not stop the others."""

from __future__ import annotations

from pathlib import Path

import pytest
from storagebench.adapters.kudu.service import kudu_client_classpath

from storagebench.errors import ServiceError
from storagebench.services import load_service, service_names
from storagebench.services.base import ServiceContext
from storagebench.services.manager import Manager, load_endpoints
from storagebench.testing.engines import require_engine

ADOPTED = ("kudu", "hbase", "hdfs", "neo4j")


def test_adopt_with_an_empty_client_cache(tmp_path: Path) -> None:
    for name in (*ADOPTED, "postgres"):
        require_engine(name)
    local = ServiceContext(echo=lambda _m: None)
    fresh = ServiceContext(home=tmp_path / "home", echo=lambda _m: None)
    fresh.cache.mkdir(parents=True)
    # Maven's local repository is reused (no downloads in the test); the client libraries are not
    (fresh.cache / "maven").symlink_to(local.cache / "maven")
    with pytest.raises(ServiceError):
        kudu_client_classpath(fresh.cache)
    manager = Manager(fresh, list(service_names()), load_service)
    postgres_has_password = (load_service("postgres")(local).password() is not None)  # type: ignore[attr-defined]
    try:
        versions = manager.adopt([*ADOPTED[:2], "postgres", *ADOPTED[2:]])
        assert not postgres_has_password
    except ServiceError as exc:
        # a generated password lives in the home that started the engine: adopt cannot know it, says so
        assert postgres_has_password and "postgres" in str(exc) and "password" in str(exc), exc
        versions = {}
    recorded = load_endpoints(fresh.home)
    assert set(ADOPTED) <= set(recorded), "engines after the failing one are still adopted"
    assert kudu_client_classpath(fresh.cache), "adopt provisioned the Kudu Java client"
    for name in ADOPTED:
        assert recorded[name] == load_endpoints(local.home)[name]
    if versions:
        assert set(ADOPTED) <= set(versions)
