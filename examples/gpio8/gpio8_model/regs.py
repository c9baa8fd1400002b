"""The gpio8 register map: 0x10 bytes, little-endian.

    0x00  ID       u32  0x4750494f ("GPIO"), set by the model's reset
    0x04  IN       u8   the levels of pins 7..0 (the model drives them)
    0x05  IE       u8   change-interrupt enable, one bit per pin (the driver's)
    0x06  CHANGED  u8   enabled pins whose level changed (the interrupt's causes)

The driver acknowledges a change by clearing its bit in CHANGED.
"""

from __future__ import annotations

from construct import Int8ul, Int32ul, Padding, Struct
from simulators.cheader import CHeader

GPIO8_ID = 0x4750494F  # "GPIO"
SIZE = 0x10
PINS = 8

GPIO8 = Struct(
    "ID" / Int32ul,  # 0x00
    "IN" / Int8ul,  # 0x04: bit n is pin n's level
    "IE" / Int8ul,  # 0x05: bit n enables pin n's change interrupt
    "CHANGED" / Int8ul,  # 0x06: bit n: pin n changed (the interrupt's cause)
    Padding(SIZE - 0x07),
)
assert GPIO8.sizeof() == SIZE, f"GPIO8 map is {GPIO8.sizeof():#x} bytes, not {SIZE:#x}"

# The driver's header, next to it: `sim header gpio8_model.regs:C_HEADER -o ...`
# writes it, and tests/test_gpio8.py fails when it no longer matches the map.
C_HEADER = CHeader(
    path="drivers/gpio8/gpio8_regs.h",
    module=__name__,
    title="the gpio8 input controller's registers",
    registers=GPIO8,
    prefix="GPIO8_",
    constants={"GPIO8_REGS_SIZE": SIZE, "GPIO8_ID_VALUE": GPIO8_ID, "GPIO8_PINS": PINS},
    command="sim header gpio8_model.regs:C_HEADER -o drivers/gpio8/gpio8_regs.h",
)
