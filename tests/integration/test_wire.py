"""Guests on one wire: each with its own unmodified r8169, joined by a learning switch."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.utils import rdpcap

from simulators.net.wire import WireMonitor, _bound, _prefix
from umlharness import Instance

pytestmark = pytest.mark.slow


def on_wire(uml_boot, wire: str, n: int) -> Instance:  # type: ignore[no-untyped-def]
    vm = uml_boot(pci=[f"rtl8111,wire={wire},mac=02:00:00:00:00:{n:02x}"])
    vm.check(f"ip addr add 10.9.0.{n}/24 dev eth0 && ip link set eth0 up")
    vm.check(
        "for i in $(seq 100); do [ $(cat /sys/class/net/eth0/carrier) = 1 ] && exit 0; "
        "sleep 0.05; done; exit 1"
    )
    return vm


def test_two_guests_ping_each_other_and_the_wire_capture_sees_both_ways(
    uml_boot,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    wire = f"lab-{uuid.uuid4().hex[:8]}"
    first, second = on_wire(uml_boot, wire, 1), on_wire(uml_boot, wire, 2)
    monitor = WireMonitor(wire, tmp_path / "lab.pcap")
    try:
        assert "3 packets received" in first.check("ping -c 3 -W 2 10.9.0.2")
        assert "1 packets received" in second.check("ping -c 1 -W 2 10.9.0.1")
    finally:
        frames = monitor.close()
    packets = rdpcap(str(tmp_path / "lab.pcap"))
    assert frames == len(packets)
    echoes = {(p[IP].src, p[ICMP].type) for p in packets if ICMP in p}
    assert {("10.9.0.1", 8), ("10.9.0.2", 0), ("10.9.0.2", 8), ("10.9.0.1", 0)} <= echoes


def test_a_wire_leaves_nothing_when_its_guests_are_gone(uml_boot) -> None:  # type: ignore[no-untyped-def]
    wire = f"gone-{uuid.uuid4().hex[:8]}"
    vm = on_wire(uml_boot, wire, 3)
    assert len(_bound(_prefix(wire, "port"))) == 1
    vm.kill()  # the port is its PCI backend's abstract socket: it goes with the process
    assert _bound(_prefix(wire, "port")) == []
