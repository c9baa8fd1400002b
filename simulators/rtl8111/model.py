"""The RTL8111: one model of the chip for uh_rtl8111 (iomem) and the kernel's r8169 (PCI).

A link change is what the chip does when its PHY gains or loses the link:
PHYstatus takes the new state, IntrStatus.LinkChg is set, and if the driver
has unmasked LinkChg in IntrMask the interrupt is raised. The interrupt is
a level (IntrStatus & IntrMask), so the model waits until the driver's
handler clears LinkChg: r8169 writes it back (IntrStatus is
write-1-to-clear), uh_rtl8111 clears the bit itself (on iomem its writes
never reach the model). uh_rtl8111 clears it after it has read PHYstatus,
so once a change is acknowledged the guest has seen it.

Coalescing: LinkChg is one bit, not a counter. Changes made before the
driver's handler runs leave it set once and PHYstatus holding only the last
state, so the driver sees one interrupt (or a few, some with nothing to do,
as datagrams queue up) and reads the final state. It may never see the
states in between; neither does a driver on real hardware.

One race needs care. If LinkChg is still set from an earlier change when a
new one is made, a handler that read PHYstatus just before the new state
was written may clear LinkChg just after it was set again: that
acknowledgement covers the old state, and the new one would never be
delivered. So when LinkChg was already pending, the model waits for the
acknowledgement and then raises LinkChg once more, with PHYstatus no longer
changing; the driver sees one extra interrupt that reports the same state.

What r8169 needs of the chip beyond that, as register hooks (they fire for
the driver's accesses over PCI; `simulators/regfile.py`):

- TxConfig's XID says RTL8168c/8111c (r8169's RTL_GIGA_MAC_VER_19): a
  chip that r8169 drives with MSI (versions up to 17 force INTx), that
  needs no firmware file, and whose PHY is reached through PHYAR;
- write-1-to-clear IntrStatus, read-only PHYstatus;
- ChipCmd's reset bit clears itself; the indirect-access registers (PHYAR,
  EPHYAR, CSIAR, ERIAR, OCPAR) complete at once, as their flag bit says;
- the PHY (`phy.py`) answers over PHYAR, its link taken from PHYstatus;
- the data path (`datapath.py`): a TxPoll doorbell sends every frame the
  driver handed over, with TxOK; a frame from the host side goes by DMA into
  the buffers the driver posted, with RxOK (RxOverflow when none is posted);
- a counter dump (CounterAddrLow.CounterDump) writes the tally by DMA.

The host end of the cable (`simulators/net/host.py`, `self.host`) keeps
what the guest sends, sends to the guest, captures, and with a responder
answers ARP and ping.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass

from ..device import DeviceModel
from ..errors import SimulatorError
from ..irq import InterruptRegisters
from ..net.host import HostEnd
from ..net.responder import Responder
from .datapath import DataPath
from .phy import Phy
from .regs import MAC_REGISTERS, SPEED_BITS, ChipCmd, Intr, PhyStatus

REALTEK_OUI = bytes.fromhex("00e04c")
DEFAULT_MAC = REALTEK_OUI + bytes.fromhex("681101")
_LINK_BITS = PhyStatus.LinkStatus | PhyStatus.FullDup | PhyStatus._1000bpsF
_LINK_BITS |= PhyStatus._100bps | PhyStatus._10bps
_UP_1000_FULL = PhyStatus.LinkStatus | PhyStatus._1000bpsF | PhyStatus.FullDup
#: RTL8168c/8111c; TxConfig bits 30:20 (r8169 reads `(TxConfig >> 20) & 0xfcf`).
XID = 0x3C0
XID_MASK = 0xFCF << 20
FLAG = 1 << 31  # the indirect-access registers' "busy/done" bit
TXPOLL_NPQ = 0x40
COUNTER_DUMP = 0x8
COUNTER_RESET = 0x1
KEPT_FRAMES = 64


@dataclass(frozen=True)
class LinkState:
    """The link as PHYstatus reports it."""

    up: bool
    speed: int | None  # Mb/s; None when no speed bit is set
    full_duplex: bool

    def __str__(self) -> str:
        if not self.up:
            return "link DOWN"
        speed = f"{self.speed} Mb/s" if self.speed else "unknown speed"
        return f"link UP, {speed}, {'full' if self.full_duplex else 'half'} duplex"


@dataclass(frozen=True)
class FlapResult:
    changes: int
    up: bool  # the state the link was left in
    seconds: float


class Rtl8111(DeviceModel):
    """An RTL8111 over `regs` (its register file) raising interrupts on `irq`, with `dma`.

    `irq` may be None to inspect the device without changing its link.
    """

    interrupt_registers = InterruptRegisters("IntrStatus", "IntrMask")

    def setup(self) -> None:
        self.phy = Phy(self.link_state)
        self.ephy: dict[int, int] = {}
        self.csi: dict[int, int] = {}
        self.eri: dict[int, int] = {}
        self.ocp: dict[int, int] = {}
        self.frames: collections.deque[bytes] = collections.deque(maxlen=KEPT_FRAMES)
        self.datapath = DataPath(self.regs, self.require_dma, self.interrupt, self.mac)
        self.host = HostEnd(self._to_driver)
        self.datapath.port = self._from_driver
        self._hook()

    def power_on(self, mac: bytes = DEFAULT_MAC, link: bool = True) -> None:
        """The chip's state at power-on, in a register file of zeros: its station address,
        TxConfig's XID and, with `link`, the link up at 1000 Mb/s full duplex."""
        self.set_mac(mac)
        self.regs.write("TxConfig", XID << 20)
        if link:
            self.regs.write("PHYstatus", _UP_1000_FULL)

    # --- link -------------------------------------------------------------

    def link_state(self) -> LinkState:
        status = PhyStatus(self.regs.read("PHYstatus"))
        speed = next((mbps for mbps, bit in SPEED_BITS.items() if bit in status), None)
        # As r8169 reports it: 1000 Mb/s on this chip is full duplex only.
        full = PhyStatus.FullDup in status or PhyStatus._1000bpsF in status
        return LinkState(PhyStatus.LinkStatus in status, speed, full)

    def link_up(self, speed: int = 1000, full_duplex: bool = True) -> float:
        """Bring the link up at `speed` Mb/s; the seconds until the driver acknowledged."""
        if speed not in SPEED_BITS:
            raise SimulatorError(f"speed {speed} Mb/s: the RTL8111 links at 10, 100 or 1000")
        if speed == 1000 and not full_duplex:
            raise SimulatorError("the RTL8111 runs 1000 Mb/s in full duplex only")
        status = PhyStatus.LinkStatus | SPEED_BITS[speed]
        if full_duplex:
            status |= PhyStatus.FullDup
        return self._change_link(status)

    def link_down(self) -> float:
        """Drop the link; the seconds until the driver acknowledged."""
        return self._change_link(PhyStatus(0))

    def toggle(self, speed: int = 1000, full_duplex: bool = True) -> bool:
        """Flip the link (up at `speed` when it was down); the new state, True for up."""
        if self.link_state().up:
            self.link_down()
            return False
        self.link_up(speed, full_duplex)
        return True

    def flap(self, count: int, interval_s: float) -> FlapResult:
        """Toggle the link `count` times, `interval_s` apart (up is 1000 Mb/s full duplex).

        With an interval each change waits for its acknowledgement (then for
        the rest of the interval). With 0 the changes go out as fast as
        possible: state and LinkChg each, without waiting, and only the last
        one is waited for, so the final state is delivered while those in
        between coalesce (see the module's docstring).
        """
        if count < 0 or interval_s < 0:
            raise SimulatorError("flap needs a count and an interval of at least 0")
        start = time.monotonic()
        up = self.link_state().up
        self.interrupt.require_line()
        pending = False
        for _ in range(count):
            began = time.monotonic()
            up = not up
            status = _UP_1000_FULL if up else PhyStatus(0)
            if interval_s > 0:
                self._change_link(status)
                time.sleep(max(0.0, interval_s - (time.monotonic() - began)))
            else:
                pending = self._post_link(status)
        if count and interval_s == 0:
            self._deliver(pending)
        return FlapResult(count, up, time.monotonic() - start)

    # --- identity -----------------------------------------------------------

    def mac(self) -> bytes:
        return bytes(self.regs.read(name) for name in MAC_REGISTERS)

    def set_mac(self, mac: bytes) -> None:
        """Write the station address (MAC0-5). Any 6 bytes, so invalid ones can be tested too."""
        if len(mac) != 6:
            raise SimulatorError(f"a MAC address is 6 bytes, not {len(mac)}")
        for name, byte in zip(MAC_REGISTERS, mac, strict=True):
            self.regs.write(name, byte)

    def reset(self) -> bytes:
        """Power-on defaults: a Realtek MAC (00:E0:4C:68:11:01) if none is set. Returns the MAC.

        Registers the driver programs are left alone: resetting under a
        loaded driver should not pull its configuration away. Reset before
        the driver loads: uh_rtl8111 makes up (and stores) a random address
        when it finds none.
        """
        if not any(self.mac()):
            self.set_mac(DEFAULT_MAC)
        return self.mac()

    # --- transmit -------------------------------------------------------------

    def transmitted(self) -> list[bytes]:
        """The last frames the driver sent (up to 64), oldest first."""
        with self.regs.lock:
            return list(self.frames)

    @property
    def tx_packets(self) -> int:
        return self.datapath.counters["tx_packets"]

    def answer_as(self, interface: str | None) -> None:
        """Answer ARP and ping on the link as host `interface` (192.0.2.1/24); None: stop."""
        self.host.responder = Responder(interface) if interface else None

    # --- the host end of the cable (simulators/net/host.py) -----------------------

    def send(self, frame: bytes, *, pad: bool = True, fcs_ok: bool = True) -> bool:
        """Put `frame` (bytes, without FCS) on the wire to the guest; whether the
        driver's ring took it."""
        return self.host.send(frame, pad=pad, fcs_ok=fcs_ok)

    def send_burst(self, frames: list[bytes], *, pad: bool = True) -> int:
        """Send `frames` back to back; how many the driver's ring took."""
        return self.host.send_burst(frames, pad=pad)

    def udp_sink(self, port: int, count: int, stream: int | None = None) -> None:
        """Check the udpcheck frames the guest sends to UDP `port` (simulators/net/udpcheck.py)."""
        self.host.udp_sink(port, count, stream)

    def udp_sink_report(self, port: int) -> dict[str, object]:
        return self.host.udp_sink_report(port)

    def udp_source(
        self, template: bytes, count: int, size: int, *, stream: int = 1, rate: float | None = None
    ) -> dict[str, object]:
        """Send `count` udpcheck frames to the guest (HostEnd.udp_source)."""
        return self.host.udp_source(template, count, size, stream=stream, rate=rate)

    def frames_seen(self) -> int:
        """The number of the last frame the guest sent (0: none yet)."""
        return self.host.frames_seen()

    def frames_since(self, seen: int = 0) -> tuple[int, list[bytes]]:
        """Frames the guest sent after number `seen`, and the last one's number."""
        return self.host.frames_since(seen)

    def capture_start(self, path: str) -> None:
        self.host.capture_start(path)

    def capture_stop(self) -> int:
        return self.host.capture_stop()

    def net_status(self) -> dict[str, object]:
        """The host end's counters and the chip's tally."""
        return {**self.host.status(), "tally": dict(self.datapath.counters)}

    def _from_driver(self, frame: bytes) -> None:
        self.frames.append(frame)
        self.host.from_nic(frame)

    def _to_driver(self, frame: bytes, fcs_ok: bool, flow_control: bool) -> bool:
        if not self.link_state().up:
            return False
        return self.datapath.receive(frame, fcs_ok=fcs_ok, flow_control=flow_control)

    # --- interrupts -----------------------------------------------------------

    def software_interrupt(self) -> float:
        """Raise SWInt, which carries no event; the seconds until the driver acknowledged.

        A round trip through the driver's handler and nothing else, to
        measure the transport.
        """
        self._require(Intr.SWInt)
        return self.interrupt.raise_and_wait_ack(Intr.SWInt, self.ack_timeout)

    # --- helpers -------------------------------------------------------------

    def _change_link(self, status: PhyStatus) -> float:
        return self._deliver(self._post_link(status))

    def _post_link(self, status: PhyStatus) -> bool:
        """PHYstatus := `status`, then set LinkChg; whether LinkChg was pending already.

        The checks come first, so that an error changes nothing.
        """
        self._require(Intr.LinkChg)
        current = self.regs.read("PHYstatus")
        self.regs.write("PHYstatus", (current & ~int(_LINK_BITS)) | int(status))
        pending = self.regs.any_set("IntrStatus", Intr.LinkChg)
        self.interrupt.raise_cause(Intr.LinkChg)
        return pending

    def _deliver(self, pending: bool) -> float:
        """Wait for LinkChg's acknowledgement; raise it again if it was pending (see above)."""
        elapsed = self.interrupt.wait_ack(Intr.LinkChg, self.ack_timeout)
        if pending:
            elapsed += self.interrupt.raise_and_wait_ack(Intr.LinkChg, self.ack_timeout)
        return elapsed

    def _require(self, bit: Intr) -> None:
        """Refuse to raise `bit` without a line or while the driver has it masked."""
        self.interrupt.require_line()
        if not self.regs.any_set("IntrMask", bit):
            what = "link-change" if bit == Intr.LinkChg else f"{bit.name}"
            raise SimulatorError(
                f"the driver has not enabled the {what} interrupt (IntrMask bit "
                f"{bit.bit_length() - 1}): is it loaded?"
            )

    # --- what the driver's accesses do (register hooks) ---------------------------

    def _hook(self) -> None:
        regs = self.regs
        regs.write_1_to_clear("IntrStatus")
        regs.read_only("PHYstatus")
        regs.on_write("TxConfig", lambda old, new, mask: (new & ~XID_MASK) | (old & XID_MASK))
        regs.on_write("ChipCmd", self._chip_cmd)
        regs.on_write("TxPoll", self._tx_poll)
        regs.on_write("TxDescStartAddrLow", lambda old, new, mask: self.datapath.tx_ring_moved())
        regs.on_write("RxDescAddrLow", lambda old, new, mask: self.datapath.rx_ring_moved())
        regs.on_write("PHYAR", self._phyar)
        regs.on_write("EPHYAR", lambda old, new, mask: _indirect(new, self.ephy, 16, 0x1F))
        regs.on_write("CSIAR", lambda old, new, mask: self._indirect_pair(new, self.csi, "CSIDR"))
        regs.on_write("ERIAR", lambda old, new, mask: self._indirect_pair(new, self.eri, "ERIDR"))
        regs.on_write("OCPAR", lambda old, new, mask: self._indirect_pair(new, self.ocp, "OCPDR"))
        regs.on_write("CounterAddrLow", self._counters)

    def _chip_cmd(self, old: int, new: int, mask: int) -> int:
        if new & ChipCmd.CmdReset:
            self.datapath.reset()
            return new & ~int(ChipCmd.CmdReset)  # reset completes at once
        return new

    def _phyar(self, old: int, new: int, mask: int) -> int:
        reg = (new >> 16) & 0x1F
        if new & FLAG:
            self.phy.write(reg, new & 0xFFFF)
            return new & ~FLAG  # write done
        return (new & ~0xFFFF) | self.phy.read(reg) | FLAG  # read done

    def _indirect_pair(self, command: int, store: dict[int, int], data_name: str) -> int:
        """CSI/ERI/OCP: address and flag in one register, the data in its partner."""
        address = command & 0xFFF
        data = self.regs.word(data_name)
        if command & FLAG:
            store[address] = data.get()
            return command & ~FLAG
        data.set(store.get(address, 0))
        return command | FLAG

    def _tx_poll(self, old: int, new: int, mask: int) -> int:
        if new & TXPOLL_NPQ and self.datapath.transmit():
            self.regs.set_bits("IntrStatus", Intr.TxOK)
        return 0  # the doorbell reads back clear

    def _counters(self, old: int, new: int, mask: int) -> int:
        if new & COUNTER_DUMP:
            addr = (new & ~0x3F) | self.regs.read("CounterAddrHigh") << 32
            self.require_dma().dma_write(addr, self.datapath.tally())
        if new & COUNTER_RESET:
            self.datapath.reset_tally()
        return new & ~(COUNTER_DUMP | COUNTER_RESET)


def _indirect(command: int, store: dict[int, int], shift: int, mask: int) -> int:
    """EPHYAR-style: register number at `shift`, data in the low 16 bits, flag in bit 31."""
    reg = (command >> shift) & mask
    if command & FLAG:
        store[reg] = command & 0xFFFF
        return command & ~FLAG
    return (command & ~0xFFFF) | store.get(reg, 0) | FLAG
