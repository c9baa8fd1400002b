"""The virtio_pcidev messages that carry PCI traffic over the two virtqueues.

Header `<BBHIQ`: op, bar, reserved, size, addr, then data. Queue 0 ("cmd")
carries the driver's config and MMIO accesses, queue 1 ("irq") the
device's interrupts in buffers the driver lends it.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from .vhost_user import ProtocolError

HEADER = struct.Struct("<BBHIQ")
CMD_QUEUE = 0
IRQ_QUEUE = 1
#: The longest write whose data is a value, not a memset count (see `decode`).
_VALUE_SIZES = frozenset({1, 2, 4, 8})


class Op(enum.IntEnum):
    CFG_READ = 1
    CFG_WRITE = 2
    MMIO_READ = 3
    MMIO_WRITE = 4
    MMIO_MEMSET = 5
    INT = 6
    MSI = 7
    PME = 8


@dataclass(frozen=True)
class Command:
    """One access from the driver. For MMIO_MEMSET `data` is the one fill byte."""

    op: Op
    bar: int
    size: int
    addr: int
    data: bytes


def decode(out: bytes) -> Command:
    """The command in a cmd-queue chain's device-readable bytes.

    6.1's memset_io sends CFG_WRITE (not MMIO_MEMSET) with the BAR, the byte
    count as size and one data byte. A config write is 1, 2, 4 or 8 bytes, so
    a CFG_WRITE of any other size is taken for a memset; shorter memsets
    cannot be told apart from config writes and land in config space.
    """
    if len(out) < HEADER.size:
        raise ProtocolError(f"virtio_pcidev command of {len(out)} bytes")
    op, bar, _reserved, size, addr = HEADER.unpack_from(out)
    try:
        kind = Op(op)
    except ValueError:
        raise ProtocolError(f"virtio_pcidev op {op}") from None
    data = out[HEADER.size :]
    if kind == Op.CFG_WRITE and size not in _VALUE_SIZES:
        return Command(Op.MMIO_MEMSET, bar, size, addr, data[:1])
    if kind in (Op.CFG_WRITE, Op.MMIO_WRITE):
        if len(data) < size:
            raise ProtocolError(f"{kind.name} of {size} bytes carries {len(data)}")
        data = data[:size]
    elif kind == Op.MMIO_MEMSET:
        data = data[:1]
    return Command(kind, bar, size, addr, data)


def msi_message(value: int, msix: bool) -> bytes:
    """An interrupt message: the MSI data (16 bits) or MSI-X entry data (32 bits) programmed."""
    if msix:
        return HEADER.pack(Op.MSI, 0, 0, 4, 0) + struct.pack("<I", value)
    return HEADER.pack(Op.MSI, 0, 0, 2, 0) + struct.pack("<H", value & 0xFFFF)
