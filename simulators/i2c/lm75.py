"""National LM75 temperature sensor: 9-bit reading, Tos/Thyst limits and the OS output.

Pointers: 0 temp (16-bit, read-only), 1 conf (8-bit), 2 thyst, 3 tos
(16-bit). Temperatures are big-endian two's complement in bits 15..7, in
0.5 C steps; limits keep whatever low bits the driver writes, and compare
by their top 9 bits as the chip's comparator does.

The OS output (`irq_pin`, open drain) as the datasheet describes it:

- comparator mode (conf bit 1 = 0): active while temp > Tos, until temp < Thyst;
- interrupt mode (bit 1 = 1): active when temp rises above Tos, released
  by a read of any register, then active again when temp falls below
  Thyst, released by a read, and so on. Entering shutdown releases it;
- active low unless conf bit 2 (OS polarity) is 1. `irq_pin.set(level)`
  gets the electrical level: with polarity 0, False means active.

The output is re-evaluated when the temperature, the limits or conf change.
In shutdown (conf bit 0) the chip stops converting: temp keeps its last
reading and `set_temperature` takes effect when the driver wakes it up.

Not modelled: the fault queue (conf bits 4:3) is stored but every reading
counts at once (the chip converts every 100 ms, so a steady temperature
fills any queue within a second); the conversion time; pointers 4-7 and
pointer bits above 1, which the real chip answers and `lm75_detect`
probes, NAK here (virtio-i2c adapters have no class, so detection never runs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import ClassVar

from construct import BitsInteger, BitStruct, Flag, Int16sb, Struct

from ..errors import SimulatorError
from .model import I2cModel

CONF_BITS = BitStruct(
    "Reserved" / BitsInteger(3),  # bits 7:5, zero on the LM75 (lm75_detect checks)
    "FAULT_QUEUE" / BitsInteger(2),  # bits 4:3: 1, 2, 4 or 6 faults
    "OS_POL" / Flag,  # bit 2: 1 = OS active high
    "OS_COMP_INT" / Flag,  # bit 1: 0 comparator, 1 interrupt mode
    "SHUTDOWN" / Flag,  # bit 0
)

LM75 = Struct(
    "temp" / Int16sb,
    "conf" / CONF_BITS,
    "thyst" / Int16sb,
    "tos" / Int16sb,
)

SHUTDOWN = 0x01
OS_INTERRUPT = 0x02
OS_ACTIVE_HIGH = 0x04
CONF_WRITABLE = 0x1F

#: What the LM75 measures (datasheet: -55 to +125 C).
MIN_CELSIUS, MAX_CELSIUS = -55.0, 125.0


def to_register(celsius: float) -> int:
    """`celsius` as a 9-bit reading in bits 15..7 (a signed 16-bit value)."""
    return round(celsius * 2) << 7


def to_celsius(value: int) -> float:
    """A temperature register's value (signed 16 bits) in degrees, at 9-bit resolution."""
    return (value >> 7) / 2


class Lm75(I2cModel):
    """An LM75 at `temperature` degrees Celsius (option, default 25)."""

    layout = LM75
    compatible = "national,lm75"
    registers_by_pointer: ClassVar[Mapping[int, str]] = {0: "temp", 1: "conf", 2: "thyst", 3: "tos"}
    option_defaults: ClassVar[Mapping[str, str]] = {"temperature": "25"}

    def setup(self) -> None:
        celsius = self.parse_float("temperature", self.options["temperature"], self.regs.device)
        self._ambient = self._checked(celsius)
        self._os_active = False
        self._waiting_for_tos = True  # interrupt mode: the next event is a Tos crossing
        self._mode = 0  # conf's OS_COMP_INT, to notice mode changes
        self.regs.write("thyst", to_register(75))
        self.regs.write("tos", to_register(80))
        self.regs.write("temp", to_register(self._ambient))
        self.regs.read_only("temp")
        self.regs.on_write("conf", lambda old, written, mask: written & CONF_WRITABLE)
        self._evaluate()

    # --- the model's API ---------------------------------------------------

    def set_temperature(self, celsius: float) -> None:
        """The chip now measures `celsius`; the reading and OS follow unless shut down."""
        checked = self._checked(celsius)
        with self.locked():
            self._ambient = checked
            if not self._conf() & SHUTDOWN:
                self.regs.write("temp", to_register(checked))
                self._evaluate()

    def temperature(self) -> float:
        """The temperature the chip is exposed to (the last `set_temperature`)."""
        return self._ambient

    def reading(self) -> float:
        """The temp register in degrees: what the driver reads (0.5 C steps)."""
        return to_celsius(self.regs.read("temp"))

    def os_active(self) -> bool:
        """Whether the OS output is active (logically, whatever its polarity)."""
        return self._os_active

    # --- the driver's accesses ---------------------------------------------

    def after_write(self, names: Sequence[str]) -> None:
        if "conf" in names:
            conf = self._conf()
            if conf & OS_INTERRUPT != self._mode:
                self._mode = conf & OS_INTERRUPT
                self._os_active, self._waiting_for_tos = False, True
            if conf & SHUTDOWN:
                if conf & OS_INTERRUPT:
                    self._os_active = False
            else:
                self.regs.write("temp", to_register(self._ambient))
        self._evaluate()

    def after_read(self, names: Sequence[str]) -> None:
        if self._conf() & OS_INTERRUPT and self._os_active:
            self._os_active = False
            self._drive()

    # --- the OS output ---------------------------------------------------------

    def _evaluate(self) -> None:
        """Update OS from the reading and the limits (lock held)."""
        temp = self.regs.read("temp") >> 7
        tos = self.regs.read("tos") >> 7
        thyst = self.regs.read("thyst") >> 7
        if self._conf() & OS_INTERRUPT:
            if self._waiting_for_tos and temp > tos:
                self._os_active, self._waiting_for_tos = True, False
            elif not self._waiting_for_tos and temp < thyst:
                self._os_active, self._waiting_for_tos = True, True
        elif temp > tos:
            self._os_active = True
        elif temp < thyst:
            self._os_active = False
        self._drive()

    def _drive(self) -> None:
        self._set_irq(self._os_active, active_high=bool(self._conf() & OS_ACTIVE_HIGH))

    def _conf(self) -> int:
        return self.regs.read("conf")

    def _checked(self, celsius: float) -> float:
        if not (math.isfinite(celsius) and MIN_CELSIUS <= celsius <= MAX_CELSIUS):
            raise SimulatorError(
                f"{self.regs.device} measures {MIN_CELSIUS:g} to {MAX_CELSIUS:g} C, not {celsius}"
            )
        return celsius
