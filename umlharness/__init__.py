"""umlharness: test Linux device drivers without the hardware, in User-Mode Linux."""

from __future__ import annotations

from .artifacts import ArtifactRequest, Artifacts, prepare
from .errors import (
    BootTimeout,
    BuildFailed,
    GuestCrashed,
    GuestError,
    GuestExited,
    HarnessError,
)
from .instance import BootRequest, Instance, booted
from .interrupts import InterruptCount
from .iomem import IomemSpec
from .kernel import Kernel, KernelRequest, build_kernel
from .pci import PciSpec
from .shell import RunResult

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
    "InterruptCount",
    "IomemSpec",
    "Kernel",
    "KernelRequest",
    "PciSpec",
    "RunResult",
    "booted",
    "build_kernel",
    "prepare",
]
