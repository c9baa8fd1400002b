"""The TMP42 as umlharness knows it (the project file's `devices`): `--i2c tmp42@ADDRESS`,
`sim i2c`, and the `tmp42` pytest fixture."""

from __future__ import annotations

from simulators.devices import Device

from .model import TMP42, Tmp42

DEVICE: Device[Tmp42] = Device(
    name="tmp42", title="TMP42", layout=TMP42, model=Tmp42, i2c_model="tmp42_model.model:Tmp42"
)
