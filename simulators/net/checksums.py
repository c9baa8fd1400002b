"""Checksum offload as a NIC does it: filled in on transmit, checked on receive.

These run once per frame in the model's hot path, so the headers are read
at fixed offsets rather than parsed into scapy packets (about 100 µs each);
the sum itself is scapy's.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from scapy.utils import checksum

ETH_HEADER = 14
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_8021Q = 0x8100
IPPROTO_TCP = 6
IPPROTO_UDP = 17
#: Where each transport's checksum field is, from the start of its header.
L4_CHECKSUM_AT = {IPPROTO_TCP: 16, IPPROTO_UDP: 6}


@dataclass(frozen=True)
class L3:
    """Where a frame's IP packet and transport header are."""

    version: int  # 4 or 6
    ip_at: int
    l4_at: int
    protocol: int
    end: int  # the end of the IP packet (a frame may be padded beyond)


def locate(frame: bytes | bytearray) -> L3 | None:
    """The IP packet of an Ethernet frame (VLAN-tagged or not); None if it has none
    or it is cut short."""
    at, ethertype = ETH_HEADER, _u16(frame, 12)
    if ethertype == ETH_P_8021Q:
        at, ethertype = at + 4, _u16(frame, 16)
    if ethertype == ETH_P_IP and len(frame) >= at + 20:
        ihl = (frame[at] & 0x0F) * 4
        end = at + _u16(frame, at + 2)
        if ihl < 20 or end > len(frame) or end < at + ihl:
            return None
        return L3(4, at, at + ihl, frame[at + 9], end)
    if ethertype == ETH_P_IPV6 and len(frame) >= at + 40:
        end = at + 40 + _u16(frame, at + 4)
        if end > len(frame):
            return None
        return L3(6, at, at + 40, frame[at + 6], end)
    return None


def fill_ipv4_header(frame: bytearray, l3: L3) -> None:
    frame[l3.ip_at + 10 : l3.ip_at + 12] = b"\0\0"
    header = checksum(bytes(frame[l3.ip_at : l3.l4_at]))
    frame[l3.ip_at + 10 : l3.ip_at + 12] = struct.pack("!H", header)


def fill_l4(frame: bytearray, l3: L3) -> None:
    """Compute the TCP or UDP checksum over the pseudo-header, as the driver asked."""
    at = L4_CHECKSUM_AT.get(l3.protocol)
    if at is None or l3.end < l3.l4_at + at + 2:
        return
    frame[l3.l4_at + at : l3.l4_at + at + 2] = b"\0\0"
    value = checksum(_pseudo_header(frame, l3) + bytes(frame[l3.l4_at : l3.end]))
    if l3.protocol == IPPROTO_UDP and value == 0:
        value = 0xFFFF  # 0 means "no checksum" in UDP
    frame[l3.l4_at + at : l3.l4_at + at + 2] = struct.pack("!H", value)


@dataclass(frozen=True)
class Verdict:
    """What a receiving NIC finds of a frame's checksums."""

    protocol: int | None  # IPPROTO_TCP, IPPROTO_UDP, another IP protocol, or None (not IP)
    ip_ok: bool
    l4_ok: bool


def verify(frame: bytes) -> Verdict:
    l3 = locate(frame)
    if l3 is None:
        return Verdict(None, True, True)
    ip_ok = l3.version == 6 or checksum(frame[l3.ip_at : l3.l4_at]) == 0
    at = L4_CHECKSUM_AT.get(l3.protocol)
    if at is None:
        return Verdict(l3.protocol, ip_ok, True)
    if l3.protocol == IPPROTO_UDP and l3.version == 4 and _u16(frame, l3.l4_at + at) == 0:
        return Verdict(l3.protocol, ip_ok, True)  # sent without a checksum
    l4_ok = checksum(_pseudo_header(frame, l3) + frame[l3.l4_at : l3.end]) == 0
    return Verdict(l3.protocol, ip_ok, l4_ok)


def _pseudo_header(frame: bytes | bytearray, l3: L3) -> bytes:
    length = l3.end - l3.l4_at
    if l3.version == 4:
        addresses = bytes(frame[l3.ip_at + 12 : l3.ip_at + 20])
        return addresses + struct.pack("!BBH", 0, l3.protocol, length)
    addresses = bytes(frame[l3.ip_at + 8 : l3.ip_at + 40])
    return addresses + struct.pack("!IxxxB", length, l3.protocol)


def _u16(frame: bytes | bytearray, at: int) -> int:
    return int.from_bytes(frame[at : at + 2], "big") if len(frame) >= at + 2 else 0
