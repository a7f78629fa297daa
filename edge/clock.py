"""Whether the wall clock can be trusted to stamp counts, and what a count needs so it can be put right.

A Raspberry Pi has no real-time clock: until NTP sets it (or for ever, at a door with no network) its time is
the last one saved at shutdown, and counts would land on the wrong day and hour. The kernel knows whether a
time service has synchronised the clock (``adjtimex``: not ``TIME_ERROR``, as ``timedatectl``'s
NTPSynchronized reads it). A count stamped before that also keeps the time since boot (``CLOCK_BOOTTIME``,
which counts through suspend) and the boot's id: once the clock is synchronised within the same boot, its true
time is that uptime plus the now-known offset between the two clocks (``edge.counts.CountStore.correct``).
"""

import ctypes
import ctypes.util
import logging
import time
import uuid
from pathlib import Path

log = logging.getLogger("edge-run")

TIME_ERROR = 5  # adjtimex's answer while the clock is not synchronised (STA_UNSYNC)
TIMEX_BYTES = 512  # struct timex is 208 bytes on 64-bit Linux; room to spare, only the return value is read
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
CHECK_EVERY = 10.0  # s between questions to the kernel while the clock is not synchronised


def kernel_synchronised() -> bool | None:
    """The kernel's word on the clock: True once a time service synchronised it, None when it cannot be asked
    (not Linux), so nothing is claimed."""
    path = ctypes.util.find_library("c")
    try:
        adjtimex = ctypes.CDLL(path, use_errno=True).adjtimex
    except (OSError, AttributeError):
        return None
    state = adjtimex(ctypes.create_string_buffer(TIMEX_BYTES))  # modes 0: read only, no privilege needed
    return None if state < 0 else state != TIME_ERROR


def boot_id() -> str | None:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return None


def uptime() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


class SystemClock:
    """``trust``: "auto" asks the kernel (again every CHECK_EVERY s until it says yes), "trusted" never asks (a
    battery-backed RTC, GPS time, a host that sets the clock). ``synchronised`` is injectable for tests."""

    def __init__(self, trust: str = "auto", synchronised=kernel_synchronised, monotonic=time.monotonic):
        self.trust, self._synchronised, self._monotonic = trust, synchronised, monotonic
        self._known: bool | None = True if trust == "trusted" else None
        self._asked = float("-inf")
        # Without /proc (a bare chroot) this run stands for the boot: its own counts can still be put right.
        self.boot = boot_id() or f"run-{uuid.uuid4()}"

    def trusted(self) -> bool:
        if self._known:
            return True
        now = self._monotonic()
        if now - self._asked >= CHECK_EVERY:
            self._asked = now
            self._known = self._synchronised() is not False
        return bool(self._known)

    def offset(self) -> float:
        """Wall time minus uptime: what turns a count's uptime into its wall time, once the clock is trusted."""
        return time.time() - uptime()
