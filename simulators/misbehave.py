"""Faults from the device's side: what real hardware rarely does, on demand.

Every model has one, `model.misbehave`, and the calls are the same on every
transport (over PCI they reach the backend's model through the control
socket, like any other call):

- `gone()` / `back()`: the device stops answering, as one pulled out or
  dead does: every register reads all-ones. Over PCI the driver's reads
  are answered so and its writes go nowhere; on iomem the driver reads the
  region itself, so the region is filled with all-ones and put back as it
  was by `back()` (what the model wrote meanwhile is lost).
- `drop_interrupts(count)`: the next `count` interrupt messages are lost on
  the way; the device believes it signalled. An MSI lost is lost until the
  next one; an iomem line is a level, re-sent while it stays asserted.
- `slow_reads(seconds)`: every register read is answered `seconds` late
  (0: on time again). PCI only: on iomem the driver reads the region
  itself. Later than the kernel waits (40 ms on Linux 6.1, `--pci-timeout`
  on 6.3 and later), virt-pci WARNs and the read gets all-ones.
- `spurious_interrupts(count)`: messages with no cause set. Many of them
  are a storm: Linux disables an interrupt that nobody handled 99,900
  times out of 100,000 ("irq N: nobody cared"), which the harness reports.
- `lose_dma(count)`, `short_dma(count)`: the device's next `count` writes
  to the driver's memory go to an address the driver never mapped, blocked
  there as an IOMMU blocks them (the driver's buffer never gets them), or
  stop half-way (the rest of the buffer keeps what it held). PCI only: an
  iomem device has no DMA.

docs/faults.md shows what r8169 and uh_rtl8111 do with each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .errors import SimulatorError

#: Longer than any kernel waits for a register (6.3+ waits --pci-timeout).
MAX_READ_DELAY = 60.0

if TYPE_CHECKING:
    from .device import DeviceModel, Dma


class Misbehaviour:
    """The faults `model` can be made to show (see the module docstring)."""

    def __init__(self, model: DeviceModel) -> None:
        self._model = model
        self._saved: np.ndarray | None = None

    def gone(self) -> None:
        """Every register reads all-ones until `back()`."""
        regs = self._model.regs
        with regs.lock:
            if regs.absent:
                return
            regs.absent = True
            if not self._sees_accesses():
                self._saved = regs.buffer.copy()
                regs.buffer[:] = 0xFF

    def back(self) -> None:
        """The device answers again, its registers as they were when it went."""
        regs = self._model.regs
        with regs.lock:
            if not regs.absent:
                return
            regs.absent = False
            if self._saved is not None:
                regs.buffer[:] = self._saved
                self._saved = None

    def is_gone(self) -> bool:
        """Whether `gone()` is in force (a method, so that it works over PCI's proxy too)."""
        return self._model.regs.absent

    def slow_reads(self, seconds: float) -> None:
        """Answer every register read `seconds` late (0: on time)."""
        if not 0 <= seconds <= MAX_READ_DELAY:
            raise SimulatorError(f"a read delay is 0 to {MAX_READ_DELAY:g} seconds, not {seconds}")
        if not self._sees_accesses():
            raise SimulatorError(
                "slow_reads: on iomem the driver reads the region itself; "
                "only a transport that answers reads (PCI) can answer late"
            )
        self._model.regs.read_delay = seconds

    def drop_interrupts(self, count: int = 1) -> None:
        """Lose the next `count` interrupt messages."""
        self._model.interrupt.drop(count)

    def spurious_interrupts(self, count: int = 1) -> int:
        """Send `count` interrupts with no cause set; how many went out."""
        if count > 1_000_000:
            raise SimulatorError("at most 1,000,000 spurious interrupts at a time")
        return self._model.interrupt.spurious(count)

    def lose_dma(self, count: int = 1) -> None:
        """The next `count` DMA writes never reach the driver's memory."""
        self._faulty_dma().lose += count

    def short_dma(self, count: int = 1) -> None:
        """The next `count` DMA writes stop half-way through."""
        self._faulty_dma().shorten += count

    def dma_faults_left(self) -> int:
        """DMA writes still to be lost or cut short."""
        dma = self._model.dma
        return dma.lose + dma.shorten if isinstance(dma, FaultyDma) else 0

    def dma_faulted(self) -> list[tuple[str, int, int]]:
        """The writes lost or cut short so far: ("lost" or "short", address, length)."""
        dma = self._model.dma
        return list(dma.faulted) if isinstance(dma, FaultyDma) else []

    def _faulty_dma(self) -> FaultyDma:
        model = self._model
        if model.dma is None:
            raise SimulatorError("DMA faults: this transport gives the device no DMA (iomem)")
        if not isinstance(model.dma, FaultyDma):
            model.dma = FaultyDma(model.dma)
        return model.dma

    def _sees_accesses(self) -> bool:
        line = self._model.interrupt.line
        return line is not None and line.sees_accesses


class FaultyDma:
    """The model's DMA, with writes lost or cut short on demand (see the module docstring)."""

    def __init__(self, inner: Dma) -> None:
        self.inner = inner
        self.lose = 0
        self.shorten = 0
        self.faulted: list[tuple[str, int, int]] = []

    def dma_read(self, address: int, length: int) -> bytes:
        return self.inner.dma_read(address, length)

    def dma_write(self, address: int, data: bytes) -> None:
        if self.lose:
            self.lose -= 1
            self.faulted.append(("lost", address, len(data)))
            return
        if self.shorten and len(data) > 1:
            self.shorten -= 1
            self.faulted.append(("short", address, len(data)))
            data = data[: len(data) // 2]
        self.inner.dma_write(address, data)
