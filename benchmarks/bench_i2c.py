"""I2C transfer round trip and GPIO interrupt round trip, through the in-tree drivers.

I2C: a guest program (`i2cxfer`) reads the LM75 model's temperature register
through /dev/i2c-0 (a pointer write and a 2-byte read in one I2C_RDWR), timing
each transfer with the guest's clock. GPIO: the board drives an input line
and the guest (`gpioline echo`), woken by the line's interrupt, drives an
output line to the same level; the board times set to seen.
"""

from __future__ import annotations

import argparse
from typing import Any

from umlharness import BootRequest, Instance
from umlharness.board import BoardSpec

from . import kernels
from .stats import summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--transfers", type=int, default=2000, help="I2C transfers timed")
    parser.add_argument("--interrupts", type=int, default=1000, help="GPIO round trips timed")


def run(args: argparse.Namespace) -> dict[str, Any]:
    artifacts = kernels.artifacts()
    board = BoardSpec.parse(["lm75@0x48"], 8)
    request = BootRequest(artifacts.kernel, artifacts.rootfs, board=board)
    with Instance.boot(request) as vm:
        vm.check("modprobe lm75")
        output = vm.check(f"i2cxfer /dev/i2c-0 0x48 0 2 {args.transfers}", timeout=120)
        transfers = [int(word) / 1e9 for word in output.splitlines()[1].split()]
        vm.run(f"gpioline echo /dev/gpiochip0 0 1 {args.interrupts} >/dev/null 2>&1 &")
        vm.check("sleep 0.2")
        round_trips = vm.gpio.round_trips(0, 1, args.interrupts)
    return {
        "i2c_transfer_us": summary(transfers, scale=1e6, digits=1),
        "gpio_interrupt_round_trip_us": summary(round_trips, scale=1e6, digits=1),
    }
