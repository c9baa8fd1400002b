"""A running guest's I2C and GPIO devices, reached from `sim`, tests and the harness.

The board process (board.py) serves them; the instance record names its
control socket. `i2c_device(umid, 0x48)` is the model at 0x48 and
`gpio(umid)` the controller, each a proxy that calls into that process.
"""

from __future__ import annotations

from pathlib import Path

from umlharness_shared import registry
from umlharness_shared.registry import InstanceInfo, PciRecord

from ..errors import SimulatorError
from ..pci.control import RemoteModel
from .board import BOARD_SLOT, I2cSpec


def _board(info: InstanceInfo) -> PciRecord:
    record = info.pci.get(BOARD_SLOT)
    if record is None:
        raise SimulatorError(f"instance {info.umid} has no I2C or GPIO devices (--i2c, --gpio)")
    return record


def board_control(umid: str | None) -> Path:
    """The control socket of the board of instance `umid` (default: the only one)."""
    return _board(registry.find(umid)).control


def i2c_specs(umid: str | None) -> list[I2cSpec]:
    """The `--i2c` devices instance `umid` was booted with."""
    text = _board(registry.find(umid)).options.get("i2c", "")
    return [I2cSpec.parse(word) for word in text.split()]


def gpio_lines(umid: str | None) -> int:
    return int(_board(registry.find(umid)).options.get("gpio", "0"))


def find_i2c(umid: str | None, model: str, address: int | None = None) -> I2cSpec | None:
    """The instance's `model` device (at `address` if given); None if it has none.

    Raises when several match and no address picks one.
    """
    info = registry.find(umid)
    if BOARD_SLOT not in info.pci:
        return None
    found = [
        spec
        for spec in i2c_specs(info.umid)
        if spec.model == model and (address is None or spec.address == address)
    ]
    if len(found) > 1:
        at = ", ".join(f"{spec.address:#04x}" for spec in found)
        raise SimulatorError(f"instance {info.umid} has {model} at {at}: pick one by address")
    return found[0] if found else None


def i2c_device(control: Path, address: int) -> RemoteModel:
    """The model at `address` on the board at `control`."""
    return RemoteModel(control, prefix=f"i2c.{address:#04x}.")


def gpio(control: Path) -> RemoteModel:
    """The GPIO controller of the board at `control`: `gpio(c).set(3, 1)`."""
    return RemoteModel(control, prefix="gpio.")
