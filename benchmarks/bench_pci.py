"""PCI over virt-pci: MMIO, interrupts and DMA as a driver sees them, and r8169's boot to link.

The generic test driver (uh_pcitest) times the transport from inside the
guest: MMIO reads one at a time, interrupts from an IRQ_RAISE write to its
handler, DMA commands of 1 MiB. Posted writes are counted by the model:
every one must arrive. Boot to link is wall time from starting a guest
with `--pci rtl8111` to r8169's "Link is Up".
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path
from typing import Any

from umlharness import BootRequest, Instance, PciSpec
from umlharness.artifacts import Artifacts
from umlharness.kernel import Kernel

from . import kernels
from .stats import summary

DEVICE = "/sys/bus/pci/devices/0000:00:00.0"
MIB = 1 << 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reads", type=int, default=20000, help="MMIO reads to time")
    parser.add_argument("--writes", type=int, default=20000, help="posted writes to count")
    parser.add_argument("--interrupts", type=int, default=2000, help="interrupts to time")
    parser.add_argument("--dma-runs", type=int, default=10, help="1 MiB DMA commands each way")
    parser.add_argument("--boots", type=int, default=5, help="boots with r8169 to link up")
    parser.add_argument(
        "--compare-kernel",
        type=Path,
        metavar="DIR",
        help="also time MMIO reads on this built kernel (a cache entry such as "
        "~/.cache/umlharness/kernels/KEY), booting it and the current one in turn",
    )
    parser.add_argument("--compare-boots", type=int, default=5, help="boots of each kernel")


def run(args: argparse.Namespace) -> dict[str, Any]:
    artifacts = kernels.artifacts()
    request = BootRequest(artifacts.kernel, artifacts.rootfs, pci=[PciSpec.parse("pcitest")])
    with Instance.boot(request) as vm:
        reads = _bench(vm, "read", args.reads)
        interrupts = _bench(vm, "irq", args.interrupts)
        writes = _posted(vm, args.writes)
        dma = {direction: _dma(vm, direction, args.dma_runs) for direction in ("to", "from")}
    figures: dict[str, Any] = {}
    if args.compare_kernel is not None:
        figures["kernel_comparison"] = _compare_kernels(artifacts, args)
    return figures | {
        "mmio_read_us": {"median": reads["median_us"], "p99": reads["p99_us"]},
        "mmio_reads_per_s": reads["per_s"],
        "interrupt_delivery_us": {"median": interrupts["median_us"], "p99": interrupts["p99_us"]},
        "posted_writes_per_s": writes["per_s"],
        "posted_writes_lost": writes["lost"],
        "dma_to_device_mb_s": dma["to"],
        "dma_from_device_mb_s": dma["from"],
        "boot_to_r8169_link_up_s": summary(_boots_to_link(artifacts, args.boots), digits=3),
    }


def _bench(vm: Instance, what: str, runs: int) -> dict[str, float]:
    vm.check(f"echo '{what} {runs}' > {DEVICE}/bench", timeout=600)
    line = vm.check(f"cat {DEVICE}/bench")
    fields = dict(re.findall(r"(\w+) (\d+)", line))
    if int(fields.get("timeouts", 0)):
        raise RuntimeError(f"interrupts timed out: {line.strip()}")
    return {
        "median_us": int(fields["median_ns"]) / 1e3,
        "p99_us": int(fields["p99_ns"]) / 1e3,
        "per_s": round(runs / (int(fields["total_ns"]) / 1e9)),
    }


def _posted(vm: Instance, writes: int) -> dict[str, int]:
    started = time.perf_counter()
    vm.check(f"echo {writes} > {DEVICE}/posted", timeout=600)
    elapsed = time.perf_counter() - started
    line = vm.check(f"cat {DEVICE}/posted")
    fields = dict(re.findall(r"(\w+) (\d+)", line))
    return {"per_s": round(writes / elapsed), "lost": writes - int(fields["count"])}


def _dma(vm: Instance, direction: str, runs: int) -> float:
    rates = []
    for run in range(runs):
        command = f"to {MIB}" if direction == "to" else f"from {MIB} {run}"
        vm.check(f"echo '{command}' > {DEVICE}/dma", timeout=60)
        line = vm.check(f"cat {DEVICE}/dma")
        match = re.search(r"status (\d+) crc_dev (\S+) crc_drv (\S+).* ns (\d+)", line)
        if not match or match[1] != "1" or match[2] != match[3]:
            raise RuntimeError(f"DMA {direction} failed: {line.strip()}")
        rates.append(MIB / (int(match[4]) / 1e9) / 1e6)
    return round(statistics.median(rates), 1)


def _boots_to_link(artifacts: Artifacts, boots: int) -> list[float]:
    request = BootRequest(artifacts.kernel, artifacts.rootfs, pci=[PciSpec.parse("rtl8111")])
    samples = []
    for _ in range(boots):
        started = time.perf_counter()
        with Instance.boot(request) as vm:
            vm.expect_kernel(r"r8169 \S+ eth0: Link is Up", timeout=30)
            samples.append(time.perf_counter() - started)
    return samples


def _compare_kernels(artifacts: Artifacts, args: argparse.Namespace) -> dict[str, Any]:
    """MMIO read medians per boot, the two kernels booted alternately (the host drifts)."""
    other = Kernel(args.compare_kernel.expanduser().resolve())
    if not other.binary.is_file():
        raise SystemExit(f"--compare-kernel {args.compare_kernel}: no built kernel there")
    medians: dict[str, list[float]] = {"current": [], "other": []}
    for _ in range(args.compare_boots):
        for label, kernel in (("current", artifacts.kernel), ("other", other)):
            request = BootRequest(kernel, artifacts.rootfs, pci=[PciSpec.parse("pcitest")])
            with Instance.boot(request) as vm:
                medians[label].append(_bench(vm, "read", args.reads // 2)["median_us"])
    current, previous = (statistics.median(medians[k]) for k in ("current", "other"))
    return {
        "other_kernel": str(other.path),
        "mmio_read_median_us": {"current": current, "other": previous},
        "ratio_current_to_other": round(current / previous, 3),
    }
