"""Cooperative clients (storagebench.running.coop): clients sharing one thread each wait on their own socket."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from storagebench.workloads.spec import resolve

from storagebench.running import coop
from storagebench.running.runner import PhasePlan, client_layout


def test_clients_sharing_a_thread_wait_at_the_same_time() -> None:
    """Two clients, each waiting for an answer on its own socket: the second sends its request while the
    first is still waiting, and each answer wakes the client it is for."""
    a, a_server = socket.socketpair()
    b, b_server = socket.socketpair()
    events: list[str] = []

    def client(name: str, sock: socket.socket) -> None:
        sock.send(name.encode())
        events.append(f"{name} waits")
        coop.wait_readable(sock.fileno())
        events.append(f"{name} got {sock.recv(16).decode()}")

    def server() -> None:  # answers b first, then a: the order the clients wake in must follow
        for sock in (b_server, a_server):
            request = sock.recv(16)
            time.sleep(0.05)
            sock.send(request.upper())

    answering = threading.Thread(target=server)
    answering.start()
    coop.Hub().run([lambda: client("a", a), lambda: client("b", b)])
    answering.join()
    assert events == ["a waits", "b waits", "b got B", "a got A"]
    assert coop.current() is None  # the hub is gone once its clients have returned


def test_sleeping_clients_of_one_thread_sleep_at_the_same_time() -> None:
    woke: list[str] = []

    def sleeper(name: str, seconds: float) -> None:
        coop.sleep(seconds)
        woke.append(name)

    t0 = time.monotonic()
    coop.Hub().run([lambda: sleeper("long", 0.3), lambda: sleeper("short", 0.1), lambda: sleeper("now", 0)])
    took = time.monotonic() - t0
    assert woke == ["now", "short", "long"]
    assert 0.3 <= took < 0.38, took  # together, not 0.4 s one after the other


def test_outside_a_hub_the_waits_block_the_calling_thread() -> None:
    a, b = socket.socketpair()
    threading.Timer(0.1, lambda: b.send(b"x")).start()
    t0 = time.monotonic()
    coop.wait_readable(a.fileno())
    assert time.monotonic() - t0 >= 0.09 and a.recv(1) == b"x"
    t0 = time.monotonic()
    coop.sleep(0.05)
    assert time.monotonic() - t0 >= 0.05


def test_two_clients_waiting_on_one_socket_is_refused() -> None:
    a, _b = socket.socketpair()
    errors: list[str] = []

    def waiter() -> None:
        try:
            coop.wait_readable(a.fileno())
        except RuntimeError as exc:
            errors.append(str(exc))

    def closer() -> None:
        coop.sleep(0.05)
        _b.send(b"x")

    coop.Hub().run([waiter, waiter, closer])
    assert errors == [f"two clients wait on socket {a.fileno()}"]


@pytest.mark.parametrize(("clients", "cores", "cooperative", "processes"), [
    (4, 2, True, 2), (4, 2, False, 4), (1, 2, True, 1), (8, 2, False, 4), (3, 4, True, 3)])
def test_cooperative_clients_get_at_most_a_process_per_core(
        clients: int, cores: int, cooperative: bool, processes: int) -> None:
    assert client_layout(clients, cores=cores, cooperative=cooperative) == (processes, clients)


def test_the_layout_records_whether_clients_share_threads() -> None:
    spec = resolve("c", {"recordcount": 10})
    shared = PhasePlan("null", {}, spec, "run", "ns", 1, processes=2, clients=4, cooperative=True)
    assert shared.layout()["clients_share"] == "greenlets" and shared.placement().cooperative
    alone = PhasePlan("null", {}, spec, "run", "ns", 1, processes=2, clients=2, cooperative=True)
    assert alone.layout()["clients_share"] == "threads" and not alone.placement().cooperative  # one each
    spark = PhasePlan("null", {}, spec, "run", "ns", 1, processes=1, clients=4, cooperative=True, engine="spark")
    assert not spark.placement().cooperative
