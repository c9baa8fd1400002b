"""uh_gpio8 in a real guest through the umlharness pytest plugin, and its model alone.

The plugin reads [tool.umlharness] in pyproject.toml: it builds drivers/,
imports gpio8_model from the project's directory and, for the device the
file lists, offers a fixture called `gpio8`: the model of the `uml` guest's
gpio8 region.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from simulators.irq import InterruptLine
from simulators.regfile import RegisterFile
from umlharness import Instance
from umlharness.fuzz import Campaign
from umlharness.testing import FakeDriver, check_header

from gpio8_model.fuzz import TARGET
from gpio8_model.model import Gpio8
from gpio8_model.regs import GPIO8, SIZE

ROOT = Path(__file__).resolve().parents[1]
SYSFS = "/sys/devices/platform/uh_gpio8"


def read(uml: Instance, attribute: str) -> str:
    return uml.check(f"cat {SYSFS}/{attribute}").strip()


@pytest.mark.uml(iomem=["gpio8"])
def test_pins_read_back(uml: Instance, gpio8: Gpio8) -> None:
    gpio8.set_pins(0xA5)
    assert read(uml, "value") == "0xa5"
    gpio8.set_pin(1, 1)
    gpio8.set_pin(7, 0)
    assert read(uml, "value") == "0x27"


# strict: the test fails if the driver writes bytes of the region outside the map.
@pytest.mark.uml(iomem=["gpio8"], strict=True)
def test_a_change_of_an_enabled_pin_interrupts(uml: Instance, gpio8: Gpio8) -> None:
    assert read(uml, "irq_mask") == "0xff"  # the driver enables every pin
    assert gpio8.set_pin(3, 1) is True  # the driver acknowledged the change
    assert read(uml, "changes") == "1"
    assert [line.count for line in uml.interrupts() if line.name == "gpio8"] == [1]

    uml.check(f"echo 0x0f > {SYSFS}/irq_mask")
    assert gpio8.regs.read("IE") == 0x0F
    assert gpio8.set_pin(5, 1) is False  # masked: no interrupt
    assert gpio8.set_pin(3, 0) is True
    assert read(uml, "changes") == "2"
    assert read(uml, "value") == "0x20"


def test_the_model_interrupts_for_enabled_pins_only(tmp_path: Path) -> None:
    regs = RegisterFile(GPIO8, np.zeros(SIZE, np.uint8), device="gpio8")
    regs.write("IE", 0x0F)  # what the driver's irq_mask would write
    handled: list[int] = []

    def interrupt() -> None:
        """uh_gpio8's interrupt handler, in Python."""
        changed = regs.read("CHANGED") & regs.read("IE")
        if changed:
            regs.clear_bits("CHANGED", changed)  # the acknowledgement
            handled.append(changed)

    with FakeDriver(tmp_path / "gpio8", interrupt), InterruptLine(tmp_path / "gpio8") as line:
        model = Gpio8(regs, line, ack_timeout=2)
        assert model.set_pin(3, 1) is True
        assert model.set_pin(6, 1) is False  # masked
        assert model.set_pins(0x00) is True  # pins 3 and 6 fall; only 3 interrupts
    assert handled == [0x08, 0x08]
    assert (regs.read("IN"), regs.read("CHANGED")) == (0x00, 0x00)


def test_the_driver_header_matches_the_register_map() -> None:
    check_header("gpio8_model.regs", root=ROOT)


def test_weird_register_contents_do_not_crash_the_driver(
    uml_fuzz: Callable[..., Campaign],
) -> None:
    """Each example in a fresh guest of the KASAN kernel; a crash is saved to
    fuzz-crashes/ as a reproducer (`umlharness replay FILE`)."""
    uml_fuzz(TARGET, examples=10, seed=1).check()
