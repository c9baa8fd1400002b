"""The uh_thermo temperature sensor's register map: 0x40 bytes, little-endian.

    0x00  ID         u32  0x54484d4f, set by the simulator's reset
    0x04  CTRL       u8   bit 1 ALERT_IE, bit 0 ENABLE (the driver sets both)
    0x05  STATUS     u8   bit 1 ALERT, bit 0 DATA_READY (the sensor sets them)
    0x08  TEMP       s16  the last reading, hundredths of a degree Celsius
    0x0a  THRESHOLD  s16  the alert threshold, same unit (the driver programs it)

ALERT and ALERT_IE are the same bit, as an interrupt status and its enable
usually are. The driver acknowledges ALERT by clearing it.
"""

from __future__ import annotations

import enum

from construct import BitsInteger, BitStruct, ByteSwapped, Flag, Int16sl, Int32ul, Padding, Struct

from ..cheader import CHeader

THERMO_ID = 0x54484D4F  # "THMO"
SIZE = 0x40

# One byte each, so ByteSwapped changes nothing; it is there so that a bit
# register reads the same way whatever its width (see simulators/regfile.py).
# The reserved bits are a named field, not Padding, so that writing a field
# back keeps whatever the driver put there.
CTRL_BITS = ByteSwapped(
    BitStruct(
        "Reserved" / BitsInteger(6),  # bits 7:2
        "ALERT_IE" / Flag,  # bit 1: raise the interrupt when ALERT is set
        "ENABLE" / Flag,  # bit 0: the sensor measures
    )
)

STATUS_BITS = ByteSwapped(
    BitStruct(
        "Reserved" / BitsInteger(6),  # bits 7:2
        "ALERT" / Flag,  # bit 1: TEMP rose above THRESHOLD
        "DATA_READY" / Flag,  # bit 0: TEMP holds a reading
    )
)

THERMO = Struct(
    "ID" / Int32ul,  # 0x00
    "CTRL" / CTRL_BITS,  # 0x04
    "STATUS" / STATUS_BITS,  # 0x05
    Padding(2),
    "TEMP" / Int16sl,  # 0x08
    "THRESHOLD" / Int16sl,  # 0x0a
    Padding(SIZE - 0x0C),
)
assert THERMO.sizeof() == SIZE, f"THERMO map is {THERMO.sizeof():#x} bytes, not {SIZE:#x}"


class Ctrl(enum.IntFlag):
    """CTRL bits (uh_thermo.c: THERMO_ENABLE, THERMO_ALERT_IE)."""

    ALERT_IE = 0x02
    ENABLE = 0x01


class Status(enum.IntFlag):
    """STATUS bits (uh_thermo.c: THERMO_ALERT, THERMO_DATA_READY)."""

    ALERT = 0x02
    DATA_READY = 0x01


# drivers/include/uh/thermo_regs.h, which uh_thermo.c includes.
C_HEADER = CHeader(
    path="drivers/include/uh/thermo_regs.h",
    module=__name__,
    title="the uh_thermo temperature sensor's registers",
    registers=THERMO,
    prefix="THERMO_",
    constants={"THERMO_REGS_SIZE": SIZE, "THERMO_ID_VALUE": THERMO_ID},
)
