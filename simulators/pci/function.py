"""The device model API: a PCI function with its identity, BARs, interrupts and DMA.

A model subclasses `PciFunction`: it passes its IDs and BARs (usually
`RegisterBar`s, a register file whose hooks give accesses their side
effects), and calls `raise_msi(vector)` and `memory()` (DMA) from those
hooks or from its own methods. The backend (`backend.py`) feeds it
the driver's accesses, one at a time and in order, holding `lock`;
anything else that touches the model (a control command from `sim`, say)
takes the same lock.

Interrupts are MSI or MSI-X: virt-pci does not deliver INTx (6.1 and 6.12
alike, tests/integration/test_pci_intx.py). A model whose interrupt is a
level (status & mask, as most NICs) sets `interrupt` to its
`LevelInterrupt` (simulators/irq.py) over an `MsiInterrupt`: one MSI goes
out on each rising edge, as the chip's MSI logic does, re-checked after
every access the driver makes and whenever the model calls
`update_interrupt()`.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable, Mapping

from ..errors import SimulatorError
from ..irq import LevelInterrupt
from .bars import Bar, MemoryBar
from .config_space import (
    MSIX_BAR_SIZE,
    MSIX_PBA_OFFSET,
    MSIX_TABLE_OFFSET,
    ConfigSpace,
    PciId,
)
from .guest_memory import GuestMemory
from .pcidev import msi_message

MSIX_ENTRY = struct.Struct("<IIII")  # address low, address high, data, vector control
MSIX_ENTRY_MASKED = 0x1
#: Sends one interrupt message (virtio_pcidev MSI op) to the driver; set by the backend.
IrqSender = Callable[[bytes], None]


class NoDmaError(SimulatorError):
    """DMA before the frontend shared its memory (the device is not attached yet)."""


class PciFunction:
    """A PCI device model. Subclasses give IDs, BARs and behaviour; see the module docstring."""

    #: Model name as `--pci NAME` spells it; subclasses set it.
    name = "pci"

    @property
    def chip(self) -> object:
        """The device model the control socket serves (what `sim` and fixtures call):
        this function itself, or the chip model a PCI adapter wraps."""
        return self

    def __init__(
        self,
        ident: PciId,
        bars: Mapping[int, Bar],
        *,
        msi: bool = True,
        msix_vectors: int = 0,
        msix_bar: int = 4,
        lock: threading.RLock | None = None,
    ) -> None:
        if not msi and not msix_vectors:
            raise SimulatorError(
                f"{type(self).__name__}: a model needs MSI or MSI-X; INTx does not work "
                "over UML's virt-pci in 6.1 or 6.12 (request_irq fails with -ENOSYS)"
            )
        self.lock = lock or threading.RLock()
        #: Notified after each access of the driver (holding `lock`).
        self.changed = threading.Condition(self.lock)
        self.bars: dict[int, Bar] = dict(bars)
        if msix_vectors:
            if msix_bar in self.bars:
                raise SimulatorError(f"BAR{msix_bar} holds the MSI-X table; use another BAR")
            self.bars[msix_bar] = MemoryBar(MSIX_BAR_SIZE)
        self.msix_bar = msix_bar if msix_vectors else None
        self.config = ConfigSpace(
            ident,
            {index: bar.size for index, bar in self.bars.items()},
            msi=msi,
            msix_vectors=msix_vectors,
            msix_bar=self.msix_bar,
        )
        self.dma: GuestMemory | None = None
        self.send_irq: IrqSender | None = None
        #: The model's level interrupt, if it has one: re-checked after every access.
        self.interrupt: LevelInterrupt | None = None
        self.interrupts_sent = 0
        self.interrupts_dropped = 0
        self._msix_pending = 0

    # --- for models ---------------------------------------------------------

    def memory(self) -> GuestMemory:
        """The guest memory, for DMA (`read`, `write`, `array` at DMA addresses)."""
        if self.dma is None:
            raise NoDmaError("no guest memory yet: the frontend has not attached the device")
        return self.dma

    def dma_read(self, address: int, length: int) -> bytes:
        """Guest memory at a DMA address: the `Dma` the function gives a chip model."""
        return self.memory().read(address, length)

    def dma_write(self, address: int, data: bytes) -> None:
        self.memory().write(address, data)

    def raise_msi(self, vector: int = 0) -> bool:
        """Send interrupt `vector`; False if the driver has not enabled it (it is dropped).

        MSI-X: a masked vector stays pending (PBA) until the driver unmasks it.
        MSI has one vector, 0.
        """
        with self.lock:
            config = self.config
            if config.msix_enabled:
                if not 0 <= vector < config.msix_vectors:
                    raise SimulatorError(
                        f"MSI-X vector {vector}: the device has {config.msix_vectors}"
                    )
                _, _, data, control = self._msix_entry(vector)
                if config.msix_function_masked or control & MSIX_ENTRY_MASKED:
                    self._set_pending(vector, True)
                    return True
                return self._send(msi_message(data, msix=True))
            if config.msi_enabled:
                if vector != 0:
                    raise SimulatorError(f"MSI vector {vector}: MSI has one vector here, 0")
                return self._send(msi_message(config.msi_data, msix=False))
            self.interrupts_dropped += 1
            return False

    def update_interrupt(self) -> None:
        """Send an MSI if the model's level rose since the last one (see the module docstring)."""
        interrupt = self.interrupt
        if interrupt is not None:
            interrupt.update()

    def reset(self) -> None:
        """Back to power-on state; models extend this."""

    def options(self) -> dict[str, str]:
        """The options the model was made with, as `--pci NAME,key=value` would give them."""
        return {}

    def step(self, index: int) -> None:
        """The guest starts command `index` of a workload (a replay acts on it)."""

    # --- for the backend ------------------------------------------------------

    def cfg_read(self, offset: int, size: int) -> bytes:
        return self.config.read(offset, size)

    def cfg_write(self, offset: int, data: bytes) -> None:
        with self.lock:
            self.config.write(offset, data)
            if self.msix_bar is not None:
                self._msix_written()  # clearing the function mask delivers what is pending
            self.update_interrupt()
            self.changed.notify_all()

    def mmio_read(self, index: int, offset: int, size: int) -> bytes:
        bar = self._bar(index, offset, size)
        if bar is None:
            return b"\xff" * size
        with self.lock:
            return bar.read(offset, size)

    def mmio_write(self, index: int, offset: int, data: bytes) -> None:
        bar = self._bar(index, offset, len(data))
        if bar is None:
            return
        with self.lock:
            bar.write(offset, data)
            if index == self.msix_bar:
                self._msix_written()
            self.update_interrupt()
            self.changed.notify_all()

    def mmio_memset(self, index: int, offset: int, value: int, count: int) -> None:
        bar = self._bar(index, offset, count)
        if bar is not None:
            with self.lock:
                bar.memset(offset, value, count)
                self.update_interrupt()
                self.changed.notify_all()

    # --- internals --------------------------------------------------------------

    def _bar(self, index: int, offset: int, size: int) -> Bar | None:
        bar = self.bars.get(index)
        if bar is None or offset < 0 or offset + size > bar.size:
            return None
        return bar

    def _send(self, message: bytes) -> bool:
        if self.send_irq is None:
            self.interrupts_dropped += 1
            return False
        self.send_irq(message)
        self.interrupts_sent += 1
        return True

    def _msix_entry(self, vector: int) -> tuple[int, int, int, int]:
        assert self.msix_bar is not None
        raw = self.bars[self.msix_bar].read(
            MSIX_TABLE_OFFSET + MSIX_ENTRY.size * vector, MSIX_ENTRY.size
        )
        low, high, data, control = MSIX_ENTRY.unpack(raw)
        return low, high, data, control

    def _set_pending(self, vector: int, pending: bool) -> None:
        if pending:
            self._msix_pending |= 1 << vector
        else:
            self._msix_pending &= ~(1 << vector)
        assert self.msix_bar is not None
        pba = self._msix_pending.to_bytes(8, "little")
        self.bars[self.msix_bar].write(MSIX_PBA_OFFSET, pba)

    def _msix_written(self) -> None:
        """The driver wrote the MSI-X table: deliver what it unmasked while pending."""
        config = self.config
        if not self._msix_pending or not config.msix_enabled or config.msix_function_masked:
            return
        for vector in range(self.config.msix_vectors):
            if not self._msix_pending & (1 << vector):
                continue
            _, _, data, control = self._msix_entry(vector)
            if not control & MSIX_ENTRY_MASKED:
                self._set_pending(vector, False)
                self._send(msi_message(data, msix=True))
