"""Gate tests on real engines.

``require_engine("postgres")`` returns the adapter options for a running engine (from the endpoints
file that ``storagebench services up`` writes), after a real client round trip.  When the engine is
not there: with ``CI=true`` the test *fails* with what to do; locally it skips with the reason.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from storagebench.services import load_service
from storagebench.services.base import ServiceContext
from storagebench.services.manager import load_endpoints


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(name: str) -> str:
    """Why engine ``name`` cannot be used now ("" when it is up and answers its probe)."""
    ctx = ServiceContext(echo=lambda _msg: None)
    if load_endpoints(ctx.home).get(name) is None:
        return f"engine {name!r} is not up (no entry in the endpoints file)"
    try:
        load_service(name)(ctx).probe()
    except Exception as exc:
        return f"engine {name!r} does not answer: {exc}"
    return ""


def require_engine(name: str) -> dict[str, Any]:
    ctx = ServiceContext(echo=lambda _msg: None)
    endpoints = load_endpoints(ctx.home).get(name)
    reason = unavailable(name)
    if reason:
        message = f"{reason}; start it with `storagebench services up {name}`"
        if in_ci():
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    assert endpoints is not None
    return dict(endpoints)


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (a stopped engine must leave neither)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[-1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def reach_engine(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """From a test whose STORAGEBENCH_HOME is its own (``isolated_home``), reach the shared engine ``name``:
    its endpoints as environment options.  Embedded stores need nothing (their paths are the test's)."""
    from storagebench.registry import load_adapter

    if load_adapter(name).default_store:
        return
    home = os.environ["STORAGEBENCH_HOME"]
    monkeypatch.delenv("STORAGEBENCH_HOME")
    try:
        endpoints = require_engine(name)
    finally:  # a missing engine (a skip locally) leaves the test's own home in place for the next store
        monkeypatch.setenv("STORAGEBENCH_HOME", home)
    for option, value in endpoints.items():
        monkeypatch.setenv(f"STORAGEBENCH_{name.upper()}_{option.upper()}", str(value))
