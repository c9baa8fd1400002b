"""A byte ring in the iomem region, with free-running u32 HEAD and TAIL registers (see regs.py).

The simulator is the producer of the report ring and the consumer of the
command ring; the driver is the other side of each. Registers are read and
written as single aligned 32-bit words (the register file's `Word`s), so
each is one load or store, and indices are published only after the data
they cover.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..errors import SimulatorError
from ..regfile import RegisterFile, Word

Buffer = npt.NDArray[np.uint8]
MASK32 = 0xFFFFFFFF


@dataclass(frozen=True)
class RingRegisters:
    """A ring's BASE, SIZE, HEAD and TAIL registers (`prefix`_BASE...), looked up once."""

    base: Word
    size: Word
    head: Word
    tail: Word

    @classmethod
    def named(cls, regs: RegisterFile, prefix: str) -> RingRegisters:
        return cls(*(regs.word(f"{prefix}_{name}") for name in ("BASE", "SIZE", "HEAD", "TAIL")))


@dataclass
class Ring:
    """`size` bytes at `base` in `buffer`; `head` is the producer's index register, `tail` the
    consumer's (the device produces reports and consumes commands)."""

    buffer: Buffer
    base: int
    size: int
    head: Word
    tail: Word

    @classmethod
    def from_registers(cls, buffer: Buffer, regs: RingRegisters, *, what: str) -> Ring | None:
        """The ring the driver programmed; None while it has not (a size of 0).

        SimulatorError if it did nonsensically.
        """
        ring_base, ring_size = regs.base.get(), regs.size.get()
        if ring_size == 0:
            return None
        if ring_size & (ring_size - 1) or ring_base + ring_size > len(buffer):
            raise SimulatorError(
                f"the {what} ring at {ring_base:#x}, {ring_size:#x} bytes, does not fit the "
                f"{len(buffer):#x}-byte region or is not a power of two"
            )
        return cls(buffer, ring_base, ring_size, regs.head, regs.tail)

    def used(self) -> int:
        return (self.head.get() - self.tail.get()) & MASK32

    def free(self) -> int:
        return self.size - self.used()

    def write(self, position: int, data: Buffer) -> None:
        """Copy `data` (flat bytes) to free-running `position`, wrapping at the ring's end."""
        offset = position & (self.size - 1)
        first = min(len(data), self.size - offset)
        start = self.base + offset
        self.buffer[start : start + first] = data[:first]
        if first < len(data):
            self.buffer[self.base : self.base + len(data) - first] = data[first:]

    def read(self, position: int, length: int) -> bytes:
        offset = position & (self.size - 1)
        first = min(length, self.size - offset)
        start = self.base + offset
        data = self.buffer[start : start + first].tobytes()
        if first < length:
            data += self.buffer[self.base : self.base + length - first].tobytes()
        return data
