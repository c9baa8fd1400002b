"""The RTL8111's DMA engines: frames out of the driver's Tx ring, into its Rx ring.

Transmit (on the TxPoll doorbell) takes every descriptor the driver owns,
gathers a frame's segments (FS to LS), inserts the VLAN tag and fills the
checksums the driver asked for, hands the frame on and gives the
descriptors back. Receive writes a frame and its FCS into the buffers the
driver posted, with the checksum verdict and stripped VLAN tag when the
driver turned those offloads on (CPlusCmd), and filters by destination as
RxConfig says. A frame for which no buffer is posted is missed: RxOverflow
(the datasheet's RxDescUnavail) and the tally's rx_missed. The tally
counters are what the chip dumps to the driver (DTCCR).
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections import Counter
from collections.abc import Callable

from construct import Int16ul, Int32ul, Int64ul, Struct

from ..device import Dma
from ..errors import SimulatorError
from ..irq import LevelInterrupt
from ..net import checksums
from ..regfile import RegisterFile
from .descriptors import (
    PACKED,
    RX_LENGTH,
    RX_PROTO_IP,
    RX_PROTO_TCP,
    RX_PROTO_UDP,
    RX_VLAN_TAG,
    TX_LENGTH,
    CPlusCmd,
    Opts1,
    RxConfig,
    RxStatus,
    TxOpts2,
)
from .regs import ChipCmd, Intr

#: The chip's tally counters, as r8169's `struct rtl8169_counters` reads them.
TALLY = Struct(
    "tx_packets" / Int64ul,
    "rx_packets" / Int64ul,
    "tx_errors" / Int64ul,
    "rx_errors" / Int32ul,
    "rx_missed" / Int16ul,
    "align_errors" / Int16ul,
    "tx_one_collision" / Int32ul,
    "tx_multi_collision" / Int32ul,
    "rx_unicast" / Int64ul,
    "rx_broadcast" / Int64ul,
    "rx_multicast" / Int32ul,
    "tx_aborted" / Int16ul,
    "tx_underrun" / Int16ul,
)
TALLY_FIELDS = tuple(field.name for field in TALLY.subcons)
RING_MAX = 1024  # no ring r8169 allocates is longer (NUM_TX_DESC, NUM_RX_DESC: 256)
FCS_LEN = 4
RUNT_BELOW = 64  # bytes with the FCS: a shorter frame is a runt
OWN = int(Opts1.OWN)
EOR = int(Opts1.EOR)
FS = int(Opts1.FS)
LS = int(Opts1.LS)
BROADCAST = b"\xff" * 6


class DataPath:
    """The Tx and Rx engines of one chip, over its registers and the driver's rings.

    `port` receives every frame the driver transmits.
    """

    def __init__(
        self,
        regs: RegisterFile,
        dma: Callable[[], Dma],
        interrupt: LevelInterrupt,
        mac: Callable[[], bytes],
    ) -> None:
        self.regs = regs
        self._dma = dma
        self._interrupt = interrupt
        self._mac = mac
        self.port: Callable[[bytes], None] = lambda frame: None
        self.counters: Counter[str] = Counter()
        self._tx_next = 0
        self._rx_next = 0
        self._rx_lock = threading.Lock()

    def reset(self) -> None:
        self._tx_next = 0
        self._rx_next = 0

    def tx_ring_moved(self) -> None:
        self._tx_next = 0

    def rx_ring_moved(self) -> None:
        self._rx_next = 0

    # --- transmit ---------------------------------------------------------------

    def transmit(self) -> int:
        """Send every frame the driver handed over; how many went."""
        regs, dma = self.regs, self._dma()
        ring = regs.read("TxDescStartAddrLow") | regs.read("TxDescStartAddrHigh") << 32
        sent = 0
        segments: list[bytes] = []
        first_opts2 = 0
        for _ in range(RING_MAX):
            where = ring + PACKED.size * self._tx_next
            opts1, opts2, addr = PACKED.unpack(dma.dma_read(where, PACKED.size))
            if not opts1 & OWN:
                break
            if opts1 & FS:
                segments, first_opts2 = [], opts2
            segments.append(dma.dma_read(addr, opts1 & TX_LENGTH))
            dma.dma_write(where, PACKED.pack(opts1 & ~OWN, opts2, addr))
            self._tx_next = 0 if opts1 & EOR else self._tx_next + 1
            if opts1 & LS:
                frame = self._offload(b"".join(segments), first_opts2)
                self.counters["tx_packets"] += 1
                self.counters["tx_octets"] += len(frame)
                self.port(frame)
                sent += 1
        return sent

    def _offload(self, frame: bytes, opts2: int) -> bytes:
        if opts2 & (TxOpts2.GTSENV4 | TxOpts2.GTSENV6):
            raise SimulatorError(
                "the driver asked for TCP segmentation offload, which this model does not "
                "do: turn it off in the guest (ethtool -K eth0 tso off)"
            )
        if not opts2 & (TxOpts2.VLAN_TAG | TxOpts2.IPV4_CS | TxOpts2.TCP_CS | TxOpts2.UDP_CS):
            return frame
        out = bytearray(frame)
        if opts2 & TxOpts2.VLAN_TAG:
            tci = struct.pack("<H", opts2 & 0xFFFF)  # byte-swapped in the descriptor
            out[12:12] = b"\x81\x00" + tci
        l3 = checksums.locate(out)
        if l3 is not None:
            if opts2 & TxOpts2.IPV4_CS and l3.version == 4:
                checksums.fill_ipv4_header(out, l3)
            if opts2 & (TxOpts2.TCP_CS | TxOpts2.UDP_CS):
                checksums.fill_l4(out, l3)
        return bytes(out)

    # --- receive ----------------------------------------------------------------

    def receive(self, frame: bytes, *, fcs_ok: bool = True, flow_control: bool = False) -> bool:
        """Take `frame` (without its FCS) off the wire; whether it reached the
        driver's ring. A bad FCS (`fcs_ok=False`) or a runt is an error the
        driver sees only with RxConfig's AcceptErr/AcceptRunt (NETIF_F_RXALL).
        With `flow_control`, a frame for which no buffer is posted is not missed
        but left to the sender to send again (as after an 802.3x pause)."""
        regs = self.regs
        accept = regs.read("RxConfig")
        if not regs.any_set("ChipCmd", ChipCmd.CmdRxEnb) or not self._accepts(frame, accept):
            return False
        status = 0
        if len(frame) + FCS_LEN < RUNT_BELOW:
            status |= RxStatus.RES | RxStatus.RUNT
        if not fcs_ok:
            status |= RxStatus.RES | RxStatus.CRC
        if status and not (
            (not status & RxStatus.RUNT or accept & RxConfig.ACCEPT_RUNT)
            and (not status & RxStatus.CRC or accept & RxConfig.ACCEPT_ERR)
        ):
            self.counters["rx_errors"] += 1
            return False
        cplus = regs.read("CPlusCmd")
        opts2 = 0
        if cplus & CPlusCmd.RX_VLAN and frame[12:14] == b"\x81\x00" and len(frame) >= 18:
            opts2 = RX_VLAN_TAG | struct.unpack("<H", frame[14:16])[0]
            frame = frame[:12] + frame[16:]
        if cplus & CPlusCmd.RX_CHKSUM and not status:
            status |= _checksum_status(frame)
        fcs = zlib.crc32(frame).to_bytes(4, "little")
        if not fcs_ok:
            fcs = bytes(b ^ 0xFF for b in fcs)
        if not self._into_ring(frame + fcs, status, opts2):
            if flow_control:
                return False
            self.counters["rx_missed"] += 1
            self._interrupt.raise_cause(Intr.RxOverflow)
            return False
        self.counters["rx_packets"] += 1
        self.counters["rx_octets"] += len(frame)
        if frame[:6] == BROADCAST:
            self.counters["rx_broadcast"] += 1
        elif frame[0] & 1:
            self.counters["rx_multicast"] += 1
        else:
            self.counters["rx_unicast"] += 1
        self._interrupt.raise_cause(Intr.RxErr if status & RxStatus.RES else Intr.RxOK)
        return True

    def _accepts(self, frame: bytes, accept: int) -> bool:
        """RxConfig's (`accept`) destination filter (every multicast address with
        AcceptMulticast: the MAR hash filter is not modelled)."""
        if accept & RxConfig.ACCEPT_ALL_PHYS:
            return True
        destination = frame[:6]
        if destination == BROADCAST:
            return bool(accept & RxConfig.ACCEPT_BROADCAST)
        if destination[:1] and destination[0] & 1:
            return bool(accept & RxConfig.ACCEPT_MULTICAST)
        return bool(accept & RxConfig.ACCEPT_MY_PHYS) and destination == self._mac()

    def _into_ring(self, data: bytes, status: int, opts2: int) -> bool:
        """Write `data` into the driver's posted buffers, a frame longer than one
        buffer across several (FS on the first, LS on the last); False if the
        ring has too few buffers posted (nothing is written then)."""
        regs, dma = self.regs, self._dma()
        with self._rx_lock:
            ring = regs.read("RxDescAddrLow") | regs.read("RxDescAddrHigh") << 32
            taken: list[tuple[int, int, int, int]] = []  # (where, opts1, addr, size)
            index, room = self._rx_next, 0
            while room < len(data):
                if len(taken) >= RING_MAX:
                    return False
                where = ring + PACKED.size * index
                opts1, _, addr = PACKED.unpack(dma.dma_read(where, PACKED.size))
                if not opts1 & OWN:
                    return False
                size = opts1 & RX_LENGTH
                taken.append((where, opts1, addr, size))
                room += size
                index = 0 if opts1 & EOR else index + 1
            offset = 0
            last = len(taken) - 1
            for n, (where, opts1, addr, size) in enumerate(taken):
                chunk = data[offset : offset + size]
                dma.dma_write(addr, chunk)
                offset += len(chunk)
                flags = (FS if n == 0 else 0) | (LS if n == last else 0)
                length = len(data) if n == last else len(chunk)
                # The data before the descriptor: the driver reads it once OWN is clear.
                dma.dma_write(
                    where, PACKED.pack(flags | (opts1 & EOR) | status | length, opts2, addr)
                )
            self._rx_next = index
            return True

    # --- tally ------------------------------------------------------------------

    def tally(self) -> bytes:
        """The counters as the chip dumps them (each wraps at its field's width)."""
        return bytes(
            TALLY.build(
                {
                    field.name: self.counters[field.name] & ((1 << (8 * field.subcon.sizeof())) - 1)
                    for field in TALLY.subcons
                }
            )
        )

    def reset_tally(self) -> None:
        for name in TALLY_FIELDS:
            self.counters[name] = 0


def _checksum_status(frame: bytes) -> int:
    verdict = checksums.verify(frame)
    if verdict.protocol is None:
        return 0
    if verdict.protocol == checksums.IPPROTO_TCP:
        bits = RX_PROTO_TCP | (0 if verdict.l4_ok else RxStatus.TCPF)
    elif verdict.protocol == checksums.IPPROTO_UDP:
        bits = RX_PROTO_UDP | (0 if verdict.l4_ok else RxStatus.UDPF)
    else:
        bits = RX_PROTO_IP
    return int(bits | (0 if verdict.ip_ok else RxStatus.IPF))
