"""The FPGA's register map: one 4 KiB page at the start of its iomem region, little-endian.

Each register has one writer, named at the start of its description: the
device (the simulator) or the driver. The only register both touch is
INTR_STATUS: the device sets bits, the driver acknowledges by clearing them
with an atomic compare-and-exchange (where real hardware would take
write-1-to-clear).

Rings: both rings live in the same iomem region as the registers, at byte
offsets the driver programs into *_RING_BASE and *_RING_SIZE before it sets
CTRL.ENABLE. A ring's size is a power of two; HEAD and TAIL are free-running
u32 byte counters (they wrap at 2**32, not at the ring size), the position in
the ring being `index & (size - 1)`, so `HEAD - TAIL` is the number of bytes
in the ring and the ring is never ambiguous between full and empty. The
producer writes the data first and then HEAD (release); the consumer reads
HEAD (acquire), then the data, and then moves TAIL (release), which is when
the producer may overwrite those bytes.

uh_fpga places the command ring at 0x10000 (64 KiB) and the report ring at
0x20000, as large as the largest power of two that fits the rest of the
region (2 MiB in a 4 MiB region).
"""

from __future__ import annotations

import enum

from construct import BitsInteger, BitStruct, ByteSwapped, Flag, Int32ul, Int64ul, Padding, Struct

from ..cheader import CHeader
from . import icd

FPGA_ID = 0x46504741  # "FPGA", as the report magic
HW_MAJOR = 1
HW_MINOR = 0
REGS_SIZE = 0x1000
CMD_RING_OFFSET = 0x10000
CMD_RING_SIZE = 0x10000
REPORT_RING_OFFSET = 0x20000
MIN_REPORT_RING = 0x20000  # a ring must hold the largest report (28 + 65535 bytes)

VERSION_BITS = ByteSwapped(
    BitStruct(
        "MAJOR" / BitsInteger(8) * "hardware major version",  # bits 31:24
        "MINOR" / BitsInteger(8) * "hardware minor version",  # bits 23:16
        "Reserved" / BitsInteger(8),  # bits 15:8
        "ICD" / BitsInteger(8) * "report and command format version (1)",  # bits 7:0
    )
)

# Reserved bits are named fields rather than Padding so that writing one
# field back keeps whatever the other side put in the rest.
CTRL_BITS = ByteSwapped(
    BitStruct(
        "Reserved" / BitsInteger(30),  # bits 31:2
        "IRQ_EN" / Flag * "the device may raise interrupts at all",  # bit 1
        "ENABLE" / Flag * "the device may write reports (uh_fpga: a reader has it open)",  # bit 0
    )
)

STATUS_BITS = ByteSwapped(
    BitStruct(
        "Reserved" / BitsInteger(29),  # bits 31:3
        "ERROR" / Flag * "a command was rejected since the last RESET",  # bit 2
        "OVERFLOW" / Flag * "the report ring is full: reports are being dropped",  # bit 1
        "RUNNING" / Flag * "the device is streaming reports",  # bit 0
    )
)

INTR_BITS = ByteSwapped(
    BitStruct(
        "Reserved" / BitsInteger(29),  # bits 31:3
        "CMD_DONE" / Flag * "the device consumed commands: CMD_RING_TAIL moved",  # bit 2
        "OVERFLOW" / Flag * "the device dropped reports: REPORTS_DROPPED grew",  # bit 1
        "REPORT_READY" / Flag * "new reports: REPORT_RING_HEAD moved",  # bit 0
    )
)

