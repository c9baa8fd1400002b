"""A byte ring in the iomem region, with free-running u32 HEAD and TAIL registers (see regs.py).

The simulator is the producer of the report ring and the consumer of the
command ring; the driver is the other side of each. Registers are read and
written as single aligned 32-bit words through numpy views, so each is one
load or store, and indices are published only after the data they cover.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..errors import SimulatorError

Buffer = npt.NDArray[np.uint8]
MASK32 = 0xFFFFFFFF


class Word:
    """One aligned little-endian u32 register in the shared buffer."""

    def __init__(self, buffer: Buffer, offset: int) -> None:
        if offset % 4:
            raise ValueError(f"register offset {offset:#x} is not 32-bit aligned")
        self._view = buffer[offset : offset + 4].view("<u4")

    def get(self) -> int:
        return int(self._view[0])

    def set(self, value: int) -> None:
        self._view[0] = value & MASK32


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
    def from_registers(
        cls, buffer: Buffer, base: Word, size: Word, head: Word, tail: Word, *, what: str
    ) -> Ring:
        """The ring the driver programmed; SimulatorError if it has not, or nonsensically."""
        ring_base, ring_size = base.get(), size.get()
        if ring_size == 0:
            raise SimulatorError(f"the driver has not set up the {what} ring: is it loaded?")
        if ring_size & (ring_size - 1) or ring_base + ring_size > len(buffer):
            raise SimulatorError(
                f"the {what} ring at {ring_base:#x}, {ring_size:#x} bytes, does not fit the "
                f"{len(buffer):#x}-byte region or is not a power of two"
            )
        return cls(buffer, ring_base, ring_size, head, tail)

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
