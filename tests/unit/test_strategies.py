"""Register contents drawn from construct maps (simulators/strategies.py)."""

from __future__ import annotations

import numpy as np
import pytest
from construct import BitsInteger, BitStruct, ByteSwapped, Flag, Int16ub, Int32ul, Padding, Struct
from hypothesis import find, given, settings

from simulators.regfile import RegisterFile
from simulators.rtl8111.regs import RTL8111
from simulators.strategies import register_contents

DEMO = Struct(
    "ID" / Int32ul,
    Padding(2),
    "STATUS" / ByteSwapped(BitStruct("ERR" / Flag, "MODE" / BitsInteger(3), Padding(12))),
    "LEVEL" / Int16ub,
)


def regs_of(data: bytes) -> RegisterFile:
    return RegisterFile(DEMO, np.frombuffer(bytearray(data), np.uint8))


@settings(max_examples=50, deadline=None)
@given(data=register_contents(RTL8111))
def test_contents_cover_the_whole_map(data: bytes) -> None:
    assert len(data) == RTL8111.sizeof()


def test_reserved_bits_turn_up() -> None:
    reserved = 0x0FFF  # STATUS bits 11:0 are padding
    found = find(
        register_contents(DEMO),
        lambda data: int.from_bytes(data[6:8], "little") & reserved != 0,
    )
    assert int.from_bytes(found[6:8], "little") & reserved


def test_every_field_reaches_its_largest_value() -> None:
    found = find(
        register_contents(DEMO),
        lambda data: (
            regs_of(data).read_field("STATUS.MODE") == 7 and regs_of(data).read("LEVEL") == 0xFFFF
        ),
    )
    assert regs_of(found).read_field("STATUS.MODE") == 7


@settings(max_examples=30, deadline=None)
@given(data=register_contents(DEMO, fixed={"ID": b"UHID"}))
def test_fixed_registers_keep_their_bytes(data: bytes) -> None:
    assert data[:4] == b"UHID"


def test_bad_fixed_registers_are_refused() -> None:
    with pytest.raises(ValueError, match="no register named NOPE"):
        register_contents(DEMO, fixed={"NOPE": b"x"})
    with pytest.raises(ValueError, match="ID is 4 bytes, not 1"):
        register_contents(DEMO, fixed={"ID": b"x"})


def test_shrinking_goes_to_zeros() -> None:
    simplest = find(register_contents(DEMO), lambda blob: True, settings=settings(database=None))
    assert simplest == bytes(DEMO.sizeof())
