"""Guest memory for PCI unit tests: a sparse memfd laid out like UML's, and split rings in it."""

from __future__ import annotations

import os
import struct

from simulators.pci.guest_memory import GuestMemory
from simulators.pci.vhost_user import MemRegion, VringAddr
from simulators.pci.virtqueue import DESC, SplitVirtqueue

GUEST_ADDR = 0x34460000  # where UML's physical memory started in the recorded session
SIZE = 16 << 20


def guest_memory(size: int = SIZE) -> GuestMemory:
    """`size` bytes of guest memory at GUEST_ADDR, mapped the way UML shares it (offset = addr)."""
    fd = os.memfd_create("uml-physmem")
    os.ftruncate(fd, GUEST_ADDR + size)
    return GuestMemory([MemRegion(GUEST_ADDR, size, GUEST_ADDR, GUEST_ADDR)], [fd])


class DriverRing:
    """The driver's side of one split virtqueue, to feed a device-side SplitVirtqueue."""

    def __init__(self, memory: GuestMemory, index: int, num: int = 256) -> None:
        self.memory = memory
        self.num = num
        base = GUEST_ADDR + 0x100000 * (index + 1)
        self.desc, self.avail, self.used = base, base + 0x4000, base + 0x8000
        self.data = base + 0x10000
        self.next_desc = 0
        self.avail_idx = 0
        self.addr = VringAddr(index, 0, self.desc, self.used, self.avail, 0)

    def queue(self) -> SplitVirtqueue:
        queue = SplitVirtqueue(self.addr.index)
        queue.set_num(self.num)
        queue.set_addr(self.memory, self.addr)
        queue.enabled = True
        return queue

    def add(self, outs: list[bytes], in_sizes: list[int] = ()) -> tuple[int, list[int]]:  # type: ignore[assignment]
        """Queue one chain; its head and the addresses of its device-writable buffers."""
        parts = [(data, 0) for data in outs] + [(bytes(size), 2) for size in in_sizes]
        head = self.next_desc
        in_addrs = []
        for position, (data, flags) in enumerate(parts):
            index = (head + position) % self.num
            addr = self.data + 0x100 * index
            self.memory.write(addr, data)
            if flags:
                in_addrs.append(addr)
            last = position == len(parts) - 1
            next_index = (index + 1) % self.num
            self.memory.write(
                self.desc + DESC.size * index,
                DESC.pack(addr, len(data), flags | (0 if last else 1), 0 if last else next_index),
            )
        self.next_desc = (head + len(parts)) % self.num
        self.memory.write(self.avail + 4 + 2 * (self.avail_idx % self.num), struct.pack("<H", head))
        self.avail_idx = (self.avail_idx + 1) & 0xFFFF
        self.memory.write(self.avail + 2, struct.pack("<H", self.avail_idx))
        return head, in_addrs

    def used_idx(self) -> int:
        return int(struct.unpack("<H", self.memory.read(self.used + 2, 2))[0])

    def used_entry(self, slot: int) -> tuple[int, int]:
        head, written = struct.unpack("<II", self.memory.read(self.used + 4 + 8 * slot, 8))
        return int(head), int(written)
