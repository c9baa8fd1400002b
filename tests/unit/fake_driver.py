"""Python copies of this project's drivers' interrupt handlers, for `FakeDriver`
(`umlharness.testing`, the stand-in for the guest driver on the host), and
iomem files as the drivers leave them once loaded.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from simulators.regfile import RegisterFile
from simulators.rtl8111.regs import RTL8111, Intr
from simulators.thermo.regs import Ctrl, Status


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
