"""The RTL8111 map against r8169's `rtl_registers` and `rtl_register_content`."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.regfile import Buffer, RegisterFile
from simulators.rtl8111.regs import RTL8111, Intr, PhyStatus

# Offsets as r8169 defines them (MAC0-5 being the datasheet's IDR0-5).
R8169_OFFSETS = {
    "MAC0": 0x00,
    "MAC4": 0x04,
    "MAC5": 0x05,
    "MAR0": 0x08,
    "CounterAddrLow": 0x10,
    "CounterAddrHigh": 0x14,
    "TxDescStartAddrLow": 0x20,
    "TxDescStartAddrHigh": 0x24,
    "TxHDescStartAddrLow": 0x28,
    "TxHDescStartAddrHigh": 0x2C,
    "ChipCmd": 0x37,
    "TxPoll": 0x38,
    "IntrMask": 0x3C,
    "IntrStatus": 0x3E,
    "TxConfig": 0x40,
    "RxConfig": 0x44,
    "Cfg9346": 0x50,
    "Config0": 0x51,
    "Config5": 0x56,
    "PHYAR": 0x60,
    "PHYstatus": 0x6C,
    "RxMaxSize": 0xDA,
    "CPlusCmd": 0xE0,
    "IntrMitigate": 0xE2,
    "RxDescAddrLow": 0xE4,
    "RxDescAddrHigh": 0xE8,
}


@pytest.fixture
def buf() -> Buffer:
    return np.zeros(0x100, np.uint8)


@pytest.fixture
def regs(buf: Buffer) -> RegisterFile:
    return RegisterFile(RTL8111, buf, device="RTL8111")


def test_map_is_0x100_bytes() -> None:
    assert RTL8111.sizeof() == 0x100


@pytest.mark.parametrize(("name", "offset"), R8169_OFFSETS.items())
def test_offsets_match_r8169(regs: RegisterFile, name: str, offset: int) -> None:
    assert regs.offset(name) == offset


def test_register_sizes(regs: RegisterFile) -> None:
    sizes = {name: reg.size for name, reg in regs.registers.items()}
    assert sizes["MAR0"] == 8
    assert sizes["IntrMask"] == sizes["IntrStatus"] == 2
    assert sizes["TxConfig"] == sizes["RxConfig"] == sizes["PHYAR"] == 4
    assert sizes["ChipCmd"] == sizes["PHYstatus"] == 1


@pytest.mark.parametrize("register", ["IntrMask", "IntrStatus"])
def test_interrupt_bits_match_r8169(regs: RegisterFile, register: str) -> None:
    masks = {name: field.mask for name, field in regs.register(register).fields.items()}
    assert {name: masks[name] for name in Intr.__members__ if name in masks} == {
        name: int(bit) for name, bit in Intr.__members__.items() if name != "RxDescUnavail"
    }
    assert masks["Reserved"] == 0x3E00
    assert Intr["RxDescUnavail"] is Intr.RxOverflow  # an alias
    assert int(Intr.RxOverflow) == 0x10
    assert Intr.PCSTimeout == 1 << 14  # as r8169 has it; bit 9 is reserved


def test_phy_status_bits_match_r8169(regs: RegisterFile) -> None:
    masks = {name: field.mask for name, field in regs.register("PHYstatus").fields.items()}
    assert masks == {name: int(bit) for name, bit in PhyStatus.__members__.items()}


def test_interrupt_registers_are_little_endian(regs: RegisterFile, buf: Buffer) -> None:
    regs.write_field("IntrStatus.LinkChg", 1)
    assert buf[0x3E:0x40].tolist() == [0x20, 0x00]
    regs.write_field("IntrStatus.SYSErr", 1)
    assert buf[0x3E:0x40].tolist() == [0x20, 0x80]
    regs.set_bits("IntrMask", Intr.LinkChg | Intr.SWInt)
    assert buf[0x3C:0x3E].tolist() == [0x20, 0x01]


def test_phy_status_bits_in_memory(regs: RegisterFile, buf: Buffer) -> None:
    regs.write_field("PHYstatus.LinkStatus", 1)
    regs.write_field("PHYstatus._1000bpsF", 1)
    assert buf[0x6C] == 0x12
    assert regs.read("PHYstatus") == PhyStatus.LinkStatus | PhyStatus._1000bpsF


def test_writing_a_field_keeps_reserved_bits(regs: RegisterFile, buf: Buffer) -> None:
    buf[0x3F] = 0x02  # bit 9: reserved, but whatever the driver put there stays
    regs.write_field("IntrStatus.LinkChg", 1)
    regs.write_field("IntrStatus.LinkChg", 0)
    assert regs.read("IntrStatus") == 0x0200
    assert regs.read_field("IntrStatus.Reserved") == 0x01


def test_mac_bytes(regs: RegisterFile, buf: Buffer) -> None:
    for index, byte in enumerate(bytes.fromhex("00e04c681101")):
        regs.write(f"MAC{index}", byte)
    assert bytes(buf[:6]) == bytes.fromhex("00e04c681101")
