"""Finding adapters: every adapter, built-in or not, is an entry point in ``storagebench.adapters``."""

from __future__ import annotations

import importlib
import importlib.util
from functools import cache
from importlib.metadata import entry_points
from types import ModuleType

from storagebench.adapters.base import Adapter
from storagebench.errors import UsageError

GROUP = "storagebench.adapters"


@cache
def available() -> dict[str, str]:
    """name -> "module:Class" of every registered adapter."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


@cache
def load_adapter(name: str) -> type[Adapter]:
    """A registered adapter by name, or ``package.module:Class`` for one outside any distribution (test
    adapters that misbehave on purpose); worker processes and Spark tasks resolve it the same way."""
    if ":" in name:
        return _by_path(name)
    eps = {ep.name: ep for ep in entry_points(group=GROUP)}
    if name not in eps:
        raise UsageError(f"unknown adapter {name!r}; available: {', '.join(sorted(eps))} "
                         f"(see `storagebench list`)")
    try:
        cls = eps[name].load()
    except ImportError as exc:
        raise UsageError(f"adapter {name!r} cannot be loaded ({exc}); install its extra: "
                         f"pip install 'storagebench[{name}]'") from None
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise UsageError(f"entry point {name!r} does not name an Adapter subclass")
    return cls


def _by_path(name: str) -> type[Adapter]:
    module, _, attr = name.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise UsageError(f"adapter {name!r} cannot be loaded: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise UsageError(f"{name!r} does not name an Adapter subclass")
    return cls


def store_package(name: str) -> str:
    """The package that holds a registered store's folder: the entry point's module, one level up
    (``storagebench.adapters.postgres.adapter:PostgresAdapter`` -> ``storagebench.adapters.postgres``)."""
    value = available().get(name)
    if value is None:
        raise UsageError(f"unknown store {name!r}; available: {', '.join(sorted(available()))}")
    module = value.partition(":")[0]
    return module.rpartition(".")[0] or module


def store_module(name: str, part: str) -> ModuleType | None:
    """A store folder's ``part`` module (``service``, ``spark``, ...), or None when the folder has none."""
    package = store_package(name)
    try:
        if importlib.util.find_spec(f"{package}.{part}") is None:
            return None
    except ModuleNotFoundError:
        return None
    return importlib.import_module(f"{package}.{part}")
