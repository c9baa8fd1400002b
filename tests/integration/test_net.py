"""Packets through the PCI RTL8111 and the kernel's unmodified r8169, both ways."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw
from scapy.utils import rdpcap

from simulators.net.nic import Nic, NoFrame
from simulators.net.responder import HOST_MAC
from simulators.net.udpcheck import await_report
from umlharness import Instance

NIC = "rtl8111,host=192.0.2.1/24"
pytestmark = [pytest.mark.slow, pytest.mark.uml(pci=[NIC])]

HOST, GUEST = "192.0.2.1", "192.0.2.2"


def bring_up(uml: Instance) -> None:
    uml.check(f"ip addr add {GUEST}/24 dev eth0 && ip link set eth0 up")
    uml.check(
        "for i in $(seq 100); do [ $(cat /sys/class/net/eth0/carrier) = 1 ] && exit 0; "
        "sleep 0.05; done; exit 1"
    )


def stat(uml: Instance, name: str) -> int:
    return int(uml.check(f"cat /sys/class/net/eth0/statistics/{name}"))


def udp_stats(uml: Instance) -> dict[str, int]:
    lines = [line.split() for line in uml.check("grep ^Udp: /proc/net/snmp").splitlines()]
    return {name: int(value) for name, value in zip(lines[0][1:], lines[1][1:], strict=True)}


def udp_csum_errors(uml: Instance) -> int:
    return udp_stats(uml)["InCsumErrors"]


def to_guest(nic: Nic, payload: bytes = b"x" * 32, dport: int = 9) -> Ether:
    return (
        Ether(dst=nic.mac, src=HOST_MAC)
        / IP(src=HOST, dst=GUEST)
        / UDP(sport=4000, dport=dport)
        / payload
    )


def test_ping_from_the_guest_gets_five_replies(uml: Instance, nic: Nic) -> None:
    bring_up(uml)
    out = uml.check(f"ping -c 5 -W 2 {HOST}")
    assert "5 packets transmitted, 5 packets received" in out
    assert nic.counters()["answered"] >= 6  # an ARP reply and five echo replies


def test_the_host_pings_the_guest_and_expects_its_reply(uml: Instance, nic: Nic) -> None:
    bring_up(uml)
    request = (
        Ether(dst=nic.mac, src=HOST_MAC)
        / IP(src=HOST, dst=GUEST)
        / ICMP(id=0x55, seq=7)
        / b"hello from the host"
    )
    assert nic.send(request)
    reply = nic.expect(IP(src=GUEST, dst=HOST) / ICMP(type=0, id=0x55, seq=7))
    assert reply[Raw].load == b"hello from the host"
    assert reply.src == nic.mac


def test_expect_times_out_naming_what_the_guest_sent(uml: Instance, nic: Nic) -> None:
    bring_up(uml)
    uml.check(f"ping -c 1 -W 2 {HOST}")
    with pytest.raises(NoFrame, match=r"no frame matching .* in 0.2s") as failed:
        nic.expect(UDP(dport=12345), timeout=0.2)
    assert "echo-request" in str(failed.value) or "ARP" in str(failed.value)


def test_a_capture_holds_both_directions(uml: Instance, nic: Nic, tmp_path: Path) -> None:
    bring_up(uml)
    with nic.capture(tmp_path / "out.pcap") as path:
        uml.check(f"ping -c 2 -W 2 {HOST}")
    packets = rdpcap(str(path))
    kinds = {(p[ICMP].type, p[IP].src) for p in packets if ICMP in p}
    assert {(8, GUEST), (0, HOST)} <= kinds
    assert any(ARP in p for p in packets) or len(kinds) >= 2


def test_link_down_stops_traffic_and_link_up_resumes_it(uml: Instance, nic: Nic) -> None:
    bring_up(uml)
    uml.check(f"ping -c 1 -W 2 {HOST}")
    nic.model.link_down()
    assert not nic.send(to_guest(nic))  # no link, no frame
    assert not uml.run(f"ping -c 1 -W 1 {HOST}").ok
    nic.model.link_up()
    uml.check(
        "for i in $(seq 100); do [ $(cat /sys/class/net/eth0/carrier) = 1 ] && exit 0; "
        "sleep 0.05; done; exit 1"
    )
    assert "1 packets received" in uml.check(f"ping -c 1 -W 2 {HOST}")


def test_a_bad_fcs_and_a_runt_are_dropped_by_the_chip_and_counted(uml: Instance, nic: Nic) -> None:
    bring_up(uml)
    before = stat(uml, "rx_packets")
    assert not nic.send(to_guest(nic), fcs_ok=False)
    assert not nic.send(bytes(to_guest(nic))[:40], pad=False)
    assert nic.counters()["tally"]["rx_errors"] == 2
    assert stat(uml, "rx_packets") == before
    assert "1 packets received" in uml.check(f"ping -c 1 -W 2 {HOST}")  # still working


def test_a_bad_udp_checksum_reaches_the_stack_unvouched_for(uml: Instance, nic: Nic) -> None:
    bring_up(uml)
    before = udp_csum_errors(uml)
    frame = bytearray(bytes(to_guest(nic)))
    frame[-1] ^= 0xFF  # the payload changed, the checksum did not
    assert nic.send(bytes(frame))
    uml.check(f"ping -c 1 -W 2 {HOST}")  # the frame before it has been processed
    assert udp_csum_errors(uml) == before + 1


def test_a_frame_longer_than_a_buffer_is_a_length_error(uml: Instance, nic: Nic) -> None:
    bring_up(uml)
    before = stat(uml, "rx_length_errors")
    assert nic.send(to_guest(nic, b"z" * 17000))  # r8169's buffers hold 16 KiB - 1
    uml.check(f"ping -c 1 -W 2 {HOST}")
    # Two buffers, FS then LS: r8169 drops each as a fragment.
    assert stat(uml, "rx_length_errors") == before + 2


def test_a_full_ring_is_missed_and_the_driver_recovers(uml: Instance, nic: Nic) -> None:
    bring_up(uml)
    assert uml.pid is not None
    # The guest's kernel stopped, as one that cannot keep up: its 256 buffers
    # fill, and what comes after them has nowhere to go (RxDescUnavail).
    os.kill(uml.pid, signal.SIGSTOP)
    try:
        taken = nic.send_burst([to_guest(nic, bytes([n % 256]) * 64) for n in range(300)])
    finally:
        os.kill(uml.pid, signal.SIGCONT)
    assert taken == 256
    assert nic.counters()["tally"]["rx_missed"] == 300 - 256
    assert "1 packets received" in uml.check(f"ping -c 1 -W 2 {HOST}")
    assert stat(uml, "rx_missed_errors") == 300 - 256  # from the tally r8169 dumps


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shutil.which("sim") or "sim", "net", *args], capture_output=True, text=True, timeout=60
    )


def test_sim_net_sends_expects_captures_and_reports(
    uml: Instance, nic: Nic, tmp_path: Path
) -> None:
    bring_up(uml)
    target = ["--umid", uml.umid]
    sent = sim("send", *target, "--length", "100", "--count", "3", "--dport", "5000")
    assert sent.returncode == 0 and "sent 3, taken 3" in sent.stdout, sent.stderr
    assert stat(uml, "rx_packets") >= 3

    capture = subprocess.Popen(
        [
            shutil.which("sim") or "sim",
            "net",
            "capture",
            *target,
            str(tmp_path / "c.pcap"),
            "--seconds",
            "3",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    expect = subprocess.Popen(
        [
            shutil.which("sim") or "sim",
            "net",
            "expect",
            *target,
            "--ip-src",
            GUEST,
            "--timeout",
            "10",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1)  # both are listening
    uml.check(f"ping -c 1 -W 2 {HOST}")
    assert expect.wait(15) == 0
    assert "echo-request" in (expect.stdout.read() if expect.stdout else "")
    assert capture.wait(15) == 0
    assert any(ICMP in p for p in rdpcap(str(tmp_path / "c.pcap")))

    status = sim("status", *target)
    assert status.returncode == 0
    assert json.loads(status.stdout)["tally"]["rx_packets"] >= 4

    missed = sim("expect", *target, "--dport", "1", "--timeout", "0.2")
    assert missed.returncode == 2
    assert missed.stderr.strip() == (
        "sim: error: no frame matching dport=1 from the guest in 0.2s; it sent 0 other(s)"
    )


FRAMES = 100_000


def test_100k_udp_frames_guest_to_host_none_lost(uml: Instance, nic: Nic) -> None:
    bring_up(uml)
    nic.udp_sink(5000, FRAMES)
    out = uml.check(
        f"udpcheck send {HOST} 5000 --count {FRAMES} --size 1472 --stream 11", timeout=300
    )
    assert f"sent {FRAMES} frames" in out
    deadline = time.monotonic() + 30
    while nic.udp_sink_report(5000)["received"] < FRAMES and time.monotonic() < deadline:
        time.sleep(0.1)
    report = nic.udp_sink_report(5000)
    found = (report["received"], report["lost"], report["duplicated"], report["corrupted"])
    guest = {"SndbufErrors": udp_stats(uml)["SndbufErrors"], "tx_dropped": stat(uml, "tx_dropped")}
    assert found == (FRAMES, 0, 0, 0), (report, guest)


def test_100k_udp_frames_host_to_guest_none_lost(uml: Instance, nic: Nic) -> None:
    bring_up(uml)
    uml.check(
        f"udpcheck recv 5000 --count {FRAMES} --stream 12 --timeout 20 > /tmp/recv.txt 2>&1 &"
    )
    uml.check(
        "for i in $(seq 100); do grep -q ':1388 ' /proc/net/udp && exit 0; sleep 0.05; done; exit 1"
    )
    sent = nic.udp_source(FRAMES, 1472, dst=GUEST, dport=5000, stream=12)
    assert sent["sent"] == FRAMES
    out = uml.check(await_report("/tmp/recv.txt"), timeout=150)
    assert f"received {FRAMES} of {FRAMES} frames: lost 0, duplicated 0, corrupted 0" in out, out
