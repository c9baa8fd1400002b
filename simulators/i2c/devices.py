"""The I2C chips as the harness knows them (entry points `umlharness.devices`: lm75,
pcf8563, opt3001): `--i2c NAME@ADDRESS`, `sim i2c`, and a pytest fixture each."""

from __future__ import annotations

from ..devices import Device
from .lm75 import LM75, Lm75
from .opt3001 import OPT3001, Opt3001
from .pcf8563 import PCF8563, Pcf8563

LM75_DEVICE: Device[Lm75] = Device(
    name="lm75", title="LM75", layout=LM75, model=Lm75, i2c_model="simulators.i2c.lm75:Lm75"
)
PCF8563_DEVICE: Device[Pcf8563] = Device(
    name="pcf8563",
    title="PCF8563",
    layout=PCF8563,
    model=Pcf8563,
    i2c_model="simulators.i2c.pcf8563:Pcf8563",
)
OPT3001_DEVICE: Device[Opt3001] = Device(
    name="opt3001",
    title="OPT3001",
    layout=OPT3001,
    model=Opt3001,
    i2c_model="simulators.i2c.opt3001:Opt3001",
)
