"""uh_pcitest's BAR0: the generic PCI test device (drivers/pcitest/uh_pcitest.c)."""

from __future__ import annotations

import construct as cs

ID_VALUE = 0x54504855  # "UHPT"
VERSION_VALUE = 1
WINDOW_OFFSET = 0x100
WINDOW_SIZE = 0x100
BAR_SIZE = 0x1000
DMA_MAX = 1 << 20


class DmaCmd:
    TO_DEVICE = 1
    FROM_DEVICE = 2
    IRQ_ON_DONE = 1 << 31


class DmaStatus:
    IDLE = 0
    DONE = 1
    ERROR = 2


PCITEST = cs.Struct(
    "ID" / cs.Int32ul,  # 0x00
    "VERSION" / cs.Int32ul,  # 0x04
    "SCRATCH8" / cs.Int8ub,  # 0x08
    cs.Padding(1),
    "SCRATCH16" / cs.Int16ul,  # 0x0a
    "SCRATCH32" / cs.Int32ul,  # 0x0c
    "SCRATCH64" / cs.Int64ul,  # 0x10
    "ACCUM" / cs.Int32ul,  # 0x18: each write adds to the sum
    "ACCUM_COUNT" / cs.Int32ul,  # 0x1c: writes to ACCUM; writing resets
    "IRQ_RAISE" / cs.Int32ul,  # 0x20: raise vector N
    "IRQ_STATUS" / cs.Int32ul,  # 0x24: write 1 to clear
    "DMA_ADDR_LO" / cs.Int32ul,  # 0x28
    "DMA_ADDR_HI" / cs.Int32ul,  # 0x2c
    "DMA_LEN" / cs.Int32ul,  # 0x30
    "DMA_CMD" / cs.Int32ul,  # 0x34
    "DMA_SEED" / cs.Int32ul,  # 0x38
    "DMA_CRC" / cs.Int32ul,  # 0x3c
    "DMA_STATUS" / cs.Int32ul,  # 0x40
    cs.Padding(WINDOW_OFFSET - 0x44),
    cs.Padding(WINDOW_SIZE),  # 0x100: WINDOW, plain memory for memcpy_toio/fromio
)
assert PCITEST.sizeof() == WINDOW_OFFSET + WINDOW_SIZE
