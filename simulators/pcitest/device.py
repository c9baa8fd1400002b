"""uh_pcitest's PCI device as the harness knows it (entry point `umlharness.devices`: pcitest)."""

from __future__ import annotations

from typing import Any

from ..devices import Device
from .regs import PCITEST

DEVICE: Device[Any] = Device(
    name="pcitest",
    layout=PCITEST,
    pci_function="simulators.pcitest.model:PciTest",
    fixture=False,
)
