"""The RTL8111 served over PCI, for the kernel's own r8169 driver.

It is the same `Rtl8111` model as on the iomem transport (link, PHYstatus,
LinkChg, MAC), here behind BAR2 of a 10ec:8168 function with MSI, plus
what r8169 needs of the chip to bind and run:

- TxConfig's XID says RTL8168c/8111c (r8169's RTL_GIGA_MAC_VER_19): a
  chip that r8169 drives with MSI (versions up to 17 force INTx), that
  needs no firmware file, and whose PHY is reached through PHYAR;
- write-1-to-clear IntrStatus, and MSI on each rising edge of
  IntrStatus & IntrMask (the model's `interrupt`), as the chip does;
- ChipCmd's reset bit clears itself; the indirect-access registers (PHYAR,
  EPHYAR, CSIAR, ERIAR, OCPAR) complete at once, as their flag bit says;
- the PHY (`phy.py`) answers over PHYAR, its link taken from PHYstatus;
- transmit: a TxPoll doorbell hands back every descriptor the driver owns
  to the driver, with TxOK, and keeps the frames (`transmitted()`);
- a counter dump (CounterAddrLow.CounterDump) writes the tally by DMA.
"""

from __future__ import annotations

import collections
import struct
import threading

from ..errors import SimulatorError
from ..pci.bars import RegisterBar
from ..pci.config_space import PciId
from ..pci.function import PciFunction
from ..pci.interrupt import MsiInterrupt
from .model import DEFAULT_MAC, Rtl8111
from .phy import Phy
from .regs import RTL8111, ChipCmd, Intr

VENDOR_REALTEK = 0x10EC
DEVICE_8168 = 0x8168
CLASS_ETHERNET = 0x020000
BAR = 2
BAR_SIZE = 0x1000
#: RTL8168c/8111c; TxConfig bits 30:20 (r8169 reads `(TxConfig >> 20) & 0xfcf`).
XID = 0x3C0
XID_MASK = 0xFCF << 20
FLAG = 1 << 31  # the indirect-access registers' "busy/done" bit
TX_DESC = struct.Struct("<IIQ")  # opts1, opts2, buffer address
DESC_OWN = 1 << 31
RING_END = 1 << 30
TX_LEN_MASK = 0xFFFF
TX_RING_MAX = 1024
TXPOLL_NPQ = 0x40
COUNTER_DUMP = 0x8
COUNTER_RESET = 0x1
COUNTERS_SIZE = 64  # struct rtl8169_counters
KEPT_FRAMES = 64


