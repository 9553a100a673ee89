"""Network profiles: the clients reach each engine through a Toxiproxy proxy that adds latency, jitter and
a bandwidth limit, so a ranking can be read at the round-trip time the architect will have.

:data:`PROFILES` is the one place for each profile's figures (recorded in every result file of a run that
uses one).  Toxiproxy (Apache-2.0, Go) is built from the Go module proxy by ``storagebench services up
toxiproxy`` and driven over its HTTP API.  A store opts in with ``Adapter.through_proxy``: it names the
endpoints its driver connects to and rewrites its options to the proxies' addresses; what its driver reaches
*beyond* those (HDFS DataNodes, Kudu tablet servers, Spark executors) is not covered, and the store says so.

Toxiproxy's latency is whole milliseconds per direction, so the smallest added round trip is 2 ms: the
``lan`` profile adds none (only the proxy's own hop, tens of microseconds) and limits bandwidth.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from storagebench.errors import ServiceError, UsageError
from storagebench.services.base import ProcessSpec, Service
from storagebench.services.build import go_binary, go_env
from storagebench.services.ports import HOST, local_ports

TOXIPROXY = "v2.5.0"
TOXIPROXY_PACKAGE = "github.com/Shopify/toxiproxy/v2/cmd/server"
BASE_PORTS: dict[str, int] = {"api": 8474}
PORTS = local_ports(BASE_PORTS)


@dataclass(frozen=True)
class Profile:
    """What a profile adds between every client and the engine."""

    name: str
    #: added per direction (so the round trip grows by twice this), whole ms (Toxiproxy's resolution)
    latency_ms: int
    jitter_ms: int
    #: per direction, KB/s (None: no limit)
    bandwidth_kb_s: int | None
    description: str

    @property
    def added_rtt_ms(self) -> int:
        return 2 * self.latency_ms


PROFILES: dict[str, Profile] = {
    "loopback": Profile("loopback", 0, 0, None, "clients and engine on one loopback interface (no proxy)"),
    "lan": Profile("lan", 0, 0, 125_000, "one data centre: a proxy hop, 1 Gbit/s each way, no added latency"),
    "cross-zone": Profile("cross-zone", 1, 0, 125_000,
                          "another availability zone: +2 ms round trip, 1 Gbit/s each way"),
    "cross-region": Profile("cross-region", 35, 3, 12_500,
                            "another region: +70 ms round trip (jitter 3 ms each way), 100 Mbit/s each way"),
}


def profile(name: str) -> Profile:
    if name not in PROFILES:
        raise UsageError(f"unknown network profile {name!r}; known: {', '.join(PROFILES)}")
    return PROFILES[name]


class ToxiproxyService(Service):
    name = "toxiproxy"
    base_ports = BASE_PORTS
    description = f"Toxiproxy {TOXIPROXY} (network profiles between clients and engines)"
    start_timeout = 30.0

    @property
    def binary(self) -> Path:
        return self.ctx.cache / "go" / f"toxiproxy-{TOXIPROXY}" / "server"

    def provision(self) -> None:
        if not self.binary.exists():
            env = {**go_env(self.ctx.cache), "GOBIN": str(self.binary.parent)}
            self.binary.parent.mkdir(parents=True, exist_ok=True)
            self.step(f"go install toxiproxy {TOXIPROXY} (about two minutes the first time)",
                      [go_binary(), "install", "-p", "1", "-trimpath",
                       f"-ldflags=-X github.com/Shopify/toxiproxy/v2.Version={TOXIPROXY}",
                       f"{TOXIPROXY_PACKAGE}@{TOXIPROXY}"],
                      cwd=self.binary.parent, env=env)

    def processes(self) -> list[ProcessSpec]:
        return [ProcessSpec("server", [str(self.binary), "-host", self.host, "-port", str(self.ports["api"])])]

    def probe(self) -> str:
        return f"Toxiproxy {Toxiproxy(self.endpoints()['api']).version()}"

    def endpoints(self) -> dict[str, Any]:
        return {"api": f"http://{self.host}:{self.ports['api']}"}


class Toxiproxy:
    """The HTTP API of a running Toxiproxy."""

    def __init__(self, api: str) -> None:
        self.api = api.rstrip("/")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.api}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json",
                                                  "User-Agent": "storagebench"})
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:
                text = reply.read()
        except urllib.error.HTTPError as exc:
            raise ServiceError(f"toxiproxy {method} {path}: {exc.code} {exc.read()[:200]!r}") from exc
        except OSError as exc:
            raise ServiceError(f"toxiproxy at {self.api} does not answer ({exc}); "
                               "start it with `storagebench services up toxiproxy`") from exc
        return json.loads(text) if text.strip() else None

    def version(self) -> str:
        request = urllib.request.Request(f"{self.api}/version", headers={"User-Agent": "storagebench"})
        with urllib.request.urlopen(request, timeout=5) as reply:
            text = reply.read().decode().strip()
        try:
            return str(json.loads(text).get("version", text))
        except ValueError:
            return text

    def proxy(self, name: str, upstream: str, chosen: Profile) -> tuple[str, int]:
        """A proxy to ``upstream`` (host:port) with the profile's toxics; returns where it listens."""
        if name in (self._call("GET", "/proxies") or {}):
            self._call("DELETE", f"/proxies/{name}")
        created = self._call("POST", "/proxies", {"name": name, "listen": f"{HOST}:0", "upstream": upstream,
                                                  "enabled": True})
        for stream in ("upstream", "downstream"):
            if chosen.latency_ms or chosen.jitter_ms:
                self._call("POST", f"/proxies/{name}/toxics", {
                    "name": f"latency_{stream}", "type": "latency", "stream": stream, "toxicity": 1.0,
                    "attributes": {"latency": chosen.latency_ms, "jitter": chosen.jitter_ms}})
            if chosen.bandwidth_kb_s:
                self._call("POST", f"/proxies/{name}/toxics", {
                    "name": f"bandwidth_{stream}", "type": "bandwidth", "stream": stream, "toxicity": 1.0,
                    "attributes": {"rate": chosen.bandwidth_kb_s}})
        host, _, port = str(created["listen"]).rpartition(":")
        return host or HOST, int(port)

    def remove(self, name: str) -> None:
        try:
            self._call("DELETE", f"/proxies/{name}")
        except ServiceError:
            pass


#: what a store's ``through_proxy`` gets: (upstream host, upstream port) -> (proxy host, proxy port)
Route = Callable[[str, int], tuple[str, int]]


def network_record(chosen: Profile, covered: str, not_covered: str) -> dict[str, Any]:
    """What a result file says about the network it was measured over."""
    return {**asdict(chosen), "added_rtt_ms": chosen.added_rtt_ms, "through": "toxiproxy " + TOXIPROXY
            if chosen.name != "loopback" else "loopback", "covered": covered, "not_covered": not_covered}


def proxied_url(url: str, route: Route) -> str:
    """``url`` with its host and port replaced by a proxy's (``scheme://host:port/rest``)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    if port is None:
        raise UsageError(f"{url}: give the port explicitly to run it under a network profile")
    host, port = route(parts.hostname or HOST, port)
    return urlunsplit(parts._replace(netloc=f"{host}:{port}"))
