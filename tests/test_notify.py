import socket

import pytest

from edge.notify import Notifier


@pytest.fixture
def listener(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify.sock"
    sock.bind(str(path))
    sock.settimeout(2)
    yield sock, str(path)
    sock.close()


def test_messages_and_watchdog_throttle(listener, monkeypatch):
    sock, path = listener
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    now = [0.0]
    notifier = Notifier(path, clock=lambda: now[0])
    assert notifier.watchdog_interval == 0.5
    notifier.ready("starting")
    notifier.alive(lambda: "fps=1")
    now[0] = 0.2
    notifier.alive(lambda: "fps=2")  # within the interval: nothing sent
    now[0] = 0.6
    notifier.alive(lambda: "fps=3")
    notifier.stopping()
    received = [sock.recv(4096).decode() for _ in range(4)]
    assert received == ["READY=1\nSTATUS=starting", "WATCHDOG=1\nSTATUS=fps=1", "WATCHDOG=1\nSTATUS=fps=3",
                        "STOPPING=1\nSTATUS=stopping"]


def test_abstract_namespace_socket():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"maskwatch-test-{id(sock)}"
    sock.bind("\0" + name)
    sock.settimeout(2)
    Notifier("@" + name).ready("up")
    assert sock.recv(4096) == b"READY=1\nSTATUS=up"
    sock.close()


def test_without_notify_socket_it_does_nothing(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier()
    assert not notifier.enabled
    notifier.ready("x")
    notifier.stopping()
