"""A user's PCI model with a bug in a register hook (for the tests of how that is reported)."""

from __future__ import annotations

from simulators.pcitest.model import PciTest


class FaultyPciTest(PciTest):
    """pcitest, except that a write to IRQ_RAISE divides by zero."""

    def _raise(self, old: int, new: int, mask: int) -> int:
        return new // 0
