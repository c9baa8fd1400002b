"""Split virtqueues, the device side: take request chains off the avail ring, return them used.

Layout (VERSION_1, so little-endian): a descriptor table of 16-byte
entries `u64 addr, u32 len, u16 flags, u16 next`; the avail ring `u16
flags, u16 idx, u16 ring[num]`; the used ring `u16 flags, u16 idx, {u32
id, u32 len}[num]`. The 16-bit indices are loaded and stored as single
accesses (ctypes), and a used entry is written before the index that
publishes it; x86 orders the stores, so no explicit fence is needed.
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass, field

from .guest_memory import GuestMemory
from .vhost_user import ProtocolError, VringAddr

DESC = struct.Struct("<QIHH")
USED_ELEM = struct.Struct("<II")
DESC_F_NEXT = 1
DESC_F_WRITE = 2
DESC_F_INDIRECT = 4
MAX_QUEUE_SIZE = 256  # virtio_uml's MAX_SUPPORTED_QUEUE_SIZE


@dataclass
class Chain:
    """One request: the bytes the driver wrote (concatenated) and where the reply goes."""

    head: int
    out: bytes
    inbufs: list[memoryview] = field(default_factory=list)

    @property
    def in_size(self) -> int:
        return sum(len(buf) for buf in self.inbufs)

    def reply(self, data: bytes) -> int:
        """Fill the device-writable buffers with `data` (in order); the bytes written."""
        written = 0
        for buf in self.inbufs:
            if written >= len(data):
                break
            part = data[written : written + len(buf)]
            buf[: len(part)] = part
            written += len(part)
        return written


class SplitVirtqueue:
    """One queue of a device: configured by SET_VRING_*, then popped and pushed."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.num = MAX_QUEUE_SIZE
        self.last_avail = 0
        self.enabled = False
        self._mem: GuestMemory | None = None
        self._desc: memoryview | None = None
        self._avail_ring: memoryview | None = None
        self._avail_idx: ctypes.c_uint16 | None = None
        self._used_ring: memoryview | None = None
        self._used_idx: ctypes.c_uint16 | None = None

    @property
    def ready(self) -> bool:
        return self._desc is not None and self.enabled

    def set_num(self, num: int) -> None:
        if not 0 < num <= MAX_QUEUE_SIZE or num & (num - 1):
            raise ProtocolError(f"queue {self.index}: size {num} is not a power of two <= 256")
        self.num = num

    def set_base(self, base: int) -> None:
        self.last_avail = base & 0xFFFF

    def set_addr(self, mem: GuestMemory, addr: VringAddr) -> None:
        num = self.num
        self._mem = mem
        self._desc = mem.slice(addr.desc, DESC.size * num)
        avail = mem.slice(addr.avail, 4 + 2 * num)
        used = mem.slice(addr.used, 4 + USED_ELEM.size * num)
        self._avail_idx = ctypes.c_uint16.from_buffer(avail, 2)
        self._avail_ring = avail[4:]
        self._used_idx = ctypes.c_uint16.from_buffer(used, 2)
        self._used_ring = used[4:]

    def detach(self) -> None:
        """Drop every view of guest memory (before it is unmapped)."""
        self._avail_idx = self._used_idx = None
        for view in (self._desc, self._avail_ring, self._used_ring):
            if view is not None:
                view.release()
        self._desc = self._avail_ring = self._used_ring = None
        self._mem = None

    def pop(self) -> Chain | None:
        """The next request in avail order, or None when the driver has queued nothing more."""
        if self._avail_idx is None or self._avail_ring is None:
            return None
        if self.last_avail == self._avail_idx.value:
            return None
        slot = self.last_avail % self.num
        (head,) = struct.unpack_from("<H", self._avail_ring, 2 * slot)
        self.last_avail = (self.last_avail + 1) & 0xFFFF
        return self._walk(head)

    def push(self, head: int, written: int) -> None:
        """Return chain `head` to the driver: the used entry first, then the index."""
        assert self._used_idx is not None and self._used_ring is not None
        used = self._used_idx.value
        USED_ELEM.pack_into(self._used_ring, USED_ELEM.size * (used % self.num), head, written)
        self._used_idx.value = (used + 1) & 0xFFFF

    def _walk(self, head: int) -> Chain:
        assert self._desc is not None and self._mem is not None
        out: list[bytes] = []
        chain = Chain(head, b"")
        index = head
        for _ in range(self.num):
            addr, length, flags, next_index = DESC.unpack_from(self._desc, DESC.size * index)
            if flags & DESC_F_INDIRECT:
                raise ProtocolError(f"queue {self.index}: indirect descriptor (not negotiated)")
            data = self._mem.slice(addr, length)
            if flags & DESC_F_WRITE:
                chain.inbufs.append(data)
            else:
                out.append(bytes(data))
            if not flags & DESC_F_NEXT:
                chain.out = out[0] if len(out) == 1 else b"".join(out)
                return chain
            index = next_index
        raise ProtocolError(f"queue {self.index}: descriptor chain from {head} loops")
