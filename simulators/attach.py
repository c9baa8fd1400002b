"""Find a device's iomem file and interrupt socket, and open them.

Either through the harness's registry of running instances (the only one,
or the one called `umid`): the region's file is in the instance record and
the driver's socket is `<umid_dir>/<region>`. Or from an explicit iomem file
and socket, bypassing the registry, for a guest the harness did not start
or for tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from umlharness_shared import registry
from umlharness_shared.iomemfile import check_register_file
from umlharness_shared.registry import InstanceInfo

from .closing import Closing
from .errors import SimulatorError
from .irq import InterruptLine
from .peer import GuestWatch
from .regfile import RegisterFile

DEFAULT_REGION = "mock"


@dataclass(frozen=True)
class Target:
    """Where a device lives: its iomem file and the driver's interrupt socket."""

    iomem: Path
    irq: Path | None  # None: registers only (explicit iomem file without a socket)
    region: str
    umid: str | None  # None when given explicitly
    instance: InstanceInfo | None = field(default=None, compare=False, repr=False)

    def watch(self) -> GuestWatch:
        """What tells whether the guest (else the driver's socket, if any) is still there."""
        if self.instance is not None:
            return GuestWatch.of_instance(self.instance)
        if self.irq is not None:
            return GuestWatch.of_driver(self.irq)
        return GuestWatch()


def resolve(
    umid: str | None = None,
    iomem: Path | None = None,
    irq: Path | None = None,
    region: str | None = None,
    *,
    default_region: str = DEFAULT_REGION,
) -> Target:
    """The target that the options name (see the module's docstring).

    `default_region` is the region looked up when `region` is None: the
    name the device's driver declares (MODULE_ALIAS("iomem:NAME")).
    """
    if iomem is None and irq is None:
        name = region or default_region
        info = registry.find(umid)
        if name not in info.iomem:
            have = ", ".join(sorted(info.iomem))
            detail = f"its regions are {have}" if have else "it was booted without --iomem"
            raise SimulatorError(f"instance {info.umid} has no iomem region {name!r}: {detail}")
        return Target(Path(info.iomem[name]), info.umid_dir / name, name, info.umid, info)
    if umid is not None or region is not None:
        raise SimulatorError(
            "--iomem/--irq name the device directly: drop --umid and --region "
            "(or drop --iomem/--irq to look the instance up)"
        )
    if iomem is None:
        raise SimulatorError("--irq SOCKET needs the device's --iomem FILE too")
    return Target(iomem, irq, default_region, None)


def pci_control(
    umid: str | None,
    slot: str | None,
    model: str,
    region: str | None,
    default_region: str,
) -> Path | None:
    """The control socket of the instance's PCI `model`, or None to use its iomem region.

    The PCI device is taken when `slot` names it, or when the instance has
    no iomem region (`region`, else `default_region`) but one PCI `model`.
    """
    info = registry.find(umid)
    if slot is None and (region is not None or default_region in info.iomem):
        return None
    if slot is not None:
        device = info.pci.get(slot)
        if device is None:
            have = ", ".join(sorted(info.pci)) or "none"
            raise SimulatorError(f"instance {info.umid} has no PCI device {slot} (it has: {have})")
        if device.model != model:
            raise SimulatorError(f"PCI device {slot} of {info.umid} is a {device.model}")
        return device.control
    matches = sorted(s for s, device in info.pci.items() if device.model == model)
    if len(matches) > 1:
        raise SimulatorError(
            f"instance {info.umid} has {len(matches)} PCI {model}s ({', '.join(matches)}): "
            "pick one with --pci SLOT"
        )
    return info.pci[matches[0]].control if matches else None


def map_iomem(path: Path) -> np.memmap[Any, np.dtype[np.uint8]]:
    """The whole iomem file, mapped shared and writable, so guest and simulator see one memory."""
    return np.memmap(check_register_file(path, SimulatorError), dtype=np.uint8, mode="r+")


@dataclass
class Attached(Closing):
    """An open device: its register file and, when there is a socket, its interrupt line.

    `watch` says when the guest is gone (see simulators.peer).
    """

    target: Target
    regs: RegisterFile
    irq: InterruptLine | None
    watch: GuestWatch

    def close(self) -> None:
        if self.irq is not None:
            self.irq.close()


def attach(
    layout: Any,
    *,
    umid: str | None = None,
    iomem: Path | None = None,
    irq: Path | None = None,
    region: str | None = None,
    default_region: str = DEFAULT_REGION,
    device: str = "the device",
) -> Attached:
    """Open the device the options name with the register map `layout` (a construct Struct)."""
    target = resolve(umid, iomem, irq, region, default_region=default_region)
    regs = RegisterFile(layout, map_iomem(target.iomem), device=device)
    line = InterruptLine(target.irq) if target.irq is not None else None
    return Attached(target, regs, line, target.watch())
