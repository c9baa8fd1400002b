"""The FPGA as the harness knows it (entry point `umlharness.devices`: fpga).

Its regions are fpga0..fpga3, one per FPGA, and its simulator is a process
of its own (`sim fpga stream|serve`), so it offers no fixture.
"""

from __future__ import annotations

from typing import Any

from ..devices import Device
from .regs import FPGA

DEVICE: Device[Any] = Device(
    name="fpga",
    layout=FPGA,
    region="fpga0",
    commands="simulators.fpga.cli:COMMANDS",
    fixture=False,
)
