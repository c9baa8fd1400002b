"""The thermo register map: offsets, sizes and encodings (uh_thermo.c includes its header)."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.errors import SimulatorError
from simulators.regfile import Buffer, RegisterFile
from simulators.thermo.regs import THERMO, THERMO_ID, Ctrl, Status

OFFSETS = {"ID": 0x00, "CTRL": 0x04, "STATUS": 0x05, "TEMP": 0x08, "THRESHOLD": 0x0A}
SIZES = {"ID": 4, "CTRL": 1, "STATUS": 1, "TEMP": 2, "THRESHOLD": 2}


@pytest.fixture
def buf() -> Buffer:
    return np.zeros(0x40, np.uint8)


@pytest.fixture
def regs(buf: Buffer) -> RegisterFile:
    return RegisterFile(THERMO, buf, device="thermo")


def test_map_is_0x40_bytes(regs: RegisterFile) -> None:
    assert THERMO.sizeof() == regs.size == 0x40


def test_offsets_and_sizes(regs: RegisterFile) -> None:
    assert {name: reg.offset for name, reg in regs.registers.items()} == OFFSETS
    assert {name: reg.size for name, reg in regs.registers.items()} == SIZES


def test_bits_match_the_enums(regs: RegisterFile) -> None:
    for register, flags in (("CTRL", Ctrl), ("STATUS", Status)):
        masks = {name: field.mask for name, field in regs.register(register).fields.items()}
        assert masks == {"Reserved": 0xFC, **{flag.name: int(flag) for flag in flags}}


def test_id_is_little_endian(regs: RegisterFile, buf: Buffer) -> None:
    regs.write("ID", THERMO_ID)
    assert bytes(buf[0:4]) == b"OMHT"  # 0x54484d4f, least significant byte first


@pytest.mark.parametrize(
    ("hundredths", "raw"),
    [
        (8123, [0xBB, 0x1F]),  # 81.23 C
        (-50, [0xCE, 0xFF]),  # -0.50 C: two's complement
        (-32768, [0x00, 0x80]),
        (32767, [0xFF, 0x7F]),
    ],
)
def test_temp_is_signed_little_endian(
    regs: RegisterFile, buf: Buffer, hundredths: int, raw: list[int]
) -> None:
    regs.write("TEMP", hundredths)
    assert buf[8:10].tolist() == raw
    assert regs.read("TEMP") == hundredths
    assert regs.register("TEMP").value_range == (-32768, 32767)


@pytest.mark.parametrize("hundredths", [32768, -32769])
def test_temp_out_of_range_is_refused(regs: RegisterFile, buf: Buffer, hundredths: int) -> None:
    with pytest.raises(SimulatorError, match=r"does not fit TEMP \(signed, 16 bits"):
        regs.write("TEMP", hundredths)
    assert not buf.any()


def test_status_bits_in_memory(regs: RegisterFile, buf: Buffer) -> None:
    regs.set_bits("STATUS", Status.DATA_READY | Status.ALERT)
    assert buf[5] == 0x03
    regs.clear_bits("STATUS", Status.ALERT)  # the driver's acknowledgement
    assert buf[5] == 0x01
    assert regs.decode("STATUS") == {"Reserved": 0, "ALERT": 0, "DATA_READY": 1}
