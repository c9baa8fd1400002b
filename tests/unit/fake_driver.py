"""A stand-in for the guest driver, on the host: its interrupt socket and a handler thread.

The real driver binds a SOCK_DGRAM socket in the umid directory, and UML
runs its interrupt handler when a datagram arrives. Here a thread does the
same with a socket bound in a test's tmp_path, so the simulators can be
tested end to end without booting a guest.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import numpy as np

from simulators.regfile import RegisterFile
from simulators.rtl8111.regs import RTL8111, Intr
from simulators.thermo.regs import Ctrl, Status


class FakeDriver:
    """Receives interrupts at `path` and calls `handler` for each, after ignoring `ignore`."""

    def __init__(self, path: Path, handler: Callable[[], None], *, ignore: int = 0) -> None:
        self.path = path
        self.handler = handler
        self.ignore = ignore
        self.datagrams = 0
        self.handled = 0
        self._errors: list[BaseException] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.01)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._sock.recv(64)
            except TimeoutError:
                continue
            self.datagrams += 1
            if self.datagrams <= self.ignore:
                continue
            try:
                self.handler()
                self.handled += 1
            except BaseException as error:  # reported by stop(), in the test's thread
                self._errors.append(error)
                return

    def __enter__(self) -> FakeDriver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
        if self._errors and exc is None:
            raise self._errors[0]


class LinkHandler:
    """uh_rtl8111's interrupt handler, in Python: handle the unmasked events, then clear them.

    Like the driver it reads PHYstatus before it clears LinkChg (so that an
    acknowledged change has been seen); `clear_first` swaps the two, as
    r8169 on real hardware does.
    """

    def __init__(self, regs: RegisterFile, *, clear_first: bool = False, delay: float = 0) -> None:
        self.regs = regs
        self.clear_first = clear_first
        self.delay = delay  # seconds before handling: a slow guest
        self.seen: list[int] = []  # PHYstatus at each LinkChg handled
        self.swints = 0

    def __call__(self) -> None:
        time.sleep(self.delay)
        status = self.regs.read("IntrStatus") & self.regs.read("IntrMask")
        if self.clear_first and status:
            self.regs.clear_bits("IntrStatus", status)
        if status & Intr.LinkChg:
            self.seen.append(self.regs.read("PHYstatus"))
        if status & Intr.SWInt:
            self.swints += 1
        if not self.clear_first and status:
            self.regs.clear_bits("IntrStatus", status)


class AlertHandler:
    """uh_thermo's interrupt handler, in Python: clear ALERT, then read TEMP and THRESHOLD."""

    def __init__(self, regs: RegisterFile) -> None:
        self.regs = regs
        self.alerts: list[tuple[int, int]] = []  # (TEMP, THRESHOLD) of each alert reported

    def __call__(self) -> None:
        if not self.regs.any_set("STATUS", Status.ALERT):
            return
        self.regs.clear_bits("STATUS", Status.ALERT)
        reading, threshold = self.regs.read("TEMP"), self.regs.read("THRESHOLD")
        if reading > threshold:
            self.alerts.append((reading, threshold))

    def wait_for(self, count: int, timeout: float = 2.0) -> list[tuple[int, int]]:
        """The alerts, once `count` are in: the simulator returns when ALERT is cleared,
        which this handler does before it reads the registers, as the driver does."""
        deadline = time.monotonic() + timeout
        while len(self.alerts) < count and time.monotonic() < deadline:
            time.sleep(0.001)
        return self.alerts


def load_thermo(regs: RegisterFile, threshold: int = 8000) -> None:
    """The registers as uh_thermo leaves them once loaded (threshold in hundredths)."""
    regs.write("THRESHOLD", threshold)
    regs.write("CTRL", Ctrl.ENABLE | Ctrl.ALERT_IE)


def rtl8111_file(path: Path, *, size: int = 4096, loaded: bool = True) -> Path:
    """A zeroed iomem file for an RTL8111, IntrMask as uh_rtl8111 leaves it once loaded."""
    with path.open("wb") as handle:
        handle.truncate(size)
    if loaded:
        regs = RegisterFile(RTL8111, np.memmap(path, np.uint8, mode="r+"))
        regs.write("IntrMask", Intr.LinkChg | Intr.SWInt)
    return path
