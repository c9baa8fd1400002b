"""I2C models of tests' own, served by the board as `--i2c tests.integration.i2c_models:NAME@ADDR`:
chips that break, to show how a model's failure fails the test that caused it."""

from __future__ import annotations

from simulators.i2c.lm75 import Lm75
from simulators.i2c.model import I2cNak


class DividingLm75(Lm75):
    """An LM75 whose temperature read divides by zero: a bug in a model."""

    def i2c_read(self, length: int) -> bytes:
        if self.pointer == 0:
            return bytes([1 // 0])
        return super().i2c_read(length)


class RefusingLm75(Lm75):
    """An LM75 that NAKs every read of its temperature, where a real one answers."""

    def i2c_read(self, length: int) -> bytes:
        if self.pointer == 0:
            raise I2cNak("temperature register refused")
        return super().i2c_read(length)
