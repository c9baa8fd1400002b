"""The FPGA register map, and the C constants that mirror it and the ICD."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from simulators.fpga import icd, regs
from simulators.regfile import RegisterFile

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "drivers" / "fpga" / "uh_fpga.c"
READER = ROOT / "userspace" / "fpga_reader" / "fpga_reader.c"


def c_defines(path: Path) -> dict[str, int]:
    """`#define NAME <number or BIT(n)>` lines of a C file."""
    values = {}
    for name, value in re.findall(r"^#define\s+(\w+)\s+(\S+)", path.read_text(), re.M):
        value = value.rstrip("u")
        bit = re.fullmatch(r"BIT\((\d+)\)", value)
        if bit:
            values[name] = 1 << int(bit[1])
        elif re.fullmatch(r"0x[0-9a-fA-F]+|\d+", value):
            values[name] = int(value, 0)
    return values


@pytest.fixture
def regfile() -> RegisterFile:
    return RegisterFile(regs.FPGA, np.zeros(regs.REGS_SIZE, np.uint8), device="fpga0")


def test_map_is_one_page(regfile: RegisterFile) -> None:
    assert regs.FPGA.sizeof() == regs.REGS_SIZE == 0x1000
    assert regfile.offset("ID") == 0 and regfile.offset("BYTES_PRODUCED") == 0x58


def test_driver_register_offsets_match_the_map(regfile: RegisterFile) -> None:
    defines = c_defines(DRIVER)
    c_names = {
        "ID": "FPGA_ID",
        "VERSION": "FPGA_VERSION",
        "CTRL": "FPGA_CTRL",
        "STATUS": "FPGA_STATUS",
        "INTR_STATUS": "FPGA_INTR_STATUS",
        "INTR_MASK": "FPGA_INTR_MASK",
        "REPORT_RING_BASE": "FPGA_RPT_BASE",
        "REPORT_RING_SIZE": "FPGA_RPT_SIZE",
        "REPORT_RING_HEAD": "FPGA_RPT_HEAD",
        "REPORT_RING_TAIL": "FPGA_RPT_TAIL",
        "CMD_RING_BASE": "FPGA_CMD_BASE",
        "CMD_RING_SIZE": "FPGA_CMD_SIZE",
        "CMD_RING_HEAD": "FPGA_CMD_HEAD",
        "CMD_RING_TAIL": "FPGA_CMD_TAIL",
        "REPORTS_DROPPED": "FPGA_REPORTS_DROPPED",
    }
    for register, define in c_names.items():
        assert defines[define] == regfile.offset(register), register


def test_driver_bits_and_constants_match() -> None:
    defines = c_defines(DRIVER)
    assert defines["CTRL_ENABLE"] == regs.Ctrl.ENABLE
    assert defines["CTRL_IRQ_EN"] == regs.Ctrl.IRQ_EN
    assert defines["INTR_REPORT_READY"] == regs.Intr.REPORT_READY
    assert defines["INTR_OVERFLOW"] == regs.Intr.OVERFLOW
    assert defines["INTR_CMD_DONE"] == regs.Intr.CMD_DONE
    assert defines["FPGA_MAGIC"] == icd.MAGIC == regs.FPGA_ID
    assert defines["FPGA_CMD_MAGIC"] == icd.COMMAND_MAGIC
    assert defines["FPGA_ICD_VERSION"] == icd.VERSION
    assert defines["FPGA_MAX_CMD_PAYLOAD"] == icd.MAX_COMMAND_PAYLOAD
    assert defines["CMD_RING_OFFSET"] == regs.CMD_RING_OFFSET
    assert defines["CMD_RING_SIZE"] == regs.CMD_RING_SIZE
    assert defines["RPT_RING_OFFSET"] == regs.REPORT_RING_OFFSET
    assert defines["MIN_RPT_RING"] == regs.MIN_REPORT_RING


def test_reader_constants_match() -> None:
    defines = c_defines(READER)
    assert defines["MAGIC"] == icd.MAGIC and defines["CMD_MAGIC"] == icd.COMMAND_MAGIC
    assert defines["HDR_SIZE"] == icd.HEADER_SIZE
    assert defines["CMD_HDR_SIZE"] == icd.COMMAND_HEADER_SIZE
    assert defines["MAX_CMD_PAYLOAD"] == icd.MAX_COMMAND_PAYLOAD
    assert defines["FLAG_DROPPED_BEFORE"] == icd.ReportFlag.DROPPED_BEFORE


@pytest.mark.parametrize(
    ("path", "bit"),
    [
        ("CTRL.ENABLE", 0),
        ("CTRL.IRQ_EN", 1),
        ("STATUS.RUNNING", 0),
        ("STATUS.OVERFLOW", 1),
        ("STATUS.ERROR", 2),
        ("INTR_STATUS.REPORT_READY", 0),
        ("INTR_STATUS.OVERFLOW", 1),
        ("INTR_STATUS.CMD_DONE", 2),
        ("VERSION.ICD", 0),
        ("VERSION.MAJOR", 24),
    ],
)
def test_bit_positions(regfile: RegisterFile, path: str, bit: int) -> None:
    _, field = regfile.field(path)
    assert field.bit == bit


def test_bit_registers_are_little_endian(regfile: RegisterFile) -> None:
    regfile.write_field("INTR_MASK.CMD_DONE", 1)
    regfile.write_field("VERSION.MAJOR", 0x12)
    raw = regfile._buffer  # type: ignore[attr-defined]
    assert raw[0x14] == 0x04 and raw[0x07] == 0x12


@pytest.mark.parametrize(
    ("region", "ring"),
    [(4 << 20, 2 << 20), (8 << 20, 4 << 20), (0x60000, 0x40000), (0x3FFFF, 0)],
)
def test_report_ring_size(region: int, ring: int) -> None:
    assert regs.report_ring_size(region) == ring
