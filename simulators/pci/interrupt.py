"""The `Interrupt` a model signals through when it is served over PCI: an MSI of its function.

The function sees every access of the driver and re-checks the model's
`LevelInterrupt` after each (`PciFunction.interrupt`), so one MSI per
rising edge is all a level needs, as on the chip; and the driver's
write-1-to-clear arrives as an MMIO write, after which the function
notifies `changed`, so waiting for an acknowledgement costs no polling.
"""

from __future__ import annotations

from .function import PciFunction


class MsiInterrupt:
    """MSI vector `vector` (MSI-X, or 0 for MSI) of `function`."""

    sees_accesses = True

    def __init__(self, function: PciFunction, vector: int = 0) -> None:
        self.function = function
        self.vector = vector

    def raise_irq(self) -> bool:
        return self.function.raise_msi(self.vector)

    def pause(self, waited: float, limit: float) -> None:
        """Until the driver's next access (or `limit` seconds)."""
        changed = self.function.changed
        with changed:
            changed.wait(limit)

    def __str__(self) -> str:
        return f"MSI of PCI {self.function.name}"
