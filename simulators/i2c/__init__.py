"""I2C/SMBus chips: a register-pointer bus model and the chips Linux drivers talk to.

A transport (virtio-i2c) hands each I2C message to `I2cModel.i2c_write` or
`I2cModel.i2c_read` and wires `I2cModel.irq_pin` to a GPIO line.
"""

from __future__ import annotations

from .lm75 import Lm75
from .model import I2cModel, I2cNak, OutputPin, UnconnectedPin
from .opt3001 import Opt3001
from .pcf8563 import Pcf8563

__all__ = ["I2cModel", "I2cNak", "Lm75", "Opt3001", "OutputPin", "Pcf8563", "UnconnectedPin"]
