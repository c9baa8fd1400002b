"""The host end of a NIC's cable and the test-side Nic, without a guest."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw
from scapy.utils import rdpcap

from simulators.errors import SimulatorError
from simulators.net.host import HostEnd
from simulators.net.nic import Nic, NoFrame
from simulators.net.responder import HOST_MAC, Responder
from simulators.net.udpcheck import Checker, payload

GUEST_MAC = "00:e0:4c:68:11:01"


class Wire:
    """A HostEnd running, with what it sent to the NIC recorded."""

    def __init__(self, responder: Responder | None = None) -> None:
        self.to_guest: list[bytes] = []
        self.host = HostEnd(
            lambda frame, fcs_ok, flow: bool(self.to_guest.append(frame)) or True, responder
        )

    # What a model offers the Nic, here straight from the host end.
    def mac(self) -> bytes:
        return bytes.fromhex(GUEST_MAC.replace(":", ""))

    def __getattr__(self, name: str) -> object:
        return getattr(self.host, name)

    def net_status(self) -> dict[str, object]:
        return self.host.status()


@pytest.fixture
def wire() -> Iterator[Wire]:
    wire = Wire(Responder("192.0.2.1/24"))
    yield wire
    wire.host.close()


def from_guest(payload: bytes = b"p", dport: int = 9) -> bytes:
    return bytes(
        Ether(src=GUEST_MAC, dst=HOST_MAC)
        / IP(src="192.0.2.2", dst="192.0.2.1")
        / UDP(dport=dport)
        / payload
    )


def test_the_responder_answers_arp_and_ping_from_its_own_thread(wire: Wire) -> None:
    wire.host.from_nic(
        bytes(
            Ether(src=GUEST_MAC, dst="ff:ff:ff:ff:ff:ff")
            / ARP(hwsrc=GUEST_MAC, psrc="192.0.2.2", pdst="192.0.2.1")
        )
    )
    wire.host.from_nic(
        bytes(
            Ether(src=GUEST_MAC, dst=HOST_MAC)
            / IP(src="192.0.2.2", dst="192.0.2.1")
            / ICMP(id=3, seq=9)
            / b"abc"
        )
    )
    wire.host.from_nic(
        bytes(
            Ether(src=GUEST_MAC, dst=HOST_MAC)
            / ARP(hwsrc=GUEST_MAC, psrc="192.0.2.2", pdst="192.0.2.99")
        )
    )
    deadline = time.monotonic() + 2
    while len(wire.to_guest) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    arp, echo = (Ether(frame) for frame in wire.to_guest)
    assert arp[ARP].op == 2 and arp[ARP].hwsrc == HOST_MAC and arp[ARP].pdst == "192.0.2.2"
    assert echo[ICMP].type == 0 and (echo[ICMP].id, echo[ICMP].seq) == (3, 9)
    assert echo[Raw].load == b"abc"
    assert len(wire.to_guest[0]) == 60  # padded, as a MAC sends it


@settings(max_examples=50, deadline=None)
@given(
    ident=st.integers(0, 0xFFFF),
    seq=st.integers(0, 0xFFFF),
    data=st.binary(max_size=1400),
    ttl=st.integers(1, 255),
    padding=st.integers(0, 40),
)
def test_an_echo_reply_is_the_one_scapy_builds(
    ident: int, seq: int, data: bytes, ttl: int, padding: int
) -> None:
    request = (
        bytes(
            Ether(src=GUEST_MAC, dst=HOST_MAC)
            / IP(src="192.0.2.2", dst="192.0.2.1", ttl=ttl, id=7)
            / ICMP(id=ident, seq=seq)
            / data
        )
        + b"\0" * padding
    )
    expected = (
        Ether(dst=GUEST_MAC, src=HOST_MAC)
        / IP(src="192.0.2.1", dst="192.0.2.2", ttl=64)
        / ICMP(type=0, id=ident, seq=seq)
        / data
    )
    assert Responder("192.0.2.1/24").answer(request) == bytes(expected)


@pytest.mark.parametrize(
    "frame",
    [
        Ether(dst=HOST_MAC) / IP(src="192.0.2.2", dst="192.0.2.9") / ICMP(),  # not our address
        Ether(dst=HOST_MAC) / IP(src="192.0.2.2", dst="192.0.2.1") / ICMP(type=0),  # a reply
        Ether(dst=HOST_MAC) / IP(src="192.0.2.2", dst="192.0.2.1", frag=8) / ICMP(),
        Ether(dst=HOST_MAC) / IP(src="192.0.2.2", dst="192.0.2.1") / UDP(),
        Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(op=2, psrc="192.0.2.2", pdst="192.0.2.1"),
        Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="192.0.2.2", pdst="192.0.2.2"),
    ],
    ids=["other-host", "echo-reply", "fragment", "udp", "arp-reply", "arp-for-another"],
)
def test_the_responder_leaves_what_is_not_for_it(frame: Ether) -> None:
    responder = Responder("192.0.2.1/24")
    assert responder.answer(bytes(frame)) is None
    assert responder.answered == 0


def test_a_bad_host_address_is_one_clear_error() -> None:
    with pytest.raises(Exception, match="an IPv4 address with its prefix"):
        Responder("192.0.2.300/24")


def test_expect_matches_templates_bytes_and_callables_in_order(wire: Wire) -> None:
    nic = Nic(wire)
    for port in (1, 2, 3):
        wire.host.from_nic(from_guest(dport=port))
    assert nic.expect(UDP(dport=2), timeout=2)[UDP].dport == 2
    assert nic.expect(lambda f: UDP in f, timeout=2)[UDP].dport == 3  # 1 was passed over
    wire.host.from_nic(from_guest(b"needle"))
    assert nic.expect(IP(dst="192.0.2.1") / UDP() / b"needle", timeout=2)
    with pytest.raises(NoFrame, match=r"dport=echo.*in 0.1s; it sent 0 other"):
        nic.expect(UDP(dport=7), timeout=0.1)
    wire.host.from_nic(from_guest(dport=5))
    assert nic.expect(from_guest(dport=5)[:20], timeout=2)


def test_a_capture_is_a_pcap_of_both_directions(wire: Wire, tmp_path: Path) -> None:
    nic = Nic(wire)
    with nic.capture(tmp_path / "both.pcap") as path:
        nic.send(Ether(dst=GUEST_MAC) / IP(dst="192.0.2.2") / UDP(dport=1))
        wire.host.from_nic(from_guest(dport=2))
        nic.expect(UDP(dport=2), timeout=2)
    ports = [p[UDP].dport for p in rdpcap(str(path))]
    assert ports == [1, 2]


def test_a_capture_into_a_missing_directory_is_refused(wire: Wire, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="is not a directory"):
        wire.host.capture_start(tmp_path / "nope" / "x.pcap")


def test_the_checker_counts_lost_duplicated_corrupted_reordered_and_strangers() -> None:
    checker = Checker(5)
    for seq in (0, 3, 1, 1):
        checker.take(payload(7, seq, 5, 64))
    damaged = bytearray(payload(7, 4, 5, 64))
    damaged[-1] ^= 1
    checker.take(bytes(damaged))
    checker.take(payload(8, 2, 5, 64))  # another run's
    checker.take(b"UHCK")  # too short
    assert checker.report() == {
        "count": 5,
        "received": 3,
        "lost": 2,
        "first_lost": [2, 4],
        "duplicated": 1,
        "corrupted": 2,
        "reordered": 1,
        "other_streams": 1,
        "octets": 192,
    }
    with pytest.raises(SimulatorError, match="20 to 65507 bytes"):
        payload(1, 0, 1, 19)


def test_a_udp_sink_checks_what_the_guest_sends_to_its_port(wire: Wire) -> None:
    wire.host.udp_sink(5000, count=3)
    for seq in range(3):
        wire.host.from_nic(from_guest(payload(9, seq, 3, 100), dport=5000))
    wire.host.from_nic(from_guest(payload(9, 0, 3, 100), dport=5001))  # another port
    deadline = time.monotonic() + 2
    while wire.host.udp_sink_report(5000)["received"] < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    report = wire.host.udp_sink_report(5000)
    assert (report["received"], report["lost"], report["corrupted"]) == (3, 0, 0)


def test_a_udp_source_waits_for_room_and_sends_every_frame() -> None:
    sent: list[bytes] = []
    refusals = iter([False, False] + [True] * 10)  # the ring is full twice at first
    host = HostEnd(lambda frame, fcs_ok, flow: next(refusals) and not sent.append(frame))
    template = bytes(Ether() / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(dport=5000))
    report = host.udp_source(template, count=4, size=200, stream=3)
    assert (report["sent"], report["waits"]) == (4, 2)
    checker = Checker(4)
    for frame in sent:
        packet = Ether(frame)
        assert packet[IP].len == 20 + 8 + 200 and packet[UDP].chksum == 0
        assert IP(bytes(packet[IP])).chksum == packet[IP].chksum  # a valid header sum
        checker.take(bytes(packet[UDP].payload))
    assert checker.complete and checker.stream == 3


def test_a_udp_source_gives_up_when_nothing_is_taken() -> None:
    host = HostEnd(lambda frame, fcs_ok, flow: False)
    template = bytes(Ether() / IP() / UDP())
    with pytest.raises(SimulatorError, match=r"took no frame for 0\.1s after 0 of 2"):
        host.udp_source(template, count=2, size=20, stall_s=0.1)
