"""Interrupt round trip through the RTL8111 driver, simulator to driver and back.

The simulator sets a status bit and sends a datagram on the driver's socket;
the driver's handler clears the bit; the simulator sees it clear. With SWInt
that is the transport alone; with LinkChg the driver also reads the PHY,
prints and changes the carrier. Rates are one interrupt in flight at a time,
each acknowledged before the next, so none can be lost: the driver's count
in /proc/interrupts is checked against the number sent.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from simulators.handle import open_model
from simulators.rtl8111.device import DEVICE
from umlharness import BootRequest, Instance, IomemSpec

from . import kernels
from .stats import summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interrupts", type=int, default=20000, help="SWInt round trips")
    parser.add_argument("--link-changes", type=int, default=2000, help="LinkChg round trips")


def run(args: argparse.Namespace) -> dict[str, Any]:
    artifacts = kernels.artifacts()
    request = BootRequest(artifacts.kernel, artifacts.rootfs, iomem=[IomemSpec("mock")])
    with Instance.boot(request) as vm, open_model(DEVICE, umid=vm.umid) as handle:
        nic = handle.model
        before = _handled(vm)
        swint, swint_rate = _measure(nic.software_interrupt, args.interrupts)
        link, link_rate = _measure(lambda: nic.toggle() and 0.0, args.link_changes, timed=True)
        handled = _handled(vm) - before
    sent = args.interrupts + args.link_changes
    return {
        "swint_round_trip_us": summary(swint, scale=1e6, digits=1),
        "swint_per_s": round(swint_rate),
        "link_change_round_trip_us": summary(link, scale=1e6, digits=1),
        "link_changes_per_s": round(link_rate),
        "interrupts_sent": sent,
        "interrupts_handled": handled,
        "lost": sent - handled,
    }


def _measure(action: Any, count: int, timed: bool = False) -> tuple[list[float], float]:
    samples: list[float] = []
    started = time.perf_counter()
    for _ in range(count):
        began = time.perf_counter()
        action()
        samples.append(time.perf_counter() - began)
    return samples, count / (time.perf_counter() - started)


def _handled(vm: Instance) -> int:
    return sum(line.count for line in vm.interrupts() if line.name == "mock")