class Rtl8111Pci(PciFunction):
    """The PCI RTL8111. Options: `mac` (aa:bb:cc:dd:ee:ff), `link` (up or down at power-on)."""

    name = "rtl8111"

    def __init__(self, mac: str | None = None, link: str = "up") -> None:
        if link not in ("up", "down"):
            raise SimulatorError(f"rtl8111: link={link}: up or down")
        lock = threading.RLock()
        self.bar = RegisterBar(RTL8111, BAR_SIZE, lock, device="RTL8111")
        super().__init__(
            PciId(
                VENDOR_REALTEK,
                DEVICE_8168,
                class_code=CLASS_ETHERNET,
                revision=0x02,
                subsystem_vendor=VENDOR_REALTEK,
                subsystem=DEVICE_8168,
            ),
            {BAR: self.bar},
            msi=True,
            lock=lock,
        )
        self._options = {"link": link} | ({"mac": mac} if mac else {})
        regs = self.bar.regs
        self.nic = Rtl8111(regs, MsiInterrupt(self))
        self.interrupt = self.nic.interrupt
        self.phy = Phy(self.nic.link_state)
        self.ephy: dict[int, int] = {}
        self.csi: dict[int, int] = {}
        self.eri: dict[int, int] = {}
        self.ocp: dict[int, int] = {}
        self.frames: collections.deque[bytes] = collections.deque(maxlen=KEPT_FRAMES)
        self.tx_packets = 0
        self._tx_next = 0
        self.nic.set_mac(_parse_mac(mac) if mac else DEFAULT_MAC)
        regs.write("TxConfig", XID << 20)
        if link == "up":
            regs.write("PHYstatus", 0x02 | 0x10 | 0x01)  # LinkStatus, 1000 Mb/s, full duplex
        self._hook()

    # --- what `sim` reaches -----------------------------------------------------

    def options(self) -> dict[str, str]:
        return dict(self._options)

    def transmitted(self) -> list[bytes]:
        """The last frames the driver sent (up to 64), oldest first."""
        with self.lock:
            return list(self.frames)

    # --- register side effects --------------------------------------------------------

    def _hook(self) -> None:
        regs = self.bar.regs
        regs.write_1_to_clear("IntrStatus")
        regs.read_only("PHYstatus")
        regs.on_write("TxConfig", lambda old, new, mask: (new & ~XID_MASK) | (old & XID_MASK))
        regs.on_write("ChipCmd", self._chip_cmd)
        regs.on_write("TxPoll", self._tx_poll)
        regs.on_write("TxDescStartAddrLow", self._tx_ring_moved)
        regs.on_write("PHYAR", self._phyar)
        regs.on_write("EPHYAR", lambda old, new, mask: _indirect(new, self.ephy, 16, 0x1F))
        regs.on_write("CSIAR", lambda old, new, mask: self._indirect_pair(new, self.csi, "CSIDR"))
        regs.on_write("ERIAR", lambda old, new, mask: self._indirect_pair(new, self.eri, "ERIDR"))
        regs.on_write("OCPAR", lambda old, new, mask: self._indirect_pair(new, self.ocp, "OCPDR"))
        regs.on_write("CounterAddrLow", self._counters)

    def _chip_cmd(self, old: int, new: int, mask: int) -> int:
        if new & ChipCmd.CmdReset:
            self._tx_next = 0
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
        regs = self.bar.regs
        if command & FLAG:
            store[address] = regs.read(data_name)
            return command & ~FLAG
        regs.write(data_name, store.get(address, 0))
        return command | FLAG

    def _tx_ring_moved(self, old: int, new: int, mask: int) -> None:
        self._tx_next = 0

    def _tx_poll(self, old: int, new: int, mask: int) -> int:
        if new & TXPOLL_NPQ and self._transmit():
            self.bar.regs.set_bits("IntrStatus", Intr.TxOK)
        return 0  # the doorbell reads back clear

    def _transmit(self) -> bool:
        """Send what the driver handed over; whether anything went."""
        regs = self.bar.regs
        ring = regs.read("TxDescStartAddrLow") | regs.read("TxDescStartAddrHigh") << 32
        memory = self.memory()
        sent = False
        for _ in range(TX_RING_MAX):
            where = ring + TX_DESC.size * self._tx_next
            opts1, opts2, addr = TX_DESC.unpack(memory.read(where, TX_DESC.size))
            if not opts1 & DESC_OWN:
                break
            self.frames.append(memory.read(addr, opts1 & TX_LEN_MASK))
            self.tx_packets += 1
            memory.write(where, TX_DESC.pack(opts1 & ~DESC_OWN, opts2, addr))
            self._tx_next = 0 if opts1 & RING_END else self._tx_next + 1
            sent = True
        return sent

    def _counters(self, old: int, new: int, mask: int) -> int:
        if new & COUNTER_DUMP:
            addr = (new & ~0x3F) | self.bar.regs.read("CounterAddrHigh") << 32
            tally = struct.pack("<Q", self.tx_packets).ljust(COUNTERS_SIZE, b"\0")
            self.memory().write(addr, tally)
        return new & ~(COUNTER_DUMP | COUNTER_RESET)


def _indirect(command: int, store: dict[int, int], shift: int, mask: int) -> int:
    """EPHYAR-style: register number at `shift`, data in the low 16 bits, flag in bit 31."""
    reg = (command >> shift) & mask
    if command & FLAG:
        store[reg] = command & 0xFFFF
        return command & ~FLAG
    return (command & ~0xFFFF) | store.get(reg, 0) | FLAG


def _parse_mac(text: str) -> bytes:
    try:
        mac = bytes.fromhex(text.replace(":", "").replace("-", ""))
    except ValueError:
        mac = b""
    if len(mac) != 6:
        raise SimulatorError(f"rtl8111: mac={text}: six hex bytes, e.g. 00:e0:4c:68:11:01")
    return mac
