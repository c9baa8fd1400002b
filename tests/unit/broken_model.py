"""A user's PCI model with a bug in its constructor (for the tests of how that is reported)."""

from __future__ import annotations

from simulators.pci.function import PciFunction


class Broken(PciFunction):
    def __init__(self, when: str = "") -> None:
        raise RuntimeError("broken on purpose")
