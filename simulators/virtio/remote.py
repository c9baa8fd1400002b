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


def _specs(record: PciRecord) -> list[I2cSpec]:
    return [I2cSpec.parse(word) for word in record.options.get("i2c", "").split()]


def i2c_specs(umid: str | None) -> list[I2cSpec]:
    """The `--i2c` devices instance `umid` was booted with."""
    return _specs(_board(registry.find(umid)))


def gpio_lines(umid: str | None) -> int:
    return int(_board(registry.find(umid)).options.get("gpio", "0"))


def find_i2c(umid: str | None, model: str, address: int | None = None) -> RemoteModel | None:
    """The instance's `model` device (at `address` if given); None if it has none.

    Raises when several match and no address picks one.
    """
    info = registry.find(umid)
    record = info.pci.get(BOARD_SLOT)
    if record is None:
        return None
    found = [
        spec.address
        for spec in _specs(record)
        if spec.model == model and (address is None or spec.address == address)
    ]
    if len(found) > 1:
        at = ", ".join(f"{each:#04x}" for each in found)
        raise SimulatorError(f"instance {info.umid} has {model} at {at}: pick one by address")
    return i2c_device(record.control, found[0]) if found else None


def i2c_device(control: Path, address: int) -> RemoteModel:
    """The model at `address` on the board at `control`."""
    return RemoteModel(control, prefix=f"i2c.{address:#04x}.")


def gpio(control: Path) -> RemoteModel:
    """The GPIO controller of the board at `control`: `gpio(c).set(3, 1)`."""
    return RemoteModel(control, prefix="gpio.")
