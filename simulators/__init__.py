"""Device simulators: Python models of devices whose registers live in a UML iomem file.

A guest driver and its simulator share one plain host file: the guest maps it
as the device's register space, the simulator maps it with numpy. Registers
are plain memory there, without hardware side effects, and interrupts travel
as datagrams to the unix socket the driver creates in the instance's umid
directory. `regfile` and `irq` are the generic halves of that transport;
each device (for now `rtl8111`) adds a register map and a model on top.
"""

from __future__ import annotations

from .errors import AckTimeout, DriverNotListening, SimulatorError
from .irq import InterruptLine
from .regfile import BitField, Register, RegisterFile

__all__ = [
    "AckTimeout",
    "BitField",
    "DriverNotListening",
    "InterruptLine",
    "Register",
    "RegisterFile",
    "SimulatorError",
]
