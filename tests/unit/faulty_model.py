"""Users' models with a bug in a register hook (for the tests of how that is reported)."""

from __future__ import annotations

import threading
import time

from simulators.pcitest.model import PciTest
from simulators.thermo.model import Thermo


class FaultyPciTest(PciTest):
    """pcitest, except that a write to IRQ_RAISE divides by zero."""

    def _raise(self, old: int, new: int, mask: int) -> int:
        return new // 0


class FaultyThermo(Thermo):
    """thermo, except that its THRESHOLD write hook divides by zero.

    Over iomem no guest access reaches a hook, so a thread of the model runs
    the hook when it sees THRESHOLD change (the driver wrote it).
    """

    def setup(self) -> None:
        super().setup()
        self.regs.on_write("THRESHOLD", self._threshold_written)
        # Read here, not in the thread: a write right after the model is built counts.
        self._threshold = self.regs.read("THRESHOLD")
        self.start_thread(self._watch_threshold, "threshold-watch")

    def _threshold_written(self, old: int, new: int, mask: int) -> int:
        return new // 0

    def _watch_threshold(self, stopping: threading.Event) -> None:
        before = self._threshold
        while not stopping.wait(0.01):
            now = self.regs.read("THRESHOLD")
            if now != before:
                self._threshold_written(before, now, 0xFFFF)
            before = now


class SlowPciTest(PciTest):
    """pcitest, except that reading ACCUM_COUNT takes 0.3 s (a model under load)."""

    def _show_count(self) -> None:
        time.sleep(0.3)
        super()._show_count()
