"""The RTL8111 as the harness knows it (entry point `umlharness.devices`: rtl8111)."""

from __future__ import annotations

from ..devices import Device
from .model import Rtl8111
from .regs import RTL8111

DEVICE: Device[Rtl8111] = Device(
    name="rtl8111",
    title="RTL8111",
    layout=RTL8111,
    model=Rtl8111,
    region="mock",  # uh_rtl8111's MODULE_ALIAS("iomem:mock")
    pci_function="simulators.rtl8111.pci:Rtl8111Pci",  # for the kernel's r8169
    commands="simulators.rtl8111.cli:COMMANDS",
    network=True,  # over PCI: r8169's data path (datapath.py)
)
