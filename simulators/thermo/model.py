"""The uh_thermo sensor: a temperature reading, a threshold and an alert interrupt.

`set_temperature` is what the sensor does when it measures: TEMP takes the
new reading and STATUS.DATA_READY is set. When the reading crosses
THRESHOLD upwards (the previous one was at or below it, or there was none)
and the driver has set CTRL.ALERT_IE, STATUS.ALERT is set and the interrupt
is raised. The line is level-triggered: the model re-sends the interrupt
until the driver clears ALERT, which is its acknowledgement on this
transport (registers are plain memory, there is no write-1-to-clear).
CTRL.ALERT_IE sits at ALERT's bit, so CTRL masks STATUS as an interrupt
mask register does.
uh_thermo clears ALERT before it reads TEMP, so a reading that lands after
the acknowledgement is still the one it reports.

A reading that stays above the threshold raises no new alert; one that
drops to the threshold or below re-arms it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..device import DeviceModel
from ..errors import SimulatorError
from ..irq import InterruptRegisters
from .regs import THERMO_ID, Ctrl, Status


def celsius(hundredths: int) -> str:
    """'81.23', '-0.50': a register value in degrees, as uh_thermo prints it."""
    return f"{hundredths / 100:.2f}"


@dataclass(frozen=True)
class ThermoState:
    """The sensor as its registers describe it; temperatures in hundredths of a degree."""

    device_id: int
    enabled: bool  # CTRL.ENABLE
    alert_enabled: bool  # CTRL.ALERT_IE
    temperature: int | None  # TEMP; None until a reading was made (STATUS.DATA_READY)
    threshold: int  # THRESHOLD
    alert: bool  # STATUS.ALERT: raised and not acknowledged yet


class Thermo(DeviceModel):
    """A uh_thermo sensor over `regs` (its register file) raising interrupts on `irq`.

    `irq` may be None to inspect the sensor, or to take readings that raise no alert.
    """

    interrupt_registers = InterruptRegisters("STATUS", "CTRL", causes=Status.ALERT)

    def reset(self) -> None:
        """Power-on state: the ID register reads THERMO_ID.

        CTRL and THRESHOLD are the driver's: resetting under a loaded driver
        leaves them alone.
        """
        self.regs.write("ID", THERMO_ID)

    def state(self) -> ThermoState:
        ready = self.regs.any_set("STATUS", Status.DATA_READY)
        return ThermoState(
            device_id=self.regs.read("ID"),
            enabled=self.regs.any_set("CTRL", Ctrl.ENABLE),
            alert_enabled=self.regs.any_set("CTRL", Ctrl.ALERT_IE),
            temperature=self.regs.read("TEMP") if ready else None,
            threshold=self.regs.read("THRESHOLD"),
            alert=self.regs.any_set("STATUS", Status.ALERT),
        )

    def set_temperature(self, celsius: float) -> bool:
        """Measure `celsius` degrees; whether that raised an alert (acknowledged by the driver).

        The checks come first, so that an error changes nothing.
        """
        reading = self._hundredths(celsius)
        before = self.state()
        if not before.enabled:
            raise SimulatorError("the sensor is off (CTRL.ENABLE is 0): is uh_thermo loaded?")
        was_over = before.temperature is not None and before.temperature > before.threshold
        alert = before.alert_enabled and reading > before.threshold and not was_over
        if alert:
            self.interrupt.require_line()
        self.regs.write("TEMP", reading)
        self.regs.set_bits("STATUS", Status.DATA_READY)
        if not alert:
            return False
        self.interrupt.raise_and_wait_ack(Status.ALERT, self.ack_timeout)
        return True

    def _hundredths(self, degrees: float) -> int:
        """`degrees` in TEMP's unit, refusing what TEMP cannot hold."""
        low, high = self.regs.register("TEMP").value_range
        value = round(degrees * 100) if math.isfinite(degrees) else None
        if value is None or not low <= value <= high:
            raise SimulatorError(
                f"{degrees} C is outside what TEMP holds ({celsius(low)} to {celsius(high)} C)"
            )
        return value
