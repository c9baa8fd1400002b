"""The gpio8 controller's behaviour: eight input pins and a change interrupt.

The model drives the pins (IN). When the level of a pin whose bit the
driver set in IE changes, the pin's bit is set in CHANGED and the interrupt
is raised; it counts as delivered once the driver has cleared that bit,
its acknowledgement (iomem registers are plain memory: no
write-1-to-clear). A change of a masked pin only changes IN.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulators.device import DeviceModel
from simulators.errors import SimulatorError
from simulators.irq import InterruptRegisters

from .regs import GPIO8_ID, PINS

ALL_PINS = (1 << PINS) - 1


@dataclass(frozen=True)
class Gpio8State:
    """The controller as its registers describe it."""

    device_id: int
    pins: int  # IN
    enabled: int  # IE
    changed: int  # CHANGED: raised and not acknowledged yet


class Gpio8(DeviceModel):
    """A gpio8 controller over `regs`, interrupting its driver through `irq`.

    `irq` may be None to inspect the controller, or to change masked pins.
    """

    # Asserted while CHANGED & IE is not 0, as the driver's handler reads it.
    interrupt_registers = InterruptRegisters("CHANGED", "IE")

    def reset(self) -> None:
        """Power-on: the ID register reads GPIO8_ID. Pins and IE are left alone."""
        self.regs.write("ID", GPIO8_ID)

    def state(self) -> Gpio8State:
        return Gpio8State(
            device_id=self.regs.read("ID"),
            pins=self.regs.read("IN"),
            enabled=self.regs.read("IE"),
            changed=self.regs.read("CHANGED"),
        )

    def set_pin(self, pin: int, level: int | bool) -> bool:
        """Drive pin `pin` to `level`; whether that interrupted the driver (acknowledged)."""
        if not 0 <= pin < PINS:
            raise SimulatorError(f"pin {pin} does not exist: gpio8 has pins 0 to {PINS - 1}")
        pins = self.regs.read("IN")
        return self.set_pins(pins | 1 << pin if level else pins & ~(1 << pin))

    def set_pins(self, mask: int) -> bool:
        """Drive all pins at once (bit n: pin n); whether that interrupted the driver.

        The checks come first, so that an error changes nothing.
        """
        if not 0 <= mask <= ALL_PINS:
            raise SimulatorError(f"{mask:#x} is not a mask of {PINS} pins")
        changed = self.regs.read("IN") ^ mask
        enabled = changed & self.regs.read("IE")
        if enabled:
            self.interrupt.require_line()
        self.regs.write("IN", mask)
        if not enabled:
            return False
        # Sets the bits in CHANGED, sends the interrupt (again every 50 ms) and
        # waits until the driver has cleared them; AckTimeout after ack_timeout.
        self.interrupt.raise_and_wait_ack(enabled, self.ack_timeout)
        return True
