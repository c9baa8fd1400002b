"""The RTL8111's data path as r8169 drives it: rings in guest memory, offloads, the tally."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Dot1Q, Ether

from simulators.errors import SimulatorError
from simulators.pci.guest_memory import GuestMemory
from simulators.rtl8111.datapath import TALLY
from simulators.rtl8111.descriptors import PACKED, CPlusCmd, Opts1, RxConfig, RxStatus, TxOpts2
from simulators.rtl8111.pci import Rtl8111Pci
from simulators.rtl8111.regs import ChipCmd, Intr

from .pci_memory import GUEST_ADDR, guest_memory
from .test_rtl8111_pci import BAR, with_msi, write32

MAC = bytes.fromhex("00e04c681101")
RX_RING = GUEST_ADDR + 0x1000
TX_RING = GUEST_ADDR + 0x2000
BUFFERS = GUEST_ADDR + 0x10000
BUFFER_SIZE = 0x800
ACCEPT = RxConfig.ACCEPT_MY_PHYS | RxConfig.ACCEPT_BROADCAST | RxConfig.ACCEPT_MULTICAST


class Driver:
    """What r8169 sets up: rings, Rx buffers, Rx enabled, its interrupts unmasked."""

    def __init__(self, nic: Rtl8111Pci, memory: GuestMemory, rx_slots: int = 4) -> None:
        self.nic, self.memory, self.rx_slots = nic, memory, rx_slots
        self.sent = with_msi(nic)
        nic.dma = memory
        write32(nic, 0xE4, RX_RING & 0xFFFFFFFF)
        write32(nic, 0xE8, RX_RING >> 32)
        write32(nic, 0x20, TX_RING & 0xFFFFFFFF)
        write32(nic, 0x24, TX_RING >> 32)
        write32(nic, 0x44, ACCEPT)
        nic.mmio_write(BAR, 0x37, bytes([ChipCmd.CmdRxEnb | ChipCmd.CmdTxEnb]))
        nic.mmio_write(BAR, 0x3C, struct.pack("<H", 0xFFFF))
        for slot in range(rx_slots):
            self.post(slot)

    def post(self, slot: int, size: int = BUFFER_SIZE) -> None:
        eor = Opts1.EOR if slot == self.rx_slots - 1 else 0
        self.memory.write(
            RX_RING + 16 * slot,
            PACKED.pack(Opts1.OWN | eor | size, 0, BUFFERS + BUFFER_SIZE * slot),
        )

    def rx(self, slot: int) -> tuple[int, int, bytes]:
        """(opts1, opts2, the frame without FCS) of a descriptor the chip filled."""
        opts1, opts2, addr = PACKED.unpack(self.memory.read(RX_RING + 16 * slot, 16))
        assert not opts1 & Opts1.OWN
        length = opts1 & 0x3FFF
        return opts1, opts2, self.memory.read(addr, length)[:-4]

    def transmit(self, frame: bytes, opts2: int = 0) -> bytes:
        self.memory.write(BUFFERS + 0x8000, frame)
        flags = Opts1.OWN | Opts1.FS | Opts1.LS | Opts1.EOR | len(frame)
        self.memory.write(TX_RING, PACKED.pack(flags, opts2, BUFFERS + 0x8000))
        self.nic.mmio_write(BAR, 0x38, b"\x40")
        return self.nic.nic.transmitted()[-1]

    def status(self) -> int:
        return int(struct.unpack("<H", self.nic.mmio_read(BAR, 0x3E, 2))[0])


@pytest.fixture
def driver() -> Iterator[Driver]:
    with guest_memory() as memory:
        yield Driver(Rtl8111Pci(), memory)


def udp(payload: bytes = b"data", dst: bytes = MAC) -> Ether:
    return (
        Ether(dst=dst, src="02:00:00:00:00:02")
        / IP(src="192.0.2.1", dst="192.0.2.2")
        / UDP(sport=7, dport=9)
        / payload
    )


def test_a_frame_lands_in_the_posted_buffer_with_its_fcs_and_rxok(driver: Driver) -> None:
    frame = bytes(udp(b"x" * 100))
    assert driver.nic.nic.send(frame)
    opts1, _, data = driver.rx(0)
    assert data == frame
    assert opts1 & (Opts1.FS | Opts1.LS) == Opts1.FS | Opts1.LS
    assert opts1 & 0x3FFF == len(frame) + 4  # r8169 takes the FCS off
    assert driver.status() & Intr.RxOK and len(driver.sent) == 1
    driver.nic.nic.send(frame)
    assert driver.rx(1)[2] == frame  # the next descriptor


def test_frames_go_round_the_ring_at_eor(driver: Driver) -> None:
    for n in range(6):
        assert driver.nic.nic.send(bytes(udp(bytes([n]) * 20)))
        slot = n % 4
        assert driver.rx(slot)[2].endswith(bytes([n]) * 20)
        driver.post(slot)


def test_no_posted_buffer_is_a_missed_frame_and_rx_overflow(driver: Driver) -> None:
    for _ in range(4):
        assert driver.nic.nic.send(bytes(udp()))
    assert not driver.nic.nic.send(bytes(udp()))  # the ring is full: the driver is behind
    assert driver.status() & Intr.RxOverflow
    assert driver.nic.nic.datapath.counters["rx_missed"] == 1
    driver.post(0)
    assert driver.nic.nic.send(bytes(udp()))  # it goes on once a buffer is back


def test_short_frames_are_padded_unless_a_runt_is_asked_for(driver: Driver) -> None:
    assert driver.nic.nic.send(b"\xff" * 6 + b"\x02" * 6 + b"\x08\x00")
    assert len(driver.rx(0)[2]) == 60
    assert not driver.nic.nic.send(b"\xff" * 14, pad=False)  # dropped: no AcceptRunt
    assert driver.nic.nic.datapath.counters["rx_errors"] == 1
    write32(driver.nic, 0x44, ACCEPT | RxConfig.ACCEPT_RUNT)  # NETIF_F_RXALL
    assert driver.nic.nic.send(b"\xff" * 14, pad=False)
    opts1, _, _ = driver.rx(1)
    assert opts1 & RxStatus.RES and opts1 & RxStatus.RUNT
    assert driver.status() & Intr.RxErr


def test_a_bad_fcs_is_dropped_or_flagged_as_rxconfig_says(driver: Driver) -> None:
    frame = bytes(udp())
    assert not driver.nic.nic.send(frame, fcs_ok=False)
    write32(driver.nic, 0x44, ACCEPT | RxConfig.ACCEPT_ERR)
    assert driver.nic.nic.send(frame, fcs_ok=False)
    opts1, _, _ = driver.rx(0)
    assert opts1 & RxStatus.CRC and opts1 & RxStatus.RES


def test_a_frame_longer_than_a_buffer_spans_descriptors(driver: Driver) -> None:
    frame = bytes(udp(b"y" * 3000))
    assert driver.nic.nic.send(frame)
    first = PACKED.unpack(driver.memory.read(RX_RING, 16))[0]
    last = PACKED.unpack(driver.memory.read(RX_RING + 16, 16))[0]  # 3046 bytes, 2 KiB buffers
    assert first & Opts1.FS and not first & Opts1.LS  # r8169 drops it as fragmented
    assert last & Opts1.LS and not last & Opts1.FS


def test_the_destination_filter(driver: Driver) -> None:
    assert not driver.nic.nic.send(bytes(udp(dst=bytes.fromhex("020000000099"))))
    assert driver.nic.nic.send(bytes(udp(dst=b"\xff" * 6)))
    write32(driver.nic, 0x44, ACCEPT | RxConfig.ACCEPT_ALL_PHYS)  # promiscuous
    assert driver.nic.nic.send(bytes(udp(dst=bytes.fromhex("020000000099"))))


def test_rx_checksums_are_reported_when_the_driver_asks(driver: Driver) -> None:
    good = bytes(udp())
    bad = bytearray(good)
    bad[-1] ^= 0xFF  # payload changed, checksum not
    driver.nic.nic.send(good)
    assert driver.rx(0)[0] & (RxStatus.PID1 | RxStatus.PID0 | RxStatus.UDPF) == 0  # off
    driver.nic.mmio_write(BAR, 0xE0, struct.pack("<H", CPlusCmd.RX_CHKSUM))
    driver.nic.nic.send(good)
    driver.nic.nic.send(bytes(bad))
    assert driver.rx(1)[0] & (RxStatus.PID1 | RxStatus.PID0 | RxStatus.UDPF) == RxStatus.PID1
    assert driver.rx(2)[0] & RxStatus.UDPF


def test_rx_vlan_tags_are_stripped_into_the_descriptor(driver: Driver) -> None:
    driver.nic.mmio_write(BAR, 0xE0, struct.pack("<H", CPlusCmd.RX_VLAN))
    tagged = Ether(dst=MAC) / Dot1Q(vlan=42) / IP() / UDP() / b"v"
    driver.nic.nic.send(bytes(tagged))
    _, opts2, data = driver.rx(0)
    assert opts2 & (1 << 16) and struct.pack("<H", opts2 & 0xFFFF) == struct.pack("!H", 42)
    assert Dot1Q not in Ether(data)


def test_tx_fills_the_checksums_the_driver_leaves_to_the_chip(driver: Driver) -> None:
    packet = udp(b"checksum me")
    good = bytes(packet)
    partial = bytearray(good)
    partial[14 + 20 + 6 : 14 + 20 + 8] = b"\x12\x34"  # what CHECKSUM_PARTIAL leaves there
    partial[14 + 10 : 14 + 12] = b"\0\0"
    sent = driver.transmit(bytes(partial), TxOpts2.IPV4_CS | TxOpts2.UDP_CS)
    assert sent == good


def test_tx_inserts_the_vlan_tag(driver: Driver) -> None:
    frame = bytes(udp())
    tci = struct.unpack("<H", struct.pack("!H", 7))[0]  # byte-swapped, as r8169 writes it
    sent = Ether(driver.transmit(frame, TxOpts2.VLAN_TAG | tci))
    assert sent[Dot1Q].vlan == 7 and bytes(sent[UDP].payload) == b"data"


def test_tso_is_refused_with_what_to_do(driver: Driver) -> None:
    with pytest.raises(SimulatorError, match="tso off"):
        driver.transmit(bytes(udp()), TxOpts2.GTSENV4)


def test_the_tally_counts_both_ways(driver: Driver) -> None:
    driver.nic.nic.send(bytes(udp()))
    driver.nic.nic.send(bytes(udp(dst=b"\xff" * 6)))
    driver.transmit(bytes(udp()))
    write32(driver.nic, 0x14, 0)
    write32(driver.nic, 0x10, (BUFFERS + 0x9000) | 0x8)  # CounterDump
    tally = TALLY.parse(driver.memory.read(BUFFERS + 0x9000, TALLY.sizeof()))
    assert (tally.tx_packets, tally.rx_packets) == (1, 2)
    assert (tally.rx_unicast, tally.rx_broadcast) == (1, 1)
    write32(driver.nic, 0x10, (BUFFERS + 0x9000) | 0x1)  # CounterReset
    assert driver.nic.nic.datapath.counters["rx_packets"] == 0
