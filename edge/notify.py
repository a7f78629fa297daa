"""sd_notify with the standard library: READY, WATCHDOG, STATUS and STOPPING for systemd.

A no-op when ``$NOTIFY_SOCKET`` is unset (not started by systemd with ``Type=notify``).
A socket path starting with ``@`` is in the abstract namespace.
"""

import logging
import os
import socket
import time

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, address: str | None = None, clock=time.monotonic):
        address = os.environ.get("NOTIFY_SOCKET") if address is None else address
        self._clock = clock
        self._socket = None
        self._address = None
        if address:
            self._address = "\0" + address[1:] if address.startswith("@") else address
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        # Ping at a quarter of the watchdog period (systemd advises half), at most once a second.
        watchdog_usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
        self.watchdog_interval = min(1.0, watchdog_usec / 4e6) if watchdog_usec else 1.0
        self._last_ping = float("-inf")

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def send(self, *fields: str) -> None:
        if self._socket is None:
            return
        try:
            self._socket.sendto("\n".join(fields).encode(), self._address)
        except OSError as exc:  # systemd gone or restarting: the service itself must go on
            log.debug("sd_notify %s failed: %s", fields, exc)

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}")

    def alive(self, status) -> None:
        """From the frame loop, after a processed frame: WATCHDOG=1 and STATUS=, throttled.

        ``status`` is a callable, so the text is only made when a message is due.
        """
        if self._socket is None:
            return
        now = self._clock()
        if now - self._last_ping >= self.watchdog_interval:
            self.send("WATCHDOG=1", f"STATUS={status()}")
            self._last_ping = now

    def stopping(self, status: str = "stopping") -> None:
        self.send("STOPPING=1", f"STATUS={status}")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
