"""The `Interrupt` a device model raises when it is served over PCI: a level, sent as MSIs.

Models written for the iomem transport (`Rtl8111`) set a status bit, raise
their interrupt and wait for the driver to clear the bit. Over PCI the
function turns its level (status & mask) into one MSI per rising edge, and
the driver's write-1-to-clear arrives as an MMIO write, after which the
function notifies `changed`; waiting on that costs no polling.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..errors import AckTimeout
from ..irq import DEFAULT_RESEND_INTERVAL, DEFAULT_TIMEOUT, ack_wait_bounds
from .function import PciFunction


class LevelInterrupt:
    def __init__(self, function: PciFunction) -> None:
        self.function = function

    def raise_irq(self) -> bool:
        self.function.update_interrupt()
        return True

    def raise_and_wait_ack(
        self,
        is_acked: Callable[[], bool],
        timeout: float = DEFAULT_TIMEOUT,
        resend_interval: float = DEFAULT_RESEND_INTERVAL,
        *,
        what: str = "",
    ) -> float:
        start, deadline = ack_wait_bounds(timeout, resend_interval)
        changed = self.function.changed
        with changed:
            self.raise_irq()
            while not is_acked():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AckTimeout(
                        f"the driver did not acknowledge interrupt {what or str(self)} within "
                        f"{timeout:g}s: is it loaded, its interface up and MSI enabled?"
                    )
                changed.wait(min(remaining, resend_interval))
                self.raise_irq()  # MSI enabled meanwhile: the level goes out now
        return time.monotonic() - start

    def __str__(self) -> str:
        return f"MSI of PCI {self.function.name}"
