"""The generic PCI test device: a model of uh_pcitest's device, for testing the PCI transport.

Its registers are in `regs.py`. Everything happens synchronously inside
the driver's write: a DMA command has moved its bytes when the write
returns, an IRQ_RAISE write has sent its interrupt.
"""

from __future__ import annotations

import threading
import zlib

import numpy as np
import numpy.typing as npt

from ..errors import SimulatorError
from ..pci.bars import RegisterBar
from ..pci.config_space import PciId
from ..pci.function import PciFunction
from ..pci.guest_memory import DmaError
from .regs import BAR_SIZE, DMA_MAX, ID_VALUE, PCITEST, VERSION_VALUE, DmaCmd, DmaStatus

VENDOR = 0x5548  # "UH"
DEVICE = 0x7401
MSIX_VECTORS = 4


# (i * 31) & 0xff for every offset a DMA can have; adding the seed wraps in uint8.
_STRIDE_31 = ((np.arange(DMA_MAX, dtype=np.uint32) * 31) & 0xFF).astype(np.uint8)


def pattern(length: int, seed: int) -> npt.NDArray[np.uint8]:
    """What FROM_DEVICE writes: byte i = (i * 31 + seed) & 0xff."""
    shifted: npt.NDArray[np.uint8] = _STRIDE_31[:length] + np.uint8(seed & 0xFF)
    return shifted


class PciTest(PciFunction):
    """Options: `irq` = msix (4 vectors) or msi (1)."""

    name = "pcitest"

    def __init__(self, irq: str = "msix") -> None:
        if irq not in ("msix", "msi"):
            raise SimulatorError(f"pcitest: irq={irq}: msix or msi")
        lock = threading.RLock()
        self.bar = RegisterBar(PCITEST, BAR_SIZE, lock, device="pcitest")
        super().__init__(
            PciId(VENDOR, DEVICE),
            {0: self.bar},
            msi=irq == "msi",
            msix_vectors=MSIX_VECTORS if irq == "msix" else 0,
            lock=lock,
        )
        self._irq = irq
        self.accum_sum = 0
        self.accum_count = 0
        self.last_dma = b""
        regs = self.bar.regs
        regs.write("ID", ID_VALUE)
        regs.write("VERSION", VERSION_VALUE)
        regs.read_only("ID", "VERSION", "DMA_CRC", "DMA_STATUS")
        regs.write_1_to_clear("IRQ_STATUS")
        regs.on_write("ACCUM", self._accumulate)
        regs.on_write("ACCUM_COUNT", self._reset_accum)
        regs.on_read("ACCUM_COUNT", self._show_count)
        regs.on_write("IRQ_RAISE", self._raise)
        regs.on_write("DMA_CMD", self._dma)

    def options(self) -> dict[str, str]:
        return {"irq": self._irq}

    # --- what tests call through the control socket ------------------------------

    def scratch(self) -> int:
        return self.bar.regs.read("SCRATCH32")

    def set_scratch(self, value: int) -> None:
        self.bar.regs.write("SCRATCH32", value)

    def accumulated(self) -> tuple[int, int]:
        """(writes, sum) that ACCUM received since the driver last reset it."""
        with self.lock:
            return self.accum_count, self.accum_sum

    def raise_vector(self, vector: int) -> bool:
        """Set IRQ_STATUS bit `vector` and raise that vector, as an IRQ_RAISE write does."""
        with self.lock:
            self.bar.regs.set_bits("IRQ_STATUS", 1 << vector)
            return self.raise_msi(vector if self.config.msix_enabled else 0)

    def last_dma_crc(self) -> int:
        return zlib.crc32(self.last_dma)

    def counters(self) -> dict[str, int]:
        return {"sent": self.interrupts_sent, "dropped": self.interrupts_dropped}

    # --- register side effects ------------------------------------------------------

    def _accumulate(self, old: int, new: int, mask: int) -> int:
        self.accum_count += 1
        self.accum_sum = (self.accum_sum + new) & 0xFFFFFFFF
        return self.accum_sum

    def _reset_accum(self, old: int, new: int, mask: int) -> int:
        self.accum_count = self.accum_sum = 0
        self.bar.regs.write("ACCUM", 0)
        return 0

    def _show_count(self) -> None:
        self.bar.regs.word("ACCUM_COUNT").set(self.accum_count)

    def _raise(self, old: int, new: int, mask: int) -> int:
        vector = new & 0xFF
        vectors = self.config.msix_vectors or 1
        if vector < 32:
            self.bar.regs.set_bits("IRQ_STATUS", 1 << vector)
        if vector < vectors:
            self.raise_msi(vector)
        return 0

    def _dma(self, old: int, new: int, mask: int) -> int:
        regs = self.bar.regs
        addr = regs.read("DMA_ADDR_LO") | regs.read("DMA_ADDR_HI") << 32
        length = regs.read("DMA_LEN")
        op = new & ~DmaCmd.IRQ_ON_DONE
        status = DmaStatus.DONE
        try:
            if not 0 < length <= DMA_MAX or op not in (DmaCmd.TO_DEVICE, DmaCmd.FROM_DEVICE):
                raise DmaError(f"DMA_CMD {new:#x} with DMA_LEN {length}")
            memory = self.memory()
            if op == DmaCmd.TO_DEVICE:
                self.last_dma = memory.read(addr, length)
            else:
                written = pattern(length, regs.read("DMA_SEED"))
                memory.write(addr, written.tobytes())
                self.last_dma = written.tobytes()
            regs.write("DMA_CRC", zlib.crc32(self.last_dma))
        except SimulatorError:
            status = DmaStatus.ERROR
        regs.write("DMA_STATUS", status)
        if new & DmaCmd.IRQ_ON_DONE:
            regs.set_bits("IRQ_STATUS", 1)
            self.raise_msi(0)
        return new
