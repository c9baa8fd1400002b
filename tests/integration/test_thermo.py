"""uh_thermo end to end, written as a driver developer would: the plugin's fixtures, real UML.

The `uml` fixture boots a guest as the `uml` marker says; `iomem=["thermo"]`
gives it the region, and the guest's init loads uh_thermo for it (the
driver's MODULE_ALIAS("iomem:thermo")). The `sensor` fixture below attaches
the simulator to that region.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulators.attach import attach
from simulators.cli import sim
from simulators.errors import SimulatorError
from simulators.thermo.model import Thermo
from simulators.thermo.regs import THERMO
from umlharness import Instance
from umlharness.pytest_plugin import BootFactory

pytestmark = pytest.mark.slow

SYSFS = "/sys/devices/platform/uh_thermo"


@pytest.fixture
def sensor(uml: Instance) -> Iterator[Thermo]:
    """The thermo simulator on the guest's `thermo` region, reset (its ID set)."""
    with attach(THERMO, umid=uml.umid, region="thermo", device="thermo") as device:
        thermo = Thermo(device.regs, device.irq)
        thermo.reset()
        yield thermo


def read(uml: Instance, attribute: str) -> str:
    return uml.check(f"cat {SYSFS}/{attribute}").strip()


def thermo_interrupts(uml: Instance) -> int:
    return sum(line.count for line in uml.interrupts() if line.name == "thermo")


@pytest.mark.uml(iomem=["thermo"])
def test_temp_follows_the_simulator(uml: Instance, sensor: Thermo) -> None:
    assert "No data available" in uml.run(f"cat {SYSFS}/temp").output  # no reading yet
    sensor.set_temperature(21.5)
    assert read(uml, "temp") == "21500"  # millidegrees, as hwmon has them
    sensor.set_temperature(-7.25)
    assert read(uml, "temp") == "-7250"


@pytest.mark.uml(iomem=["thermo"])
def test_crossing_the_threshold_alerts(uml: Instance, sensor: Thermo) -> None:
    assert sensor.set_temperature(81.23) is True  # the driver acknowledged the alert
    uml.expect_kernel(r"uh_thermo: temperature 81\.23 C over 80\.00 C")
    assert read(uml, "alert") == "1"
    assert thermo_interrupts(uml) == 1
    sensor.set_temperature(79)
    assert read(uml, "alert") == "0"  # back at or below the threshold


@pytest.mark.uml(iomem=["thermo"])
def test_below_the_threshold_there_is_no_alert(uml: Instance, sensor: Thermo) -> None:
    assert sensor.set_temperature(25) is False
    assert sensor.set_temperature(80) is False  # at the threshold is not over it
    assert read(uml, "alert") == "0"
    assert thermo_interrupts(uml) == 0
    assert "uh_thermo: temperature" not in uml.kernel_log


@pytest.mark.uml(iomem=["thermo"])
def test_threshold_written_in_sysfs_programs_the_register(uml: Instance, sensor: Thermo) -> None:
    assert read(uml, "threshold") == "80000"
    uml.check(f"echo 85500 > {SYSFS}/threshold")
    assert sensor.regs.read("THRESHOLD") == 8550  # hundredths of a degree
    assert sensor.set_temperature(85) is False
    assert sensor.set_temperature(86) is True
    uml.expect_kernel(r"uh_thermo: temperature 86\.00 C over 85\.50 C")
    refused = uml.run(f"echo 400000 > {SYSFS}/threshold")  # more than THRESHOLD holds
    assert refused.exit_code != 0 and "out of range" in refused.output
    assert sensor.regs.read("THRESHOLD") == 8550


@pytest.mark.uml(iomem=["thermo"])
def test_rmmod_removes_socket_irq_and_device_and_modprobe_reloads(
    uml: Instance, sensor: Thermo
) -> None:
    socket = uml.umid_dir / "thermo"
    assert socket.is_socket()
    uml.check("rmmod uh_thermo")
    assert not socket.exists()
    assert "thermo" not in [line.name for line in uml.interrupts()]
    assert not uml.run(f"test -e {SYSFS}").ok
    with pytest.raises(SimulatorError, match="sensor is off"):
        sensor.set_temperature(90)

    uml.check("modprobe uh_thermo threshold=50000")
    assert socket.is_socket()
    assert read(uml, "threshold") == "50000"
    assert sensor.set_temperature(60) is True
    uml.expect_kernel(r"uh_thermo: temperature 60\.00 C over 50\.00 C")


@pytest.mark.uml(iomem=["thermo"])
def test_sim_command_finds_the_guest_region(uml: Instance) -> None:
    result = CliRunner().invoke(sim, ["thermo", "set", "85", "--umid", uml.umid])
    assert (result.exit_code, result.output) == (
        0,
        "Temperature 85.00 C, over 80.00 C: alert acknowledged by the driver\n",
    )
    uml.expect_kernel(r"uh_thermo: temperature 85\.00 C over 80\.00 C")


def test_a_region_holding_another_device_is_refused(uml_boot: BootFactory, tmp_path: Path) -> None:
    regs = tmp_path / "thermo.bin"
    regs.write_bytes(bytes.fromhex("00e04c68") + bytes(4092))  # an RTL8111's MAC, say
    vm = uml_boot(iomem=[f"thermo={regs}"])
    vm.expect_kernel(r"uh_thermo: iomem region 'thermo' holds device ID 0x684ce000")
    assert "uh_thermo" not in vm.check("lsmod")
