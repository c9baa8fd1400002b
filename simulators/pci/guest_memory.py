"""The guest's memory as the frontend shares it (SET_MEM_TABLE): rings and DMA buffers.

UML sends one file descriptor per region of its physical memory; mapping
them shared lets the backend read the virtqueues and do DMA in place. A
DMA address is a UML-physical address (dma-direct, no IOMMU), in the same
space as the regions' `guest_addr`.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..closing import Closing
from ..errors import SimulatorError
from .vhost_user import MemRegion


class DmaError(SimulatorError):
    """An address range that is not in the guest memory the frontend shared."""


@dataclass
class _Mapped:
    region: MemRegion
    mm: mmap.mmap
    view: memoryview  # the region itself, from its guest_addr

    def contains(self, addr: int, length: int) -> bool:
        start = self.region.guest_addr
        return start <= addr and addr + length <= start + self.region.size


class GuestMemory(Closing):
    """The regions of a SET_MEM_TABLE, mapped; takes ownership of `fds`."""

    def __init__(self, regions: list[MemRegion], fds: list[int]) -> None:
        if len(fds) != len(regions):
            for fd in fds:
                os.close(fd)
            raise SimulatorError(f"SET_MEM_TABLE: {len(regions)} regions but {len(fds)} fds")
        self._mapped: list[_Mapped] = []
        #: Told of each `write` and `read` (a trace records them); views are not seen.
        self.on_write: Callable[[int, bytes], None] | None = None
        self.on_read: Callable[[int, bytes], None] | None = None
        # The common case, one region: its bounds and view, for a quick lookup.
        self._first: tuple[int, int, memoryview] | None = None
        try:
            for region, fd in zip(regions, fds, strict=True):
                mm = mmap.mmap(fd, region.mmap_offset + region.size, mmap.MAP_SHARED)
                view = memoryview(mm)[region.mmap_offset : region.mmap_offset + region.size]
                self._mapped.append(_Mapped(region, mm, view))
        finally:
            for fd in fds:
                os.close(fd)
        if self._mapped:
            first = self._mapped[0]
            start = first.region.guest_addr
            self._first = (start, start + first.region.size, first.view)

    def main_region(self) -> tuple[int, int, memoryview]:
        """(first address, end, view) of the first region, where rings and buffers live."""
        if self._first is None:
            raise DmaError("no guest memory is mapped")
        return self._first

    @property
    def regions(self) -> list[MemRegion]:
        return [mapped.region for mapped in self._mapped]

    def slice(self, addr: int, length: int) -> memoryview:
        """`length` bytes at guest-physical `addr`, in place (writes reach the guest)."""
        first = self._first
        if first is not None and first[0] <= addr and addr + length <= first[1]:
            offset = addr - first[0]
            return first[2][offset : offset + length]
        for mapped in self._mapped:
            if mapped.contains(addr, length):
                start = addr - mapped.region.guest_addr
                return mapped.view[start : start + length]
        raise DmaError(
            f"DMA to {addr:#x}+{length:#x} is outside guest memory ("
            + ", ".join(f"{m.region.guest_addr:#x}+{m.region.size:#x}" for m in self._mapped)
            + ")"
        )

    def array(self, addr: int, length: int) -> npt.NDArray[np.uint8]:
        """The same bytes as a numpy view, for models that compute over DMA buffers."""
        return np.frombuffer(self.slice(addr, length), dtype=np.uint8)

    def read(self, addr: int, length: int) -> bytes:
        data = bytes(self.slice(addr, length))
        if self.on_read is not None:
            self.on_read(addr, data)
        return data

    def write(self, addr: int, data: bytes) -> None:
        self.slice(addr, len(data))[:] = data
        if self.on_write is not None:
            self.on_write(addr, data)

    def close(self) -> None:
        self._first = None
        for mapped in self._mapped:
            mapped.view.release()
            # Someone may still hold a view (a model's DMA array, a request
            # being answered): then the mapping goes when the last view does.
            with contextlib.suppress(BufferError):
                mapped.mm.close()
        self._mapped.clear()
