"""The `--i2c`/`--gpio` specs and the devicetree that places them (no guest)."""

from __future__ import annotations

from pathlib import Path

import fdt
import pytest

from simulators.errors import SimulatorError
from simulators.virtio.board import I2cSpec, check_layout
from umlharness.board import BoardSpec
from umlharness.devicetree import GPIO_PHANDLE, board_tree, write_board_tree
from umlharness.errors import HarnessError


def test_a_spec_reads_the_address_the_options_and_the_interrupt_line() -> None:
    spec = I2cSpec.parse("opt3001@0x44,lux=250,irq=gpio0:3")
    assert (spec.model, spec.address, spec.options, spec.irq_line) == (
        "opt3001",
        0x44,
        (("lux", "250"),),
        3,
    )
    assert str(spec) == "opt3001@0x44,lux=250,irq=gpio0:3"
    assert I2cSpec.parse(str(spec)) == spec
    assert I2cSpec.parse("mychips.temp:Sensor@72").model == "mychips.temp:Sensor"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("lm75", "give MODEL@ADDRESS"),
        ("lm75@forty", "address 'forty' is not a number"),
        ("lm75@0x7f", "a 7-bit I2C address is 0x08 to 0x77"),
        ("lm75@0x48,irq=3", "give irq=gpio0:LINE"),
        ("lm75@0x48,irq=gpio1:3", "give irq=gpio0:LINE"),
        ("lm75@0x48,temperature", "is not key=value"),
        ("lm75@0x48,temperature=1,temperature=2", "option temperature is given twice"),
    ],
)
def test_a_bad_spec_is_one_clear_line(text: str, error: str) -> None:
    with pytest.raises(SimulatorError, match=error):
        I2cSpec.parse(text)


def test_two_devices_at_one_address_or_two_pins_on_one_line_are_refused() -> None:
    with pytest.raises(SimulatorError, match="two devices at 0x48"):
        check_layout([I2cSpec.parse("lm75@0x48"), I2cSpec.parse("pcf8563@0x48")], 0)
    with pytest.raises(SimulatorError, match="both wired to gpio0:1"):
        check_layout(
            [I2cSpec.parse("lm75@0x48,irq=gpio0:1"), I2cSpec.parse("opt3001@0x44,irq=gpio0:1")],
            8,
        )


def test_a_wired_interrupt_brings_a_gpio_controller_unless_one_is_sized() -> None:
    assert BoardSpec.parse(["opt3001@0x44,irq=gpio0:3"], None).gpio == 8
    assert BoardSpec.parse(["lm75@0x48"], None).gpio == 0
    assert not BoardSpec.parse([], None)
    with pytest.raises(HarnessError, match="gpio0 has lines 0 to 1"):
        BoardSpec.parse(["opt3001@0x44,irq=gpio0:3"], 2)
    with pytest.raises(HarnessError, match="--i2c lm75@0x48,size=2: lm75: unknown option size"):
        BoardSpec.parse(["lm75@0x48,size=2"], None)


def test_the_devicetree_places_each_client_and_its_interrupt(tmp_path: Path) -> None:
    specs = [I2cSpec.parse("opt3001@0x44,irq=gpio0:3"), I2cSpec.parse("lm75@0x48,irq=gpio0:2")]
    blob = write_board_tree(specs, 8, tmp_path)
    tree = fdt.parse_dtb(blob.read_bytes())
    gpio = tree.get_node("/gpio0")
    assert gpio.get_property("socket-path").value == str(tmp_path / "gpio0.sock")
    assert gpio.get_property("virtio-device-id").value == 41
    controller = tree.get_node("/gpio0/gpio")
    assert controller.get_property("compatible").value == "virtio,device29"
    assert controller.get_property("phandle").value == GPIO_PHANDLE
    assert controller.exist_property("interrupt-controller")
    bus = tree.get_node("/i2c0/i2c")
    assert bus.get_property("compatible").value == "virtio,device22"
    light = tree.get_node("/i2c0/i2c/opt3001@44")
    assert light.get_property("compatible").value == "ti,opt3001"
    assert light.get_property("reg").value == 0x44
    assert list(light.get_property("interrupts").data) == [3, 2]  # line 3, falling edge
    # lm75 takes no interrupt: its pin is wired to line 2, the driver is not told.
    sensor = tree.get_node("/i2c0/i2c/lm75@48")
    assert not sensor.exist_property("interrupts")
    assert (tmp_path / "board.dts").read_text().startswith("/dts-v1/;")


def test_a_board_without_i2c_has_no_i2c_node(tmp_path: Path) -> None:
    tree = board_tree([], 4, tmp_path)
    assert [node.name for node in tree.root.nodes] == ["gpio0"]
