"""The RTL8111's DMA descriptors and the bits r8169 reads and writes in them.

Both rings are arrays of 16-byte descriptors in guest memory, at the
addresses the driver writes to TxDescStartAddr and RxDescAddr. The driver
hands a descriptor to the chip by setting OWN; the chip hands it back by
clearing it. EOR marks the ring's last descriptor. Names follow r8169
(`DescOwn`, `RingEnd`, `FirstFrag`, `LastFrag`, `rtl_rx_desc_bit`,
`rtl_tx_desc_bit_1`).
"""

from __future__ import annotations

import enum
import struct

from construct import Int32ul, Int64ul, Struct

DESCRIPTOR = Struct(
    "opts1" / Int32ul,  # OWN, EOR, FS, LS, status or commands, length
    "opts2" / Int32ul,  # VLAN tag, checksum commands (Tx) or results (Rx)
    "addr" / Int64ul,  # the buffer's DMA address
)
#: The same layout for the per-frame path, where a construct parse (4 µs) costs
#: more than the rest of a frame's handling.
PACKED = struct.Struct("<" + "".join(field.subcon.fmtstr[1:] for field in DESCRIPTOR.subcons))
assert PACKED.size == DESCRIPTOR.sizeof() == 16


class Opts1(enum.IntFlag):
    """opts1 bits common to both rings."""

    OWN = 1 << 31  # the chip owns it
    EOR = 1 << 30  # end of ring
    FS = 1 << 29  # first segment of a frame
    LS = 1 << 28  # last segment


TX_LENGTH = 0xFFFF  # Tx opts1: the segment's length
RX_LENGTH = 0x3FFF  # Rx opts1: the buffer's size (driver) or the frame's length (chip)


class RxStatus(enum.IntFlag):
    """Rx opts1 status bits the chip writes."""

    RWT = 1 << 22  # receive watchdog: longer than the chip takes
    RES = 1 << 21  # receive error summary
    RUNT = 1 << 20  # shorter than 64 bytes
    CRC = 1 << 19  # bad frame check sequence
    PID1 = 1 << 18  # protocol id: 01 TCP, 10 UDP, 11 other IP
    PID0 = 1 << 17
    IPF = 1 << 16  # IP header checksum failed
    UDPF = 1 << 15  # UDP checksum failed
    TCPF = 1 << 14  # TCP checksum failed


RX_PROTO_TCP = RxStatus.PID0
RX_PROTO_UDP = RxStatus.PID1
RX_PROTO_IP = RxStatus.PID1 | RxStatus.PID0
RX_VLAN_TAG = 1 << 16  # Rx opts2: a tag was stripped; its TCI, byte-swapped, is in bits 15:0


class TxOpts2(enum.IntFlag):
    """Tx opts2 commands of the second-generation checksum offload (8168c on)."""

    UDP_CS = 1 << 31
    TCP_CS = 1 << 30
    IPV4_CS = 1 << 29
    IPV6_CS = 1 << 28
    GTSENV4 = 1 << 26  # TSO (large send) for IPv4
    GTSENV6 = 1 << 25
    VLAN_TAG = 1 << 17  # insert the tag in bits 15:0 (byte-swapped)


class CPlusCmd(enum.IntFlag):
    """CPlusCmd bits the driver sets to turn receive offloads on."""

    RX_VLAN = 1 << 6  # strip VLAN tags into the descriptor
    RX_CHKSUM = 1 << 5  # report IP/TCP/UDP checksums in the descriptor


class RxConfig(enum.IntFlag):
    """RxConfig's accept bits (r8169 `rtl_register_content`)."""

    ACCEPT_ERR = 1 << 5  # frames with a bad FCS (NETIF_F_RXALL)
    ACCEPT_RUNT = 1 << 4  # frames shorter than 64 bytes (NETIF_F_RXALL)
    ACCEPT_BROADCAST = 1 << 3
    ACCEPT_MULTICAST = 1 << 2
    ACCEPT_MY_PHYS = 1 << 1
    ACCEPT_ALL_PHYS = 1 << 0
