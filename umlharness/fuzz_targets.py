"""The project's own fuzz targets: its four drivers and the kernel's r8169.

`umlharness fuzz NAME` takes one of these or, for a driver of your own,
`package.module:TARGET` (a `FuzzTarget`, see docs/fuzzing.md).
"""

from __future__ import annotations

from typing import Any

from simulators.devices import import_object

from .errors import HarnessError
from .fuzz import FuzzTarget

THERMO = "/sys/devices/platform/uh_thermo"
PCITEST = "/sys/bus/pci/devices/0000:00:00.0"


def _spurious(model: Any) -> None:
    model.misbehave.spurious_interrupts(1)


def _link_down(model: Any) -> None:
    model.link_down()


def _link_up(model: Any) -> None:
    model.link_up()


def _raise_line(line: Any) -> None:
    line.raise_irq()


def _pcitest_msi(model: Any) -> None:
    model.raise_msi(0)


NET = "/sys/class/net/eth0"
NIC_WORKLOAD = (
    "ip link set eth0 up",
    "ip addr add 192.0.2.2/24 dev eth0",
    f"cat {NET}/carrier {NET}/operstate",
    "ping -c 1 -W 1 192.0.2.1",
    f"cat {NET}/statistics/rx_packets {NET}/statistics/tx_packets",
    "ip link set eth0 down",
)

TARGETS: dict[str, FuzzTarget] = {
    target.name: target
    for target in (
        FuzzTarget(
            "uh_thermo",
            "iomem",
            "thermo",
            device="thermo",
            workload=(
                "modprobe uh_thermo",
                f"cat {THERMO}/temp {THERMO}/alert",
                f"echo 40000 > {THERMO}/threshold",
                f"cat {THERMO}/temp {THERMO}/threshold {THERMO}/alert",
                "rmmod uh_thermo",
            ),
            events={"interrupt": _spurious},
        ),
        FuzzTarget(
            "uh_rtl8111",
            "iomem",
            "mock",
            device="rtl8111",
            workload=("modprobe uh_rtl8111", *NIC_WORKLOAD, "rmmod uh_rtl8111"),
            events={"interrupt": _spurious, "link_down": _link_down, "link_up": _link_up},
        ),
        FuzzTarget(
            "uh_fpga",
            "iomem",
            "fpga0:4M",
            device="fpga",
            workload=(
                "modprobe uh_fpga",
                "cat /sys/class/*/fpga0/reports /sys/class/*/fpga0/overflows",
                "fpga_reader --dev /dev/fpga0 --count 1 --timeout 1",
                "cat /sys/class/*/fpga0/ring_size",
                "rmmod uh_fpga",
            ),
            events={"interrupt": _raise_line},
        ),
        FuzzTarget(
            "uh_pcitest",
            "pci",
            "pcitest",
            device="pcitest",
            workload=(
                "modprobe uh_pcitest",
                f"cat {PCITEST}/scratch {PCITEST}/widths {PCITEST}/irq_counts",
                f"echo 'from 4096 7' > {PCITEST}/dma && cat {PCITEST}/dma",
                f"echo 1 > {PCITEST}/raise_irq; cat {PCITEST}/irq_counts {PCITEST}/window",
                "rmmod uh_pcitest",
            ),
            registers="bar.regs",
            fixed=frozenset({"ID", "VERSION"}),
            events={"interrupt": _pcitest_msi},
        ),
        FuzzTarget(
            "r8169",
            "pci",
            "rtl8111,host=192.0.2.1/24",
            device="rtl8111",
            workload=("modprobe r8169", *NIC_WORKLOAD, "rmmod r8169"),
            fixed=frozenset({"TxConfig"}),  # the chip's version: r8169 refuses others
            events={"interrupt": _spurious, "link_down": _link_down, "link_up": _link_up},
            in_tree=True,
        ),
    )
}


def fuzz_target(name: str) -> FuzzTarget:
    """A built-in target by name, or `package.module:NAME` of your own."""
    if name in TARGETS:
        return TARGETS[name]
    if ":" not in name:
        raise HarnessError(
            f"no fuzz target {name!r}; targets: {', '.join(TARGETS)}, "
            "or your own as package.module:TARGET"
        )
    try:
        target = import_object(name, "fuzz target")
    except Exception as error:  # its module's own failure, in one line
        raise HarnessError(f"fuzz target {name}: {error}") from None
    if not isinstance(target, FuzzTarget):
        raise HarnessError(f"fuzz target {name}: not a FuzzTarget")
    return target
