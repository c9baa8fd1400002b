"""Unmodified in-tree I2C drivers (lm75, rtc-pcf8563, opt3001) against the Python models,
over virtio-i2c, with interrupts over virtio-gpio; devices placed by the generated devicetree.

These boot through the pytest plugin (`@pytest.mark.uml(i2c=[...])` and the
device fixtures), as a driver developer's tests would.
"""

from __future__ import annotations

import datetime
import time

import pytest

from simulators.i2c.lm75 import Lm75
from simulators.i2c.opt3001 import Opt3001
from simulators.i2c.pcf8563 import Pcf8563
from umlharness import Instance
from umlharness.board import I2cModelError

pytestmark = pytest.mark.slow

HWMON = "/sys/class/hwmon/hwmon0"
IIO = "/sys/bus/iio/devices/iio:device0"
CHIP = "/dev/gpiochip0"


def wait_for(vm: Instance, path: str, text: str, timeout: float = 5.0) -> str:
    """The guest file `path` once it holds `text` (a background program's output)."""
    deadline = time.monotonic() + timeout
    while True:
        found = vm.check(f"cat {path}")
        if text in found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.mark.uml(i2c=["lm75@0x48"])
def test_lm75_binds_and_the_guest_reads_the_models_temperature(uml: Instance, lm75: Lm75) -> None:
    assert uml.check(f"cat {HWMON}/name").strip() == "lm75"
    assert uml.check(f"cat {HWMON}/temp1_input").strip() == "25000"
    lm75.set_temperature(-12.5)
    assert uml.check(f"cat {HWMON}/temp1_input").strip() == "-12500"
    # The limits the driver writes reach the model's registers.
    uml.check(f"echo 60000 > {HWMON}/temp1_max")
    assert lm75.regs.read("tos") == 60 << 8  # degrees in the high byte


@pytest.mark.uml(i2c=["lm75@0x48,irq=gpio0:2"])
def test_crossing_the_lm75_limit_raises_its_alert_interrupt_on_the_gpio_line(
    uml: Instance, lm75: Lm75
) -> None:
    uml.run(f"gpioline watch {CHIP} 2 2 5 >/tmp/alert 2>&1 &")
    wait_for(uml, "/tmp/alert", "watching")
    lm75.set_temperature(85)  # above Tos (80): the active-low alert falls
    assert wait_for(uml, "/tmp/alert", "falling").splitlines()[1:] == ["2 falling"]
    lm75.set_temperature(70)  # below Thyst (75): released
    assert wait_for(uml, "/tmp/alert", "rising").splitlines()[1:] == ["2 falling", "2 rising"]
    assert uml.gpio.describe(2)["interrupts"] == 2


@pytest.mark.uml(i2c=["pcf8563@0x51,time=2030-01-02T03:04:05Z"])
def test_hwclock_reads_the_rtc_models_time_and_writes_it_back(
    uml: Instance, pcf8563: Pcf8563
) -> None:
    assert "rtc-pcf8563 0-0051: registered as rtc0" in uml.kernel_log
    assert "Wed Jan  2 03:04:0" in uml.check("hwclock -r -u")
    uml.check("date -u -s '2031-05-06 07:08:09' >/dev/null && hwclock -w -u")
    written = pcf8563.time()
    assert (
        datetime.timedelta(0)
        <= written - datetime.datetime(2031, 5, 6, 7, 8, 9)
        < (datetime.timedelta(seconds=3))
    )


@pytest.mark.uml(i2c=["opt3001@0x44,irq=gpio0:3"])
def test_opt3001_illuminance_follows_the_model_through_its_interrupt(
    uml: Instance, opt3001: Opt3001
) -> None:
    assert float(uml.check(f"cat {IIO}/in_illuminance_input")) == pytest.approx(100, rel=0.01)
    opt3001.set_lux(1234.5)
    assert float(uml.check(f"cat {IIO}/in_illuminance_input")) == pytest.approx(1234.5, rel=0.01)
    # With its interrupt wired the driver waits for end-of-conversion on the line.
    counts = [line.count for line in uml.interrupts() if line.name == "opt3001"]
    assert counts and counts[0] >= 2


@pytest.mark.uml(i2c=["opt3001@0x44,irq=gpio0:3"])
def test_an_opt3001_threshold_event_arrives_through_the_gpio_interrupt(
    uml: Instance, opt3001: Opt3001
) -> None:
    uml.check(f"echo 500 > {IIO}/events/in_illuminance_thresh_rising_value")
    uml.check(f"echo 1 > {IIO}/events/in_illuminance_thresh_rising_en")
    uml.run("iioevent /dev/iio:device0 1 5 >/tmp/events 2>&1 &")
    wait_for(uml, "/tmp/events", "ready")
    opt3001.set_lux(40)  # still below: no event
    opt3001.set_lux(1000)
    assert wait_for(uml, "/tmp/events", "thresh").splitlines()[1:] == ["thresh rising"]


@pytest.mark.uml(gpio=8)
def test_gpio_lines_in_both_directions_and_edges_as_interrupts(uml: Instance) -> None:
    uml.gpio.set(3, 1)
    assert uml.check(f"gpioline get {CHIP} 3").strip() == "1"
    uml.check(f"gpioline set {CHIP} 5 1")
    assert [(c.line, c.value) for c in uml.gpio.changes()] == [(5, 1)]
    uml.run(f"gpioline watch {CHIP} 4 2 5 >/tmp/edges 2>&1 &")
    wait_for(uml, "/tmp/edges", "watching")
    uml.gpio.set(4, 1)
    uml.gpio.set(4, 0)
    assert wait_for(uml, "/tmp/edges", "falling").splitlines()[1:] == ["4 rising", "4 falling"]


@pytest.mark.uml(i2c=["lm75@0x48", "pcf8563@0x51"])
def test_an_address_no_device_has_is_a_nak_not_a_failure(uml: Instance) -> None:
    found = uml.run("i2cxfer /dev/i2c-0 0x50 0 1 1")
    assert found.exit_code == 1 and "transfer 0" in found.output
    # 25.0 degrees: 0x1900, big-endian, as the chip sends it.
    assert uml.check("i2cxfer /dev/i2c-0 0x48 0 2 1").splitlines()[0] == "1900"


@pytest.mark.uml(i2c=["tests.integration.i2c_models:DividingLm75@0x48"])
def test_an_exception_in_an_i2c_model_fails_the_run_with_its_line(uml: Instance) -> None:
    with pytest.raises(I2cModelError) as caught:
        uml.run(f"cat {HWMON}/temp1_input")
    message = str(caught.value)
    assert "I2C device 0x48 (DividingLm75)" in message and "ZeroDivisionError" in message


@pytest.mark.uml(i2c=["tests.integration.i2c_models:RefusingLm75@0x48"])
def test_a_nak_where_the_device_should_answer_fails_the_run(uml: Instance) -> None:
    with pytest.raises(I2cModelError) as caught:
        uml.run(f"cat {HWMON}/temp1_input")
    assert "NAKed a 2-byte read: temperature register refused" in str(caught.value)
