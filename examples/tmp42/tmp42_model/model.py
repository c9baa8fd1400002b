"""The TMP42 as its driver sees it over I2C: SMBus registers behind a pointer byte."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import construct as cs
from simulators.i2c.model import I2cModel

TMP42 = cs.Struct(
    "temp" / cs.Int16sb,  # 1/16 degree steps
    "config" / cs.Int8ub,  # bit 0: shutdown (set at power-on)
    "id" / cs.Int8ub,
)


class Tmp42(I2cModel):
    """A TMP42 at the temperature `celsius` (an option: `--i2c tmp42@0x4a,celsius=30`)."""

    layout = TMP42
    registers_by_pointer: ClassVar[Mapping[int, str]] = {0x00: "temp", 0x01: "config", 0x0F: "id"}
    compatible = "acme,tmp42"
    option_defaults: ClassVar[Mapping[str, str]] = {"celsius": "21", "chip_id": "0x42"}

    def setup(self) -> None:
        self.regs.write("config", 1)
        self.regs.write("id", int(self.options["chip_id"], 0))
        self.set_celsius(float(self.options["celsius"]))

    def set_celsius(self, celsius: float) -> None:
        with self.regs.lock:
            self.regs.write("temp", round(celsius * 16))

    def shut_down(self) -> bool:
        """Whether the chip is still in shutdown (the driver takes it out at probe)."""
        return bool(self.regs.read("config") & 1)
