"""The service manager without a real engine: pid files, readiness, stale pids, adopt, busy ports."""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from storagebench.errors import ServiceError
from storagebench.services.base import ProcessSpec, Service, ServiceContext
from storagebench.services.manager import Manager, load_endpoints


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Echo(Service):
    """A tiny TCP server in a child Python process: enough to exercise the manager for real."""

    name: ClassVar[str] = "echo"
    start_timeout: ClassVar[float] = 20.0

    def provision(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def processes(self) -> list[ProcessSpec]:
        code = ("import socket,sys;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
                f"s.bind(('127.0.0.1',{self.ports['tcp']}));s.listen()\n"
                "while True:\n c,_=s.accept();c.sendall(b'echo 1.0');c.close()")
        return [ProcessSpec("server", [sys.executable, "-c", code])]

    def probe(self) -> str:
        with socket.create_connection(("127.0.0.1", self.ports["tcp"]), timeout=1) as c:
            return c.recv(64).decode()

    def endpoints(self) -> dict[str, Any]:
        return {"port": self.ports["tcp"]}


@pytest.fixture
def manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Manager:
    monkeypatch.setattr(Echo, "base_ports", {"tcp": free_port()})
    return Manager(ServiceContext(home=tmp_path, echo=lambda _m: None), ["echo"], lambda _n: Echo)


def test_up_status_down_leaves_nothing(manager: Manager) -> None:
    assert manager.up(["echo"]) == {"echo": "echo 1.0"}
    assert load_endpoints(manager.ctx.home)["echo"]["port"] == Echo.base_ports["tcp"]
    (row,) = manager.status(["echo"])
    assert row["state"] == "up" and row["version"] == "echo 1.0" and row["rss_mib"] > 0
    pids = [p.pid for p in manager.processes("echo")]
    assert manager.up(["echo"]) == {"echo": "echo 1.0"}  # already up: reused, same pid
    assert [p.pid for p in manager.processes("echo")] == pids
    manager.down(["echo"])
    assert manager.processes("echo") == []
    assert not Path(f"/proc/{pids[0]}").exists() or "Z" in Path(f"/proc/{pids[0]}/stat").read_text().split()[2]
    assert "echo" not in load_endpoints(manager.ctx.home)


def test_busy_port_is_named(manager: Manager) -> None:
    port = Echo.base_ports["tcp"]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        with pytest.raises(ServiceError, match=f"port {port}"):
            manager.up(["echo"])


def test_crash_is_reported_and_up_restarts(manager: Manager) -> None:
    import os
    import signal

    manager.up(["echo"])
    (proc,) = manager.processes("echo")
    os.killpg(proc.pid, signal.SIGKILL)
    os.waitpid(proc.pid, 0)
    (row,) = manager.status(["echo"])
    assert row["state"].startswith("crashed")
    manager.up(["echo"])
    assert manager.status(["echo"])[0]["state"] == "up"
    manager.down(["echo"])


def test_stale_pid_file_never_kills_a_stranger(manager: Manager) -> None:
    import json
    import subprocess

    stranger = subprocess.Popen(["sleep", "30"])
    try:
        manager.ctx.run_dir.mkdir(parents=True)
        (manager.ctx.run_dir / "echo.server.pid").write_text(json.dumps({"pid": stranger.pid, "argv0": "python3"}))
        manager.down(["echo"])
        assert stranger.poll() is None  # a pid whose command line is not ours is left alone
    finally:
        stranger.kill()


def test_adopt_records_an_engine_started_elsewhere(manager: Manager, tmp_path: Path) -> None:
    other = Manager(ServiceContext(home=tmp_path / "elsewhere", echo=lambda _m: None), ["echo"], lambda _n: Echo)
    other.up(["echo"])  # stands in for `docker compose up`
    try:
        assert manager.adopt(["echo"]) == {"echo": "echo 1.0"}
        assert "echo" in load_endpoints(manager.ctx.home)
        assert manager.status(["echo"])[0]["state"] == "external (adopted)"
    finally:
        other.down(["echo"])
    with pytest.raises(ServiceError, match="no usable engine"):
        manager.adopt(["echo"])


class Broken(Echo):
    name: ClassVar[str] = "broken"

    def probe(self) -> str:
        raise PermissionError("password authentication failed")


def test_adopt_goes_on_past_a_failing_engine_and_names_the_cause(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Echo, "base_ports", {"tcp": free_port()})
    monkeypatch.setattr(Broken, "base_ports", {"tcp": free_port()})
    classes: dict[str, type[Service]] = {"broken": Broken, "echo": Echo}
    elsewhere = Manager(ServiceContext(home=tmp_path / "elsewhere", echo=lambda _m: None), ["echo"],
                        classes.__getitem__)
    elsewhere.up(["echo"])
    try:
        manager = Manager(ServiceContext(home=tmp_path / "here", echo=lambda _m: None), ["broken", "echo"],
                          classes.__getitem__)
        with pytest.raises(ServiceError) as failure:
            manager.adopt()
        message = str(failure.value)
        assert "broken" in message and "PermissionError: password authentication failed" in message
        assert "echo" in load_endpoints(manager.ctx.home), "the engine after the failing one is still adopted"
        assert "broken" not in load_endpoints(manager.ctx.home)
    finally:
        elsewhere.down(["echo"])
