"""The FPGA register map, and fpga_reader's copy of the ICD constants.

uh_fpga includes a header generated from the map and the ICD
(tests/unit/test_cheader.py). fpga_reader, a guest program, is built on its
own without drivers/include, so it still keeps a copy, checked here.
"""

from __future__ import annotations

import enum
import re
from pathlib import Path

import numpy as np
import pytest

from simulators.fpga import icd, regs
from simulators.regfile import RegisterFile

ROOT = Path(__file__).resolve().parents[2]
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


@pytest.mark.parametrize(
    ("register", "flags"),
    [
        ("CTRL", regs.Ctrl),
        ("STATUS", regs.Status),
        ("INTR_STATUS", regs.Intr),
        ("INTR_MASK", regs.Intr),
    ],
)
def test_bits_match_the_enums(
    regfile: RegisterFile, register: str, flags: type[enum.IntFlag]
) -> None:
    """The model sets bits by the enums; the driver's header has them from the map."""
    fields = regfile.register(register).fields.values()
    masks = {field.name: field.mask for field in fields if field.name != "Reserved"}
    assert masks == {name: int(flag) for name, flag in flags.__members__.items()}


def test_the_id_is_the_report_magic() -> None:
    assert regs.FPGA_ID == icd.MAGIC


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
