"""Local engines without Docker: ``storagebench services up|down|status|logs``.

A store's engine is the ``SERVICE`` class of its folder's ``service`` module (``adapters/<store>/service.py``);
Spark, the load generator, is the one engine of the core."""

from __future__ import annotations

import importlib
from functools import cache

from storagebench.services.base import Service

#: engines that are not stores
CORE_SERVICES: dict[str, str] = {"spark": "storagebench.services.spark:SparkService",
                                 "toxiproxy": "storagebench.services.network:ToxiproxyService"}


@cache
def service_names() -> tuple[str, ...]:
    """Every engine ``services`` can start: each registered store whose folder has a service, then Spark."""
    from storagebench.registry import available

    stores = [name for name in sorted(available()) if _store_service(name) is not None]
    return (*stores, *CORE_SERVICES)


def _store_service(name: str) -> type[Service] | None:
    from storagebench.registry import store_module

    try:
        module = store_module(name, "service")
    except ImportError:
        return None
    found = getattr(module, "SERVICE", None) if module is not None else None
    return found if isinstance(found, type) and issubclass(found, Service) else None


def load_service(name: str) -> type[Service]:
    if name in CORE_SERVICES:
        module, _, cls = CORE_SERVICES[name].partition(":")
        loaded = getattr(importlib.import_module(module), cls)
        assert issubclass(loaded, Service)
        return loaded
    found = _store_service(name)
    if found is None:
        raise KeyError(name)
    return found


def base_ports() -> dict[str, dict[str, int]]:
    """Every engine's well-known ports (service -> role -> port), from the service classes."""
    return {name: dict(load_service(name).base_ports) for name in service_names()}