FPGA = Struct(
    "ID" / Int32ul * "device: 0x46504741 ('FPGA') once the device is up",
    "VERSION" / VERSION_BITS * "device: hardware version and ICD version",
    "CTRL" / CTRL_BITS * "driver: what the device may do",
    "STATUS" / STATUS_BITS * "device: its state",
    "INTR_STATUS" / INTR_BITS * "device sets, driver clears: pending interrupt causes",
    "INTR_MASK" / INTR_BITS * "driver: causes that raise the interrupt",
    Padding(0x20 - 0x18),
    "REPORT_RING_BASE" / Int32ul * "driver: report ring offset in the region",
    "REPORT_RING_SIZE" / Int32ul * "driver: report ring bytes, a power of two",
    "REPORT_RING_HEAD" / Int32ul * "device: bytes written, free-running",
    "REPORT_RING_TAIL" / Int32ul * "driver: bytes consumed, free-running",
    "CMD_RING_BASE" / Int32ul * "driver: command ring offset in the region",
    "CMD_RING_SIZE" / Int32ul * "driver: command ring bytes, a power of two",
    "CMD_RING_HEAD" / Int32ul * "driver: bytes written, free-running",
    "CMD_RING_TAIL" / Int32ul * "device: bytes consumed, free-running",
    "REPORTS_PRODUCED" / Int32ul * "device: reports written to the ring",
    "REPORTS_DROPPED" / Int32ul * "device: reports dropped because the ring was full",
    "COMMANDS_CONSUMED" / Int32ul * "device: commands taken from the ring, rejected ones too",
    "COMMAND_ERRORS" / Int32ul * "device: commands rejected",
    "RATE" / Int32ul * "device: the current stream rate, reports/s (0: ring-paced)",
    Padding(4),
    "BYTES_PRODUCED" / Int64ul * "device: report bytes written to the ring",
    Padding(REGS_SIZE - 0x60),
)
assert FPGA.sizeof() == REGS_SIZE, f"FPGA map is {FPGA.sizeof():#x} bytes, not {REGS_SIZE:#x}"


class Ctrl(enum.IntFlag):
    IRQ_EN = 0x02
    ENABLE = 0x01


class Status(enum.IntFlag):
    ERROR = 0x04
    OVERFLOW = 0x02
    RUNNING = 0x01


class Intr(enum.IntFlag):
    """INTR_STATUS / INTR_MASK bits."""

    CMD_DONE = 0x04
    OVERFLOW = 0x02
    REPORT_READY = 0x01


# drivers/include/uh/fpga_regs.h, which uh_fpga.c includes: the registers,
# where uh_fpga puts the rings, and the ICD's report and command headers.
C_HEADER = CHeader(
    path="drivers/include/uh/fpga_regs.h",
    module=__name__,
    title="the FPGA's registers, reports and commands (docs/icd.md)",
    registers=FPGA,
    prefix="FPGA_",
    field_prefixes={
        "VERSION": "FPGA_VERSION_",
        "CTRL": "FPGA_CTRL_",
        "STATUS": "FPGA_STATUS_",
        "INTR_STATUS": "FPGA_INTR_",
        "INTR_MASK": "FPGA_INTR_",
    },
    constants={
        "FPGA_REGS_SIZE": REGS_SIZE,
        "FPGA_ID_VALUE": FPGA_ID,
        "FPGA_CMD_RING_OFFSET": CMD_RING_OFFSET,
        "FPGA_CMD_RING_BYTES": CMD_RING_SIZE,
        "FPGA_REPORT_RING_OFFSET": REPORT_RING_OFFSET,
        "FPGA_MIN_REPORT_RING": MIN_REPORT_RING,
        "FPGA_MAGIC": icd.MAGIC,
        "FPGA_CMD_MAGIC": icd.COMMAND_MAGIC,
        "FPGA_ICD_VERSION": icd.VERSION,
        "FPGA_MAX_CMD_PAYLOAD": icd.MAX_COMMAND_PAYLOAD,
    },
    enums={
        "FPGA_REPORT_": icd.ReportType,
        "FPGA_REPORT_FLAG_": icd.ReportFlag,
        "FPGA_EVENT_": icd.EventCode,
        "FPGA_OP_": icd.Opcode,
        "FPGA_PARAM_": icd.Param,
    },
    structs={"fpga_report_hdr": icd.HEADER, "fpga_cmd_hdr": icd.COMMAND_HEADER},
    sources=("simulators/fpga/icd.py",),
)


def report_ring_size(region_size: int) -> int:
    """The report ring uh_fpga lays out in a region of `region_size` bytes (0: too small)."""
    room = region_size - REPORT_RING_OFFSET
    if room < MIN_REPORT_RING:
        return 0
    return 1 << (room.bit_length() - 1)
