"""A host at an address on the NIC's link that answers ARP and ICMP echo, so that
`ping` from the guest works with no test code.

Every frame the guest sends passes through `answer`, so it looks at fixed
offsets first and lets through only an ARP request or echo request for its
address. ARP replies are built with scapy. An echo reply is on a ping's
round trip, where scapy's 1.6 ms to parse and build one is several times
the whole budget, so it is the request turned around: addresses swapped,
type 0, checksums recomputed (`tests/unit/test_net_host.py` checks it
against scapy's reply, byte for byte).
"""

from __future__ import annotations

import ipaddress
import struct

from scapy.layers.l2 import ARP, Ether
from scapy.utils import checksum

from ..errors import SimulatorError
from . import checksums

#: A locally administered address ("UH"), not a vendor's.
HOST_MAC = "02:55:48:00:00:01"
ARP_REQUEST, ARP_REPLY = 1, 2
ECHO_REQUEST, ECHO_REPLY = 8, 0
IPPROTO_ICMP = 1
ETH_ARP = b"\x08\x06"
ETH_IPV4 = b"\x08\x00"
ARP_OP_AT, ARP_TPA_AT = 20, 38  # in an Ethernet frame carrying ARP for IPv4
REPLY_TTL = 64
#: An IPv4 header without options: version/IHL, TOS, length, id, flags/fragment,
#: TTL, protocol, checksum, source, destination (scapy's defaults: id 1, no flags).
IPV4_HEADER = struct.Struct("!BBHHHBBH4s4s")
ICMP_ECHO = struct.Struct("!BBHHH")  # type, code, checksum, id, sequence


class Responder:
    """Answers for `interface` (e.g. 192.0.2.1/24) with `mac`."""

    def __init__(self, interface: str, mac: str = HOST_MAC) -> None:
        try:
            self.interface = ipaddress.IPv4Interface(interface)
        except ValueError:
            raise SimulatorError(
                f"host={interface}: an IPv4 address with its prefix, e.g. 192.0.2.1/24"
            ) from None
        self.address = str(self.interface.ip)
        self.mac = mac
        self.answered = 0
        self._address = self.interface.ip.packed
        self._mac = bytes.fromhex(mac.replace(":", ""))

    def answer(self, frame: bytes) -> bytes | None:
        """The reply to `frame`, if it is an ARP request or ping for this host."""
        ethertype = frame[12:14]
        reply = None
        if ethertype == ETH_ARP:
            if (
                frame[ARP_TPA_AT : ARP_TPA_AT + 4] == self._address
                and int.from_bytes(frame[ARP_OP_AT : ARP_OP_AT + 2], "big") == ARP_REQUEST
            ):
                reply = self._arp_reply(frame)
        elif ethertype == ETH_IPV4:
            reply = self._echo_reply(frame)
        if reply is not None:
            self.answered += 1
        return reply

    def _arp_reply(self, frame: bytes) -> bytes | None:
        packet = Ether(frame)
        if ARP not in packet:
            return None
        request = packet[ARP]
        return bytes(
            Ether(dst=packet.src, src=self.mac)
            / ARP(
                op=ARP_REPLY,
                hwsrc=self.mac,
                psrc=self.address,
                hwdst=request.hwsrc,
                pdst=request.psrc,
            )
        )

    def _echo_reply(self, frame: bytes) -> bytes | None:
        l3 = checksums.locate(frame)
        if (
            l3 is None
            or l3.version != 4
            or l3.protocol != IPPROTO_ICMP
            or l3.end < l3.l4_at + ICMP_ECHO.size
            or frame[l3.ip_at + 16 : l3.ip_at + 20] != self._address
            or frame[l3.l4_at] != ECHO_REQUEST
            or int.from_bytes(frame[l3.ip_at + 6 : l3.ip_at + 8], "big") & 0x3FFF
        ):
            return None  # not an echo request for us, or a fragment of one
        _, _, _, ident, sequence = ICMP_ECHO.unpack_from(frame, l3.l4_at)
        data = frame[l3.l4_at + ICMP_ECHO.size : l3.end]  # not the frame's padding
        icmp = bytearray(ICMP_ECHO.pack(ECHO_REPLY, 0, 0, ident, sequence) + data)
        icmp[2:4] = struct.pack("!H", checksum(bytes(icmp)))
        source = frame[l3.ip_at + 12 : l3.ip_at + 16]
        ip = bytearray(
            IPV4_HEADER.pack(
                0x45,
                0,
                IPV4_HEADER.size + len(icmp),
                1,
                0,
                REPLY_TTL,
                IPPROTO_ICMP,
                0,
                self._address,
                source,
            )
        )
        ip[10:12] = struct.pack("!H", checksum(bytes(ip)))
        return frame[6:12] + self._mac + ETH_IPV4 + bytes(ip) + bytes(icmp)
