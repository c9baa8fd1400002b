"""uh_gpio8 as a fuzz target: `umlharness fuzz gpio8_model.fuzz:TARGET`, or the
`uml_fuzz` fixture in tests/test_gpio8.py."""

from __future__ import annotations

from typing import Any

from umlharness.fuzz import FuzzTarget

SYSFS = "/sys/devices/platform/uh_gpio8"


def _spurious(model: Any) -> None:
    model.misbehave.spurious_interrupts(1)


TARGET = FuzzTarget(
    "uh_gpio8",
    "iomem",
    "gpio8",
    workload=(
        "modprobe uh_gpio8",
        f"cat {SYSFS}/value {SYSFS}/irq_mask {SYSFS}/changes",
        f"echo 0x0f > {SYSFS}/irq_mask",
        f"cat {SYSFS}/value {SYSFS}/changes",
        "rmmod uh_gpio8",
    ),
    device="gpio8",  # its model runs; the pokes go to its register map
    fixed=frozenset({"ID"}),  # the probe checks it first
    events={"interrupt": _spurious},
)
