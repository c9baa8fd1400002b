"""The devices `sim` and the pytest plugin know, each declared once and found through entry points.

A device package declares a `Device` and names it in the entry-point group
`umlharness.devices` of its own pyproject.toml:

    [project.entry-points."umlharness.devices"]
    mysensor = "mysensor.device:DEVICE"

Installing the package is all it takes: `sim mysensor ...` appears, and the
pytest plugin offers a fixture called `mysensor` that yields the model of a
booted guest's device. This project's own devices are registered the same way.

A repository that is not installed lists its devices in its project file
instead (`devices = ["mysensor.device:DEVICE"]` under `[tool.umlharness]`,
imported from its `model-paths`): the project file at or above the current
directory, or the one `use_project()` names (the pytest plugin's).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

import click

from umlharness_shared.project import Project, add_model_paths

from .device import DeviceModel
from .errors import SimulatorError

ENTRY_POINT_GROUP = "umlharness.devices"

M = TypeVar("M", bound=DeviceModel)


@dataclass(frozen=True)
class Device(Generic[M]):
    """Everything the harness needs to know of one device, in one place."""

    #: What `open_model`, `--pci NAME`, the pytest fixture and `sim` call it.
    name: str
    #: How messages and register dumps name it ("RTL8111"); default: `name`.
    title: str = ""
    #: The register map, a construct Struct (None if the device has none of its own).
    layout: Any = None
    #: The chip's model, built over the register file and interrupt line.
    model: type[M] | None = None
    #: The iomem region its driver declares (MODULE_ALIAS("iomem:NAME")).
    region: str | None = None
    #: "module:Class" of its PciFunction when PCI can serve it (`--pci NAME`).
    pci_function: str | None = None
    #: "module:Class" of its I2cModel when an I2C bus can serve it (`--i2c NAME@ADDRESS`).
    i2c_model: str | None = None
    #: "module:attribute" of its `sim` commands (a list of click groups or commands),
    #: imported only by `sim`; that module may import this declaration.
    commands: str | None = None
    #: Whether the pytest plugin offers a fixture called `name` (it needs `model`).
    fixture: bool = True
    #: Whether its model is a network card (send, expect, capture: simulators/net/nic.py),
    #: what the `nic` fixture and `sim net` look for.
    network: bool = False

    @property
    def label(self) -> str:
        return self.title or self.name

    @property
    def transports(self) -> tuple[str, ...]:
        return (
            *(("iomem",) if self.region else ()),
            *(("pci",) if self.pci_function else ()),
            *(("i2c",) if self.i2c_model else ()),
        )

    def load_commands(self) -> Sequence[click.Command]:
        if self.commands is None:
            return ()
        found = import_object(self.commands, f"device {self.name}'s commands")
        if not all(isinstance(command, click.Command) for command in found):
            raise SimulatorError(f"device {self.name}: {self.commands} is not a list of commands")
        return list(found)

    @property
    def pci_model(self) -> str | None:
        """Its name in `--pci` if PCI can serve it."""
        return self.name if self.pci_function else None


def import_object(where: str, what: str) -> Any:
    """The object `where` ("package.module:attribute") names; SimulatorError saying `what`
    could not be imported otherwise."""
    module, _, attribute = where.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as error:
        raise SimulatorError(f"{what}: cannot import it ({error})") from None


_project: Project | None = None


def use_project(project: Project) -> None:
    """Read devices from `project` rather than the project file of the current directory."""
    global _project
    _project = project
    devices.cache_clear()


@functools.cache
def devices() -> dict[str, Device[Any]]:
    """Every registered device by name (read once per process): the installed
    packages' entry points, then the project file's `devices`."""
    project = _project or Project.find()
    add_model_paths(project)
    points = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name)
    declared = [(point.name, point.value, point.load) for point in points]
    declared += [
        (where, f"{project.where}", functools.partial(import_object, where, f"device {where}"))
        for where in project.devices
    ]
    found: dict[str, Device[Any]] = {}
    for name, value, load in declared:
        try:
            device = load()
        except SimulatorError:
            raise
        except Exception as error:  # a broken package must not take `sim` down
            raise SimulatorError(
                f"device {name} ({value}) cannot be loaded: {type(error).__name__}: {error}"
            ) from error
        if not isinstance(device, Device):
            raise SimulatorError(f"{name} ({value}) is not a Device")
        if device.name in found:
            raise SimulatorError(f"two packages register a device called {device.name}")
        found[device.name] = device
    return found


def device(name: str) -> Device[Any]:
    known = devices()
    if name not in known:
        raise SimulatorError(f"no device {name!r}; devices: {', '.join(sorted(known)) or 'none'}")
    return known[name]
