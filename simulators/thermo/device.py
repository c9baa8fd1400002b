"""The thermo sensor as the harness knows it (entry point `umlharness.devices`: thermo).

It is the tutorial's device: docs/tutorial.md shows the same declaration in a
package of your own.
"""

from __future__ import annotations

from ..devices import Device
from .model import Thermo
from .regs import THERMO

DEVICE: Device[Thermo] = Device(
    name="thermo",
    layout=THERMO,
    model=Thermo,
    region="thermo",  # uh_thermo's MODULE_ALIAS("iomem:thermo")
    commands="simulators.thermo.cli:COMMANDS",
)
