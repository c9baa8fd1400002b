"""What sits behind a BAR: the small read/write interface every BAR implements, and two kinds.

`RegisterBar` is a model's register file (`simulators/regfile.py`), whose
hooks give registers their side effects (write-1-to-clear, a self-clearing
reset bit, a doorbell). `MemoryBar` is plain memory. Both take any access
width, including the `memcpy_fromio`/`memset_io` lengths.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import SimulatorError
from ..regfile import RegisterFile


class Bar(abc.ABC):
    """One memory BAR of a device: `size` bytes, accessed at byte offsets."""

    size: int

    @abc.abstractmethod
    def read(self, offset: int, size: int) -> bytes:
        """The `size` bytes at `offset` (the driver's readX or memcpy_fromio)."""

    @abc.abstractmethod
    def write(self, offset: int, data: bytes) -> None:
        """Store `data` at `offset` (the driver's writeX or memcpy_toio)."""

    def memset(self, offset: int, value: int, count: int) -> None:
        self.write(offset, bytes([value]) * count)


class MemoryBar(Bar):
    """Plain memory: what is written reads back."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.raw = bytearray(size)

    def read(self, offset: int, size: int) -> bytes:
        return bytes(self.raw[offset : offset + size])

    def write(self, offset: int, data: bytes) -> None:
        self.raw[offset : offset + len(data)] = data


class RegisterBar(Bar):
    """A BAR holding a register file (from offset 0), `size` bytes in all.

    The driver's accesses are the register file's bus accesses: its hooks
    (`regs.on_write`, `regs.write_1_to_clear`...) decide what they do.
    Beyond the register map the BAR is plain memory.

    `on_unmapped(kind, offset, size)`, when set (strict mode), is told of each
    access ("read"/"write") that covers a byte no register owns; the access
    is carried out all the same.
    """

    on_unmapped: Callable[[str, int, int], None] | None = None

    def __init__(self, layout: Any, size: int, lock: threading.RLock, *, device: str) -> None:
        self.size = size
        self.regs = RegisterFile(layout, np.zeros(size, np.uint8), device=device, lock=lock)
        if self.regs.size > size:
            raise SimulatorError(
                f"{device}: register map of {self.regs.size} bytes in a {size}-byte BAR"
            )

    def read(self, offset: int, size: int) -> bytes:
        if self.on_unmapped is not None and self.regs.unmapped(offset, size):
            self.on_unmapped("read", offset, size)
        return self.regs.bus_read(offset, size)

    def write(self, offset: int, data: bytes) -> None:
        if self.on_unmapped is not None and self.regs.unmapped(offset, len(data)):
            self.on_unmapped("wrote", offset, len(data))
        self.regs.bus_write(offset, data)
