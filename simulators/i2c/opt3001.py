"""TI OPT3001 ambient light sensor: conversions, the window comparator and the INT pin.

Registers (16-bit, big-endian): 0x00 result, 0x01 config, 0x02 low limit,
0x03 high limit, 0x7E manufacturer id (0x5449, "TI"), 0x7F device id
(0x3001). Result and limits are exponent (15:12) | mantissa (11:0),
lux = 0.01 * 2^E * M. Config fields: RN (15:12, 0xC = automatic range),
CT (11), M (10:9: shutdown, single shot, continuous), OVF (8), CRF (7),
FH (6), FL (5), L (4), POL (3), ME (2), FC (1:0). OVF, CRF, FH and FL are
read-only.

Conversions complete at once instead of after 100 or 800 ms:

- single shot (M = 01): when the driver writes the config; M goes back
  to 00 (shutdown) and CRF is set, as on the chip;
- continuous (M = 10 or 11): when the driver starts continuous mode, and
  then on `set_lux`, `convert`, and after a write of a limit (standing in
  for the chip's next periodic conversion).

After each conversion the result is compared with the limits (as lux
codes, M << E; mantissas only if ME), FC (1, 2, 4, 8) consecutive faults
being needed:

- latched window (L = 1, what opt3001 configures): FH or FL is set and
  INT is active until the config register is read;
- transparent hysteresis (L = 0): above the high limit FH = 1, FL = 0, INT
  active; below the low limit FL = 1, FH = 0, INT inactive; reads change
  nothing;
- end of conversion (the low limit's two top bits 11, as opt3001 writes
  0xC000 when it has an IRQ): INT is active after every conversion until
  the config register is read, and the low limit is not compared.

Reading config clears CRF (and, latched, FH and FL); writing it with a
mode other than shutdown clears CRF. INT (`irq_pin`) is active low unless
POL; `irq_pin.set(level)` gets the electrical level.

Not modelled: conversion timing, the SMBus alert response, exponents
above 11 in the result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import ClassVar

from construct import BitsInteger, BitStruct, Flag, Int16ub, Struct

from ..errors import SimulatorError
from .model import I2cModel

CONFIG_BITS = BitStruct(
    "RN" / BitsInteger(4),  # 15:12 range; 0xC automatic
    "CT" / Flag,  # 11: 800 ms conversions
    "M" / BitsInteger(2),  # 10:9 mode
    "OVF" / Flag,  # 8: overflow
    "CRF" / Flag,  # 7: conversion ready
    "FH" / Flag,  # 6: flag high
    "FL" / Flag,  # 5: flag low
    "L" / Flag,  # 4: latched window comparison
    "POL" / Flag,  # 3: INT active high
    "ME" / Flag,  # 2: mask exponent
    "FC" / BitsInteger(2),  # 1:0 fault count
)

OPT3001 = Struct(
    "result" / Int16ub,
    "config" / CONFIG_BITS,
    "low_limit" / Int16ub,
    "high_limit" / Int16ub,
    "manufacturer_id" / Int16ub,
    "device_id" / Int16ub,
)

MANUFACTURER_ID = 0x5449  # "TI"
DEVICE_ID = 0x3001
CONFIG_RESET = 0xC810  # automatic range, 800 ms, shutdown, latched
HIGH_LIMIT_RESET = 0xBFFF

RN_MASK, RN_AUTO = 0xF000, 0xC
M_MASK, M_SHIFT = 0x0600, 9
MODE_SHUTDOWN, MODE_SINGLE = 0, 1
OVF, CRF, FH, FL = 0x0100, 0x0080, 0x0040, 0x0020
LATCH, POL, ME = 0x0010, 0x0008, 0x0004
FC_MASK = 0x0003
READ_ONLY = OVF | CRF | FH | FL
EOC_ENABLE = 0xC000  # the low limit's top bits that select end-of-conversion INT
FAULTS_NEEDED = (1, 2, 4, 8)

MAX_MANTISSA, MAX_EXPONENT = 0xFFF, 11
MAX_LUX = 0.01 * 2**MAX_EXPONENT * MAX_MANTISSA  # 83865.6


def encode_lux(lux: float, range_number: int) -> tuple[int, bool]:
    """The result code for `lux` in range RN, and whether it overflowed the range."""
    if range_number >= RN_AUTO:
        exponents: Sequence[int] = range(MAX_EXPONENT + 1)
    else:
        exponents = (range_number,)
    for exponent in exponents:
        mantissa = round(lux / (0.01 * 2**exponent))
        if mantissa <= MAX_MANTISSA:
            return exponent << 12 | mantissa, False
    return exponents[-1] << 12 | MAX_MANTISSA, True


def decode_lux(code: int) -> float:
    """The lux a result or limit code stands for."""
    return math.ldexp(0.01 * (code & MAX_MANTISSA), code >> 12)


def is_continuous(config: int) -> bool:
    return (config & M_MASK) >> M_SHIFT >= 2


class Opt3001(I2cModel):
    """An OPT3001 seeing `lux` lux (option, default 100)."""

    layout = OPT3001
    compatible = "ti,opt3001"
    irq_trigger = "falling"
    registers_by_pointer: ClassVar[Mapping[int, str]] = {
        0x00: "result",
        0x01: "config",
        0x02: "low_limit",
        0x03: "high_limit",
        0x7E: "manufacturer_id",
        0x7F: "device_id",
    }
    option_defaults: ClassVar[Mapping[str, str]] = {"lux": "100"}

    def setup(self) -> None:
        lux = self.parse_float("lux", self.options["lux"], self.regs.device)
        self._ambient = self._checked(lux)
        self._int_active = False
        self._high_faults = self._low_faults = 0
        self.conversions = 0  # how many conversions completed, for tests
        self.regs.write("config", CONFIG_RESET)
        self.regs.write("high_limit", HIGH_LIMIT_RESET)
        self.regs.write("manufacturer_id", MANUFACTURER_ID)
        self.regs.write("device_id", DEVICE_ID)
        self.regs.read_only("result", "manufacturer_id", "device_id")
        self.on_value_write("config", self._write_config)
        self._drive()

    # --- the model's API ---------------------------------------------------

    def set_lux(self, lux: float) -> None:
        """The sensor now sees `lux`; in continuous mode that is converted at once."""
        checked = self._checked(lux)
        with self.locked():
            self._ambient = checked
            if is_continuous(self._config()):
                self._convert()

    def lux(self) -> float:
        """The illuminance the sensor sees (the last `set_lux`)."""
        return self._ambient

    def reading(self) -> float:
        """The result register in lux: the last conversion, what the driver reads."""
        return decode_lux(self.regs.read("result"))

    def convert(self) -> bool:
        """One periodic conversion, if in continuous mode; whether one was made."""
        with self.locked():
            if not is_continuous(self._config()):
                return False
            self._convert()
            return True

    def int_active(self) -> bool:
        """Whether INT is active (logically, whatever POL)."""
        return self._int_active

    # --- the driver's accesses ---------------------------------------------

    @staticmethod
    def _write_config(old: int, written: int, mask: int) -> int:
        """Read-only flags keep their value; a write of a running mode clears CRF."""
        value = (old & ~mask) | (written & mask)
        value = (value & ~READ_ONLY) | (old & READ_ONLY)
        if value & M_MASK:
            value &= ~CRF
        return value

    def after_write(self, names: Sequence[str]) -> None:
        config = self._config()
        mode = (config & M_MASK) >> M_SHIFT
        if "config" in names:
            if mode == MODE_SINGLE or is_continuous(config):
                self._convert()
        elif is_continuous(config) and {"low_limit", "high_limit"} & set(names):
            self._convert()  # the next periodic conversion sees the new limit
        self._drive()

    def after_read(self, names: Sequence[str]) -> None:
        if "config" not in names:
            return
        config = self._config()
        cleared = CRF | (FH | FL if config & LATCH else 0)
        self.regs.write("config", config & ~cleared)
        if config & LATCH or self._eoc_mode():
            self._int_active = False
        self._drive()

    # --- conversions and the comparator --------------------------------------------

    def _convert(self) -> None:
        """One conversion ends now: result, flags, INT (lock held)."""
        config = self._config()
        code, overflow = encode_lux(self._ambient, config >> 12)
        self.regs.write("result", code)
        self.conversions += 1
        config = (config & ~OVF) | (OVF if overflow else 0) | CRF
        eoc = self._eoc_mode()
        level = self._level(code, config)
        high = level > self._level(self.regs.read("high_limit"), config)
        low = not eoc and level < self._level(self.regs.read("low_limit"), config)
        self._high_faults = self._high_faults + 1 if high else 0
        self._low_faults = self._low_faults + 1 if low else 0
        needed = FAULTS_NEEDED[config & FC_MASK]
        high_event, low_event = self._high_faults >= needed, self._low_faults >= needed
        if config & LATCH:
            config |= (FH if high_event else 0) | (FL if low_event else 0)
            if high_event or low_event:
                self._int_active = True
        elif high_event:
            config = (config | FH) & ~FL
            self._int_active = True
        elif low_event:
            config = (config | FL) & ~FH
            self._int_active = False
        if eoc:
            self._int_active = True
        if (config & M_MASK) >> M_SHIFT == MODE_SINGLE:
            config &= ~M_MASK  # a single shot ends in shutdown
        self.regs.write("config", config)
        self._drive()

    @staticmethod
    def _level(code: int, config: int) -> int:
        """A result or limit code as the comparator sees it."""
        mantissa = code & MAX_MANTISSA
        return mantissa if config & ME else mantissa << (code >> 12)

    def _eoc_mode(self) -> bool:
        return self.regs.read("low_limit") & EOC_ENABLE == EOC_ENABLE

    def _drive(self) -> None:
        self._set_irq(self._int_active, active_high=bool(self._config() & POL))

    def _config(self) -> int:
        return self.regs.read("config")

    def _checked(self, lux: float) -> float:
        if not (math.isfinite(lux) and lux >= 0):
            raise SimulatorError(f"{self.regs.device} sees 0 lux or more, not {lux}")
        return lux
