"""The gpio8 controller as umlharness knows it: listed in pyproject.toml's
[tool.umlharness] devices, so `sim gpio8 ...` and the `gpio8` fixture exist."""

from __future__ import annotations

from simulators.devices import Device

from .model import Gpio8
from .regs import GPIO8

DEVICE: Device[Gpio8] = Device(
    name="gpio8",
    layout=GPIO8,
    model=Gpio8,
    region="gpio8",  # uh_gpio8's MODULE_ALIAS("iomem:gpio8")
    commands="gpio8_model.cli:COMMANDS",
)
