"""The PCI RTL8111 as r8169 talks to it: XID, PHY over PHYAR, handshakes, interrupts, Tx."""

from __future__ import annotations

import struct
import threading

import pytest

from simulators.errors import AckTimeout, SimulatorError
from simulators.pci.pcidev import msi_message
from simulators.rtl8111.descriptors import PACKED, Opts1
from simulators.rtl8111.model import LinkState
from simulators.rtl8111.pci import Rtl8111Pci
from simulators.rtl8111.phy import BMCR_PDOWN, BMSR_LSTATUS, Phy

from .pci_memory import GUEST_ADDR, guest_memory

BAR = 2


def read32(nic: Rtl8111Pci, offset: int) -> int:
    return int(struct.unpack("<I", nic.mmio_read(BAR, offset, 4))[0])


def write32(nic: Rtl8111Pci, offset: int, value: int) -> None:
    nic.mmio_write(BAR, offset, struct.pack("<I", value))


def mdio_read(nic: Rtl8111Pci, reg: int) -> int:
    """r8169_mdio_read: PHYAR := reg << 16, wait for the flag, take the data."""
    write32(nic, 0x60, reg << 16)
    value = read32(nic, 0x60)
    assert value & 1 << 31, "read not complete"
    return value & 0xFFFF


def mdio_write(nic: Rtl8111Pci, reg: int, value: int) -> None:
    write32(nic, 0x60, 1 << 31 | reg << 16 | value)
    assert not read32(nic, 0x60) & 1 << 31, "write not complete"


def with_msi(nic: Rtl8111Pci) -> list[bytes]:
    sent: list[bytes] = []
    nic.send_irq = sent.append
    nic.cfg_write(0x48, struct.pack("<H", 65))
    nic.cfg_write(0x42, struct.pack("<H", 1))
    return sent


def test_identity_is_an_8168c_with_msi() -> None:
    nic = Rtl8111Pci()
    assert nic.cfg_read(0, 4) == struct.pack("<HH", 0x10EC, 0x8168)
    assert (read32(nic, 0x40) >> 20) & 0xFCF == 0x3C0  # r8169: RTL_GIGA_MAC_VER_19
    write32(nic, 0x40, 0x03000700)  # the driver programs TxConfig; the XID stays
    assert read32(nic, 0x40) == 0x3C000000 | 0x03000700
    assert nic.mmio_read(BAR, 0, 6) == bytes.fromhex("00e04c681101")
    assert Rtl8111Pci(mac="02:00:00:00:00:09").mmio_read(BAR, 0, 6) == bytes.fromhex("020000000009")
    with pytest.raises(SimulatorError, match="six hex bytes"):
        Rtl8111Pci(mac="02:00")
    with pytest.raises(SimulatorError, match="up or down"):
        Rtl8111Pci(link="sideways")


def test_phy_answers_over_phyar_and_reports_the_link() -> None:
    nic = Rtl8111Pci()
    assert (mdio_read(nic, 2), mdio_read(nic, 3)) == (0x001C, 0xC912)  # RTL8211B
    assert mdio_read(nic, 1) & BMSR_LSTATUS
    assert mdio_read(nic, 10) & 0x0800  # partner does 1000/full
    nic.nic.regs.write("PHYstatus", 0)  # what link_down() leaves
    assert not mdio_read(nic, 1) & BMSR_LSTATUS
    mdio_write(nic, 0x1F, 0x0002)  # a vendor page
    mdio_write(nic, 0x05, 0xBEEF)
    assert mdio_read(nic, 0x05) == 0xBEEF
    mdio_write(nic, 0x1F, 0)
    assert mdio_read(nic, 0x05) == 0  # page 0 LPA: no partner


def test_a_powered_down_phy_has_no_link() -> None:
    phy = Phy(lambda: LinkState(True, 1000, True))
    assert phy.read(1) & BMSR_LSTATUS
    phy.write(0, phy.read(0) | BMCR_PDOWN)
    assert not phy.read(1) & BMSR_LSTATUS
    phy.write(0, 0x8000)  # reset: powered up again, reset bit self-clears
    assert phy.read(1) & BMSR_LSTATUS and not phy.read(0) & 0x8000


def test_indirect_registers_complete_at_once() -> None:
    nic = Rtl8111Pci()
    write32(nic, 0x80, 1 << 31 | 0x03 << 16 | 0x1234)  # EPHY write
    assert not read32(nic, 0x80) & 1 << 31
    write32(nic, 0x80, 0x03 << 16)  # EPHY read
    assert read32(nic, 0x80) == 1 << 31 | 0x03 << 16 | 0x1234
    write32(nic, 0x64, 0xCAFE0000)  # CSIDR, then CSIAR write command
    write32(nic, 0x68, 1 << 31 | 0x70C)
    write32(nic, 0x64, 0)
    write32(nic, 0x68, 0x70C)  # CSI read
    assert read32(nic, 0x68) & 1 << 31 and read32(nic, 0x64) == 0xCAFE0000
    nic.mmio_write(BAR, 0x37, b"\x10")  # CmdReset
    assert nic.mmio_read(BAR, 0x37, 1) == b"\0"


def test_link_change_raises_msi_and_waits_for_the_ack() -> None:
    nic = Rtl8111Pci(link="down")
    sent = with_msi(nic)
    with pytest.raises(SimulatorError, match="not enabled the link-change interrupt"):
        nic.nic.link_up()
    nic.mmio_write(BAR, 0x3C, struct.pack("<H", 0x0025))  # IntrMask: LinkChg, TxOK, RxOK

    def driver() -> None:  # r8169's handler: read status, write it back to clear
        while not sent:
            pass
        status = nic.mmio_read(BAR, 0x3E, 2)
        nic.mmio_write(BAR, 0x3E, status)

    handler = threading.Thread(target=driver)
    handler.start()
    nic.nic.link_up(100, False)
    handler.join(5)
    assert sent == [msi_message(65, msix=False)]
    assert nic.nic.link_state() == LinkState(True, 100, False)
    nic.nic.set_ack_timeout(0.2)
    with pytest.raises(AckTimeout):
        nic.nic.link_down()  # nobody acknowledges this one


def test_tx_poll_sends_what_the_driver_owns() -> None:
    nic = Rtl8111Pci()
    sent = with_msi(nic)
    nic.mmio_write(BAR, 0x3C, struct.pack("<H", 0x0004))  # TxOK
    with guest_memory() as memory:
        nic.dma = memory
        ring = GUEST_ADDR + 0x1000
        frames = [b"\xff" * 6 + bytes(range(i, i + 54)) for i in range(3)]
        for index, frame in enumerate(frames):
            memory.write(GUEST_ADDR + 0x8000 + 0x800 * index, frame)
            flags = Opts1.OWN | Opts1.FS | Opts1.LS | (Opts1.EOR if index == 2 else 0) | len(frame)
            memory.write(
                ring + 16 * index, PACKED.pack(flags, 0, GUEST_ADDR + 0x8000 + 0x800 * index)
            )
        write32(nic, 0x20, ring & 0xFFFFFFFF)
        write32(nic, 0x24, ring >> 32)
        nic.mmio_write(BAR, 0x38, b"\x40")  # TxPoll NPQ
        assert nic.nic.transmitted() == frames
        for index in range(3):
            opts1 = PACKED.unpack(memory.read(ring + 16 * index, 16))[0]
            assert not opts1 & Opts1.OWN
        assert nic.mmio_read(BAR, 0x3E, 2) == b"\x04\x00" and len(sent) == 1
        assert nic.mmio_read(BAR, 0x38, 1) == b"\0"
        nic.dma = None
