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
assert DESC.size == 16  # `index << 4` in _walk
_DESC = DESC.unpack_from
_DESC_FLAGS = 12  # offset of `flags` in a descriptor
_U16 = struct.Struct("<H").unpack_from
USED_ELEM = struct.Struct("<II")
DESC_F_NEXT = 1
DESC_F_WRITE = 2
DESC_F_INDIRECT = 4
MAX_QUEUE_SIZE = 256  # virtio_uml's MAX_SUPPORTED_QUEUE_SIZE


@dataclass(slots=True)
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
        if len(self.inbufs) == 1 and len(data) <= len(self.inbufs[0]):
            self.inbufs[0][: len(data)] = data
            return len(data)
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
        self._region: tuple[int, int, memoryview] = (0, 0, memoryview(b""))

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
        self._region = mem.main_region()
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
        self._region = (0, 0, memoryview(b""))

    def pop(self) -> Chain | None:
        """The next request in avail order, or None when the driver has queued nothing more."""
        avail_idx = self._avail_idx
        if avail_idx is None or self._avail_ring is None:
            return None
        last = self.last_avail
        if last == avail_idx.value:
            return None
        (head,) = _U16(self._avail_ring, 2 * (last % self.num))
        self.last_avail = (last + 1) & 0xFFFF
        return self._walk(head)

    def awaits_only(self) -> bool:
        """Whether one chain is queued and the driver will poll for its completion.

        virt-pci polls the used ring for every chain of more than one
        descriptor (a read: header, then the buffer for the answer); a chain
        of one is a posted write. Only the head descriptor is looked at.
        """
        avail_idx = self._avail_idx
        if avail_idx is None or self._avail_ring is None or self._desc is None:
            return False
        last = self.last_avail
        if (avail_idx.value - last) & 0xFFFF != 1:
            return False
        (head,) = _U16(self._avail_ring, 2 * (last % self.num))
        (flags,) = _U16(self._desc, (head << 4) + _DESC_FLAGS)
        return bool(flags & DESC_F_NEXT)

    def drained(self) -> bool:
        """Whether every chain the driver has made available was popped."""
        return self._avail_idx is None or self.last_avail == self._avail_idx.value

    def push(self, head: int, written: int) -> None:
        """Return chain `head` to the driver: the used entry first, then the index."""
        assert self._used_idx is not None and self._used_ring is not None
        used = self._used_idx.value
        USED_ELEM.pack_into(self._used_ring, USED_ELEM.size * (used % self.num), head, written)
        self._used_idx.value = (used + 1) & 0xFFFF

    def _walk(self, head: int) -> Chain:
        # Every access of the driver comes through here: few Python operations.
        assert self._desc is not None and self._mem is not None
        out: list[bytes] = []
        inbufs: list[memoryview] = []
        desc, slice_ = self._desc, self._mem.slice
        start, end, view = self._region
        index = head
        for _ in range(self.num):
            addr, length, flags, next_index = _DESC(desc, index << 4)
            if start <= addr and addr + length <= end:
                data = view[addr - start : addr - start + length]
            else:
                data = slice_(addr, length)
            if flags & DESC_F_WRITE:
                inbufs.append(data)
            elif flags & DESC_F_INDIRECT:
                raise ProtocolError(f"queue {self.index}: indirect descriptor (not negotiated)")
            else:
                out.append(data.tobytes())
            if not flags & DESC_F_NEXT:
                return Chain(head, out[0] if len(out) == 1 else b"".join(out), inbufs)
            index = next_index
        raise ProtocolError(f"queue {self.index}: descriptor chain from {head} loops")
