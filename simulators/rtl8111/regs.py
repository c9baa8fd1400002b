"""The RTL8111 (RTL8168) register map, as the r8169 driver and the datasheet name it.

Only the registers a simulator or a test has a use for are named; everything
else is `Padding`, so that the offsets of the named ones follow from the
layout and `test_rtl8111_regs` can check them against r8169's `rtl_registers`.

The datasheet calls the station address IDR0-5; r8169 reads it as two words
at MAC0 and MAC4. Here it is six byte registers, MAC0..MAC5.
"""

from __future__ import annotations

import enum

from construct import (
    BitsInteger,
    BitStruct,
    ByteSwapped,
    Flag,
    Int8ub,
    Int16ul,
    Int32ul,
    Int64ul,
    Padding,
    Struct,
)

from ..cheader import CHeader

# IntrMask and IntrStatus share one layout: a little-endian u16 whose bits
# BitStruct lists most significant first. The reserved bits are a named
# field rather than Padding so that writing a field back keeps whatever the
# driver put there.
INTR_BITS = ByteSwapped(
    BitStruct(
        "SYSErr" / Flag,  # bit 15
        "PCSTimeout" / Flag,  # bit 14
        "Reserved" / BitsInteger(5),  # bits 13:9
        "SWInt" / Flag,  # bit 8
        "TxDescUnavail" / Flag,  # bit 7
        "RxFIFOOver" / Flag,  # bit 6
        "LinkChg" / Flag,  # bit 5
        "RxOverflow" / Flag,  # bit 4, RxDescUnavail in the datasheet
        "TxErr" / Flag,  # bit 3
        "TxOK" / Flag,  # bit 2
        "RxErr" / Flag,  # bit 1
        "RxOK" / Flag,  # bit 0
    )
)

PHY_STATUS_BITS = BitStruct(
    "TBI_Enable" / Flag,  # bit 7
    "TxFlowCtrl" / Flag,  # bit 6
    "RxFlowCtrl" / Flag,  # bit 5
    "_1000bpsF" / Flag,  # bit 4: 1000 Mb/s, always full duplex
    "_100bps" / Flag,  # bit 3
    "_10bps" / Flag,  # bit 2
    "LinkStatus" / Flag,  # bit 1
    "FullDup" / Flag,  # bit 0
)

RTL8111 = Struct(
    "MAC0" / Int8ub,  # 0x00: station address (IDR0-5)
    "MAC1" / Int8ub,
    "MAC2" / Int8ub,
    "MAC3" / Int8ub,
    "MAC4" / Int8ub,
    "MAC5" / Int8ub,
    Padding(2),
    "MAR0" / Int64ul,  # 0x08: multicast hash filter, MAR0-7
    "CounterAddrLow" / Int32ul,  # 0x10
    "CounterAddrHigh" / Int32ul,  # 0x14
    Padding(8),
    "TxDescStartAddrLow" / Int32ul,  # 0x20: normal-priority Tx ring
    "TxDescStartAddrHigh" / Int32ul,  # 0x24
    "TxHDescStartAddrLow" / Int32ul,  # 0x28: high-priority Tx ring
    "TxHDescStartAddrHigh" / Int32ul,  # 0x2c
    Padding(7),  # 0x30: FLASH, ERSR
    "ChipCmd" / Int8ub,  # 0x37
    "TxPoll" / Int8ub,  # 0x38
    Padding(3),
    "IntrMask" / INTR_BITS,  # 0x3c
    "IntrStatus" / INTR_BITS,  # 0x3e
    "TxConfig" / Int32ul,  # 0x40
    "RxConfig" / Int32ul,  # 0x44
    Padding(8),  # 0x48: RxMissed (8169 only)
    "Cfg9346" / Int8ub,  # 0x50
    "Config0" / Int8ub,  # 0x51
    "Config1" / Int8ub,  # 0x52
    "Config2" / Int8ub,  # 0x53
    "Config3" / Int8ub,  # 0x54
    "Config4" / Int8ub,  # 0x55
    "Config5" / Int8ub,  # 0x56
    Padding(9),  # 0x57: MultiIntr (8169 only) at 0x5c
    "PHYAR" / Int32ul,  # 0x60: MII access to the PHY's registers
    "CSIDR" / Int32ul,  # 0x64: PCIe config space, indirect: data
    "CSIAR" / Int32ul,  # 0x68: ... and address/command (TBI registers on the 8169)
    "PHYstatus" / PHY_STATUS_BITS,  # 0x6c
    Padding(3),
    "ERIDR" / Int32ul,  # 0x70: extended registers, indirect: data
    "ERIAR" / Int32ul,  # 0x74: ... and address/command
    Padding(8),
    "EPHYAR" / Int32ul,  # 0x80: PCIe PHY registers, indirect
    Padding(0xB0 - 0x84),
    "OCPDR" / Int32ul,  # 0xb0: OCP registers, indirect: data
    "OCPAR" / Int32ul,  # 0xb4: ... and address/command
    "GPHY_OCP" / Int32ul,  # 0xb8: PHY registers over OCP (8168g and later)
    Padding(0xDA - 0xBC),
    "RxMaxSize" / Int16ul,  # 0xda
    Padding(4),
    "CPlusCmd" / Int16ul,  # 0xe0
    "IntrMitigate" / Int16ul,  # 0xe2
    "RxDescAddrLow" / Int32ul,  # 0xe4
    "RxDescAddrHigh" / Int32ul,  # 0xe8
    Padding(0x100 - 0xEC),  # 0xec: MaxTxPacketSize, FuncEvent...
)
SIZE = 0x100
assert RTL8111.sizeof() == SIZE, f"RTL8111 map is {RTL8111.sizeof():#x} bytes, not {SIZE:#x}"


class Intr(enum.IntFlag):
    """IntrMask / IntrStatus bits (r8169 `rtl_register_content`)."""

    SYSErr = 0x8000
    PCSTimeout = 0x4000
    SWInt = 0x0100
    TxDescUnavail = 0x0080
    RxFIFOOver = 0x0040
    LinkChg = 0x0020
    RxOverflow = 0x0010
    RxDescUnavail = 0x0010  # the datasheet's name for RxOverflow (an alias)
    TxErr = 0x0008
    TxOK = 0x0004
    RxErr = 0x0002
    RxOK = 0x0001


class PhyStatus(enum.IntFlag):
    """PHYstatus bits (r8169 `rtl8169_PHYstatus`)."""

    TBI_Enable = 0x80
    TxFlowCtrl = 0x40
    RxFlowCtrl = 0x20
    _1000bpsF = 0x10
    _100bps = 0x08
    _10bps = 0x04
    LinkStatus = 0x02
    FullDup = 0x01


class ChipCmd(enum.IntFlag):
    """ChipCmd bits (r8169 `ChipCmdBits`)."""

    StopReq = 0x80
    CmdReset = 0x10
    CmdRxEnb = 0x08
    CmdTxEnb = 0x04
    RxBufEmpty = 0x01


# Link speed in Mb/s -> its PHYstatus bit.
SPEED_BITS = {1000: PhyStatus._1000bpsF, 100: PhyStatus._100bps, 10: PhyStatus._10bps}
MAC_REGISTERS = tuple(f"MAC{i}" for i in range(6))


# drivers/include/uh/rtl8111_regs.h, which uh_rtl8111.c includes: r8169's names.
C_HEADER = CHeader(
    path="drivers/include/uh/rtl8111_regs.h",
    module=__name__,
    title="the RTL8111's registers, with r8169's names",
    registers=RTL8111,
    constants={"RTL_REGS_SIZE": SIZE},
    enums={"": ChipCmd},
)
