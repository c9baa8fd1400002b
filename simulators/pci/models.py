"""The PCI device models `--pci NAME[,key=value...]` can name.

NAME is a registered device that PCI can serve (`Device.pci_function`, see
simulators/devices.py), or `package.module:Class` for a model of your own (a
`PciFunction` subclass importable by the backend's Python); the options are
its constructor's keyword arguments, all strings.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import cast

from ..devices import devices, import_object
from ..errors import ModelFailed, SimulatorError
from .function import PciFunction

#: Options every model takes, which the backend uses rather than the model:
#: strict=1 fails the run on a driver access outside a register map.
BACKEND_OPTIONS = ("strict",)


def backend_options(options: dict[str, str]) -> tuple[dict[str, str], bool]:
    """The model's own options, and whether strict mode is on (`strict=1`, `yes`, `on`...)."""
    own = {key: value for key, value in options.items() if key not in BACKEND_OPTIONS}
    strict = options.get("strict", "0").lower()
    if strict not in ("0", "1", "no", "yes", "off", "on", "false", "true"):
        raise SimulatorError(f"strict={options['strict']}: give 1 or 0")
    return own, strict in ("1", "yes", "on", "true")


#: Served by the backend itself: a trace played back to the driver (replay.py).
BUILT_IN = {"replay": "simulators.pci.replay:ReplayFunction"}


def registered() -> dict[str, str]:
    """Model name -> "module:Class" of every registered device PCI can serve
    (simulators.devices) and the built-in replay; each is imported only when used."""
    return BUILT_IN | {d.name: d.pci_function for d in devices().values() if d.pci_function}


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """ "rtl8111,mac=00:e0:4c:00:00:01" -> ("rtl8111", {"mac": "00:e0:4c:00:00:01"})."""
    name, *pairs = spec.split(",")
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SimulatorError(f"{pair!r} is not key=value")
        if key in options:
            raise SimulatorError(f"option {key} is given twice")
        options[key] = value.strip()
    return name.strip(), options


def model_class(name: str, options: dict[str, str]) -> Callable[..., PciFunction]:
    """The class `name` stands for, once it is known to take `options`; nothing is built.

    Cheap enough for the harness to check a `--pci` spec before a boot; the
    model is built (and its constructor run) only in its backend process.
    """
    known = registered()
    where = known.get(name) or (name if ":" in name else None)
    if where is None:
        raise SimulatorError(
            f"no PCI model {name!r}; models: {', '.join(sorted(known))}, "
            "or your own as package.module:Class"
        )
    options, _ = backend_options(options)
    factory = import_object(where, f"PCI model {name}")
    if not (isinstance(factory, type) and issubclass(factory, PciFunction)):
        raise SimulatorError(f"PCI model {name}: not a PciFunction subclass")
    model_class = cast(Callable[..., PciFunction], factory)
    accepted = [p for p in inspect.signature(model_class).parameters if p != "self"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        have = ", ".join(accepted) or "none"
        raise SimulatorError(f"{name}: unknown option {', '.join(unknown)} (options: {have})")
    return model_class


def make_model(name: str, options: dict[str, str]) -> PciFunction:
    """The model `name` with `options`; its constructor's own failure is a ModelFailed."""
    factory = model_class(name, options)
    options, _ = backend_options(options)
    try:
        return factory(**options)
    except SimulatorError:
        raise
    except Exception as error:
        # A model's own bug: one line here, its traceback for whoever logs it.
        raise ModelFailed(f"PCI model {name}", error) from error
