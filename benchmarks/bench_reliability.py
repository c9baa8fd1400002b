"""Leftovers and survivors: does anything of a guest outlive it, however it ends?

- boots: guests booted (an iomem region, every --pci-every-th one also a PCI
  RTL8111), a command run, powered off; then the run directory, the
  processes and the sockets are searched for anything of that guest.
- kills: `umlharness boot --run ...` (every other one with --pci rtl8111)
  SIGKILLed at a random moment between its start and 1.5 s into its run;
  survivors are the guest's processes (UML, backends, watchdog) still alive
  2 s later, and the time until the last one went is measured.
- guests_at_once: that many guests booted and alive together, each running a
  command, then all powered off.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from umlharness import BootRequest, Instance, IomemSpec, PciSpec
from umlharness.artifacts import Artifacts
from umlharness_shared.registry import processes_of
from umlharness_shared.rundir import run_dir

from . import kernels
from .stats import summary

UMLHARNESS = str(Path(sys.executable).with_name("umlharness"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--boots", type=int, default=100, help="boots to check (default 100)")
    parser.add_argument(
        "--pci-every", type=int, default=5, help="every Nth boot also has a PCI device (default 5)"
    )
    parser.add_argument("--kills", type=int, default=20, help="harnesses to SIGKILL (default 20)")
    parser.add_argument("--guests", type=int, default=24, help="guests alive at once (default 24)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the kill moments")


def leftovers(umid: str) -> int:
    left = len(processes_of(umid))
    left += int((run_dir() / umid).exists())
    return left


def boots(artifacts: Artifacts, count: int, pci_every: int) -> dict[str, Any]:
    left = 0
    for index in range(count):
        umid = f"bench-boot-{index}"
        pci = [PciSpec.parse("rtl8111")] if pci_every and index % pci_every == 0 else []
        request = BootRequest(
            artifacts.kernel, artifacts.rootfs, iomem=[IomemSpec("mock")], pci=pci, umid=umid
        )
        with Instance.boot(request) as vm:
            vm.check("ip link show eth0")
        left += leftovers(umid)
    return {"boots": count, "with_pci": len(range(0, count, pci_every or count + 1)), "left": left}


def kills(count: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    survivors = 0
    gone_after: list[float] = []
    for index in range(count):
        umid = f"bench-kill-{index}"
        pci = ["--pci", "rtl8111"] if index % 2 else []
        harness = subprocess.Popen(
            [UMLHARNESS, "boot", "--umid", umid, *pci, "--run", "sleep 600"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.0, 2.0))
        harness.send_signal(signal.SIGKILL)
        harness.wait()
        killed = time.monotonic()
        while processes_of(umid) and time.monotonic() - killed < 2.0:
            time.sleep(0.005)
        gone_after.append(time.monotonic() - killed)
        left = processes_of(umid)
        survivors += len(left)
        for pid in left:  # not to disturb the next round; counted above
            os.kill(pid, signal.SIGKILL)
    return {"kills": count, "survivors": survivors, "gone_after_s": summary(gone_after)}


def at_once(artifacts: Artifacts, count: int) -> dict[str, Any]:
    started = time.perf_counter()
    guests: list[Instance] = []
    try:
        for index in range(count):
            request = BootRequest(
                artifacts.kernel,
                artifacts.rootfs,
                iomem=[IomemSpec("mock")],
                mem="64M",
                umid=f"bench-many-{index}",
            )
            guests.append(Instance.boot(request))
        answered = sum(vm.run("ip link show eth0").ok for vm in guests)
    finally:
        for vm in guests:
            vm.shutdown()
    left = sum(leftovers(f"bench-many-{index}") for index in range(count))
    return {
        "guests": count,
        "answered": answered,
        "left": left,
        "seconds": round(time.perf_counter() - started, 2),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    artifacts = kernels.artifacts()
    return {
        "boots": boots(artifacts, args.boots, args.pci_every),
        "kills": kills(args.kills, args.seed),
        "guests_at_once": at_once(artifacts, args.guests),
        "cpus": os.cpu_count(),
    }
