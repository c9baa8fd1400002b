"""The thermo model against a fake driver: registers in memory, a real socket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from simulators.errors import AckTimeout, SimulatorError
from simulators.irq import InterruptLine
from simulators.regfile import RegisterFile
from simulators.thermo.model import Thermo, ThermoState, celsius
from simulators.thermo.regs import THERMO, THERMO_ID, Ctrl, Status
from umlharness.testing import FakeDriver

from .fake_driver import AlertHandler, load_thermo


@pytest.fixture
def regs() -> RegisterFile:
    regs = RegisterFile(THERMO, np.zeros(0x40, np.uint8), device="thermo")
    load_thermo(regs)
    return regs


@pytest.fixture
def handler(regs: RegisterFile) -> AlertHandler:
    return AlertHandler(regs)


@pytest.fixture
def driver(tmp_path: Path, handler: AlertHandler) -> Iterator[FakeDriver]:
    with FakeDriver(tmp_path / "thermo", handler) as driver:
        yield driver


@pytest.fixture
def sensor(tmp_path: Path, regs: RegisterFile) -> Iterator[Thermo]:
    with InterruptLine(tmp_path / "thermo") as line:
        yield Thermo(regs, line, ack_timeout=2, resend_interval=0.02)


def test_crossing_the_threshold_raises_an_acknowledged_alert(
    sensor: Thermo, regs: RegisterFile, handler: AlertHandler, driver: FakeDriver
) -> None:
    assert sensor.set_temperature(25) is False
    assert sensor.set_temperature(81.23) is True
    assert handler.wait_for(1) == [(8123, 8000)]  # the driver read the new reading
    assert regs.read("STATUS") == Status.DATA_READY  # ALERT acknowledged
    assert sensor.state() == ThermoState(0, True, True, 8123, 8000, False)


def test_below_the_threshold_nothing_is_raised(
    sensor: Thermo, regs: RegisterFile, driver: FakeDriver
) -> None:
    assert sensor.set_temperature(80) is False  # at the threshold is not over it
    assert sensor.set_temperature(-12.5) is False
    assert regs.read("TEMP") == -1250
    assert driver.datagrams == 0


def test_staying_over_raises_no_new_alert_and_dropping_rearms(
    sensor: Thermo, handler: AlertHandler, driver: FakeDriver
) -> None:
    assert [sensor.set_temperature(t) for t in (85, 90, 70, 95)] == [True, False, False, True]
    assert handler.wait_for(2) == [(8500, 8000), (9500, 8000)]


def test_the_threshold_the_driver_programmed_counts(
    sensor: Thermo, regs: RegisterFile, handler: AlertHandler, driver: FakeDriver
) -> None:
    regs.write("THRESHOLD", -500)  # -5.00 C
    assert sensor.set_temperature(-4.99) is True
    assert handler.wait_for(1) == [(-499, -500)]


def test_no_alert_while_alert_ie_is_off(
    sensor: Thermo, regs: RegisterFile, driver: FakeDriver
) -> None:
    regs.write("CTRL", Ctrl.ENABLE)
    assert sensor.set_temperature(100) is False
    assert driver.datagrams == 0
    assert regs.read("STATUS") == Status.DATA_READY


def test_a_sensor_that_is_off_refuses_readings(sensor: Thermo, regs: RegisterFile) -> None:
    regs.write("CTRL", 0)  # as uh_thermo leaves it on unload
    with pytest.raises(SimulatorError, match=r"sensor is off \(CTRL.ENABLE is 0\)"):
        sensor.set_temperature(25)
    assert regs.read("TEMP") == 0 and regs.read("STATUS") == 0


@pytest.mark.parametrize("degrees", [327.68, -327.69, float("nan"), float("inf")])
def test_readings_temp_cannot_hold_are_refused(
    sensor: Thermo, regs: RegisterFile, degrees: float
) -> None:
    with pytest.raises(SimulatorError, match=r"outside what TEMP holds \(-327.68 to 327.67 C\)"):
        sensor.set_temperature(degrees)
    assert regs.read("STATUS") == 0


def test_an_alert_needs_the_interrupt_line(regs: RegisterFile) -> None:
    offline = Thermo(regs, None)
    assert offline.set_temperature(20) is False  # no alert: no line needed
    with pytest.raises(SimulatorError, match="no interrupt line"):
        offline.set_temperature(90)
    assert regs.read("TEMP") == 2000  # the failed reading changed nothing


def test_an_unacknowledged_alert_times_out(tmp_path: Path, regs: RegisterFile) -> None:
    with (
        FakeDriver(tmp_path / "deaf", lambda: None),
        InterruptLine(tmp_path / "deaf") as line,
        pytest.raises(AckTimeout, match=r"interrupt ALERT \(STATUS bit 1\)"),
    ):
        Thermo(regs, line, ack_timeout=0.1, resend_interval=0.02).set_temperature(90)


def test_reset_sets_the_id_and_keeps_what_the_driver_programmed(
    sensor: Thermo, regs: RegisterFile
) -> None:
    sensor.reset()
    assert regs.read("ID") == THERMO_ID
    assert regs.read("THRESHOLD") == 8000
    assert regs.read("CTRL") == Ctrl.ENABLE | Ctrl.ALERT_IE


@pytest.mark.parametrize(("hundredths", "text"), [(8123, "81.23"), (-50, "-0.50"), (0, "0.00")])
def test_celsius_formats_as_the_driver_prints(hundredths: int, text: str) -> None:
    assert celsius(hundredths) == text
