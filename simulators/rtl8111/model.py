"""The RTL8111 as its driver sees it through the link: PHYstatus, LinkChg and the MAC.

A link change is what the chip does when its PHY gains or loses the link:
PHYstatus takes the new state, IntrStatus.LinkChg is set, and if the driver
has unmasked LinkChg in IntrMask the interrupt is raised. The line is
level-triggered, so the model waits until the driver's handler clears
LinkChg (its acknowledgement on this transport, where registers are plain
memory and there is no write-1-to-clear). uh_rtl8111 clears it after it has
read PHYstatus, so once a change is acknowledged the guest has seen it.

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
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..device import DeviceModel
from ..errors import SimulatorError
from ..irq import InterruptRegisters
from .regs import MAC_REGISTERS, SPEED_BITS, Intr, PhyStatus

REALTEK_OUI = bytes.fromhex("00e04c")
DEFAULT_MAC = REALTEK_OUI + bytes.fromhex("681101")
_LINK_BITS = PhyStatus.LinkStatus | PhyStatus.FullDup | PhyStatus._1000bpsF
_LINK_BITS |= PhyStatus._100bps | PhyStatus._10bps
_UP_1000_FULL = PhyStatus.LinkStatus | PhyStatus._1000bpsF | PhyStatus.FullDup


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
    """An RTL8111 over `regs` (its register file) raising interrupts on `irq`.

    `irq` may be None to inspect the device without changing its link.
    """

    interrupt_registers = InterruptRegisters("IntrStatus", "IntrMask")

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
