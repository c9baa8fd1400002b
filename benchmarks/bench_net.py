"""Packets through the PCI RTL8111 and the kernel's r8169: round trips and UDP throughput.

ping_host_us: busybox ping's round trip from the guest to the host end's
responder (--pci rtl8111,host=...). ping_guest_us: from one guest to
another on a wire (--pci rtl8111,wire=...). ping_loopback_us: the same
ping to the guest's own loopback, no NIC at all: what UML's system calls
cost a ping, the floor under the other two. ping_host_unplaced_us:
ping_host_us with UML and the backend left to the host's scheduler
(BootRequest.place_cpus=False; umlharness/placement.py). udp_*: the guest's udpcheck
sending N frames to a checking sink on the host (guest_to_host), and the
host's flow-controlled source sending N frames to the guest's udpcheck
(host_to_guest), with 20-byte payloads (64-byte frames) and 1472-byte ones
(1514-byte frames): frames/s and Mbit/s of Ethernet frames, and what was
lost, duplicated or corrupted. Each figure is the median of `--runs` runs.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
import uuid
from typing import Any

from simulators.handle import open_model
from simulators.net.nic import Nic
from simulators.net.udpcheck import await_report
from simulators.rtl8111.device import DEVICE
from umlharness import BootRequest, Instance, PciSpec

from . import kernels
from .stats import summary

HOST, GUEST = "192.0.2.1", "192.0.2.2"
PAYLOADS = {"64B": 20, "1514B": 1472}  # udpcheck payload -> Ethernet frame size
UDP_OVERHEAD = 14 + 20 + 8
PORT = 5000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--pings", type=int, default=200, help="round trips per run (default 200)")
    parser.add_argument("--frames", type=int, default=100_000, help="UDP frames per run")
    parser.add_argument("--runs", type=int, default=3, help="runs of each UDP figure (default 3)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    artifacts = kernels.artifacts()

    def boot(spec: str, place_cpus: bool = True) -> Instance:
        request = BootRequest(
            artifacts.kernel, artifacts.rootfs, pci=[PciSpec.parse(spec)], place_cpus=place_cpus
        )
        return Instance.boot(request)

    figures: dict[str, Any] = {}
    with boot(f"rtl8111,host={HOST}/24") as vm:
        bring_up(vm, GUEST)
        figures["ping_host_us"] = summary(pings(vm, HOST, args.pings), digits=1)
        vm.check("ip link set lo up")
        figures["ping_loopback_us"] = summary(pings(vm, "127.0.0.1", args.pings), digits=1)
        handle = open_model(DEVICE, umid=vm.umid)
        with handle:
            nic = Nic(handle.model)
            for name, size in PAYLOADS.items():
                out = [guest_to_host(vm, nic, size, args.frames) for _ in range(args.runs)]
                figures[f"udp_guest_to_host_{name}"] = udp_summary(out, size)
                back = [host_to_guest(vm, nic, size, args.frames) for _ in range(args.runs)]
                figures[f"udp_host_to_guest_{name}"] = udp_summary(back, size)
    with boot(f"rtl8111,host={HOST}/24", place_cpus=False) as vm:
        bring_up(vm, GUEST)
        figures["ping_host_unplaced_us"] = summary(pings(vm, HOST, args.pings), digits=1)
    wire = f"bench-{uuid.uuid4().hex[:8]}"
    with (
        boot(f"rtl8111,wire={wire},mac=02:00:00:00:00:01") as first,
        boot(f"rtl8111,wire={wire},mac=02:00:00:00:00:02") as second,
    ):
        bring_up(first, "10.9.0.1")
        bring_up(second, "10.9.0.2")
        figures["ping_guest_us"] = summary(pings(first, "10.9.0.2", args.pings), digits=1)
    return figures | {"frames_per_run": args.frames, "release": artifacts.kernel.release}


def bring_up(vm: Instance, address: str) -> None:
    vm.check(f"ip addr add {address}/24 dev eth0 && ip link set eth0 up")
    vm.check(
        "for i in $(seq 200); do [ $(cat /sys/class/net/eth0/carrier) = 1 ] && exit 0; "
        "sleep 0.05; done; exit 1"
    )


def pings(vm: Instance, address: str, count: int) -> list[float]:
    """Round trips in µs, as busybox ping reports them (the first, with ARP, left out)."""
    out = vm.check(f"ping -c {count + 1} -i 0.01 -W 2 {address}", timeout=count + 60)
    times = [float(t) * 1000 for t in re.findall(r"time=([\d.]+) ms", out)][1:]
    if len(times) < count:
        raise RuntimeError(f"{count - len(times)} of {count} pings were lost:\n{out[-500:]}")
    return times


def guest_to_host(vm: Instance, nic: Nic, size: int, frames: int) -> dict[str, float]:
    nic.udp_sink(PORT, frames)
    vm.check(f"udpcheck send {HOST} {PORT} --count {frames} --size {size}", timeout=600)
    deadline = time.monotonic() + 60
    report = nic.udp_sink_report(PORT)
    while report["received"] + report["corrupted"] < frames and time.monotonic() < deadline:
        time.sleep(0.05)
        report = nic.udp_sink_report(PORT)
    return {**report, "seconds": report["seconds"]}


def host_to_guest(vm: Instance, nic: Nic, size: int, frames: int) -> dict[str, float]:
    vm.check(f"udpcheck recv {PORT} --count {frames} --timeout 30 > /tmp/recv.txt 2>&1 &")
    vm.check(
        f"for i in $(seq 100); do grep -q ':{PORT:04X} ' /proc/net/udp && exit 0; "
        "sleep 0.05; done; exit 1"
    )
    sent = nic.udp_source(frames, size, dst=GUEST, dport=PORT)
    out = vm.check(await_report("/tmp/recv.txt", 600), timeout=660)
    fields = re.search(
        r"received (\d+) of \d+ frames: lost (\d+), duplicated (\d+), corrupted (\d+).*?; "
        r"([\d.]+) s",
        out,
    )
    if fields is None:
        raise RuntimeError(f"udpcheck recv said: {out}")
    received, lost, duplicated, corrupted = (int(fields[n]) for n in range(1, 5))
    return {
        "received": received,
        "lost": lost,
        "duplicated": duplicated,
        "corrupted": corrupted,
        "seconds": float(sent["seconds"]),
    }


def udp_summary(runs: list[dict[str, float]], size: int) -> dict[str, Any]:
    frame_bits = (size + UDP_OVERHEAD) * 8
    rates = [r["received"] / r["seconds"] for r in runs if r["seconds"]]
    median = statistics.median(rates) if rates else 0.0
    return {
        "frames_per_s": round(median),
        "mbit_s": round(median * frame_bits / 1e6, 1),
        "lost": sum(int(r["lost"]) for r in runs),
        "duplicated": sum(int(r["duplicated"]) for r in runs),
        "corrupted": sum(int(r["corrupted"]) for r in runs),
        "runs": len(runs),
    }
