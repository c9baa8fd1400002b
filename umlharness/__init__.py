"""umlharness: test Linux device drivers without the hardware, in User-Mode Linux.

The names below are imported on first use, so that a process needing only a
corner of the package (a PCI backend importing `umlharness.errors`) does not
pay for loading all of it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .artifacts import ArtifactRequest, Artifacts, prepare
    from .errors import (
        BootTimeout,
        BuildFailed,
        GuestCrashed,
        GuestError,
        GuestExited,
        HarnessError,
    )
    from .instance import BootRequest, Instance, InterruptLine, RunResult, booted
    from .iomem import IomemSpec
    from .kernel import Kernel, KernelRequest, build_kernel
    from .pci import PciSpec

_WHERE = {
    "ArtifactRequest": "artifacts",
    "Artifacts": "artifacts",
    "prepare": "artifacts",
    "BootTimeout": "errors",
    "BuildFailed": "errors",
    "GuestCrashed": "errors",
    "GuestError": "errors",
    "GuestExited": "errors",
    "HarnessError": "errors",
    "BootRequest": "instance",
    "Instance": "instance",
    "InterruptLine": "instance",
    "RunResult": "instance",
    "booted": "instance",
    "IomemSpec": "iomem",
    "Kernel": "kernel",
    "KernelRequest": "kernel",
    "build_kernel": "kernel",
    "PciSpec": "pci",
}

__all__ = [
    "ArtifactRequest",
    "Artifacts",
    "BootRequest",
    "BootTimeout",
    "BuildFailed",
    "GuestCrashed",
    "GuestError",
    "GuestExited",
    "HarnessError",
    "Instance",
    "InterruptLine",
    "IomemSpec",
    "Kernel",
    "KernelRequest",
    "PciSpec",
    "RunResult",
    "booted",
    "build_kernel",
    "prepare",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'umlharness' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
