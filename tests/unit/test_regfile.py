"""RegisterFile over a small made-up register map (the RTL8111 one has its own tests)."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from construct import (
    BitsInteger,
    BitStruct,
    BytesInteger,
    ByteSwapped,
    Flag,
    Int8ub,
    Int16sl,
    Int16ub,
    Int32ul,
    Padding,
    Struct,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.errors import SimulatorError
from simulators.fpga.regs import FPGA as FPGA_MAP
from simulators.pcitest.regs import PCITEST as PCITEST_MAP
from simulators.regfile import Buffer, RegisterFile
from simulators.rtl8111.regs import RTL8111 as RTL8111_MAP
from simulators.thermo.regs import THERMO as THERMO_MAP
from umlharness.errors import HarnessError

# 0x0 ID, 0x4 CTRL, 0x8 STATUS (LE bit fields), 0xa BE16; 12 bytes.
DEMO = Struct(
    "ID" / Int32ul,
    "CTRL" / Int8ub,
    Padding(3),
    "STATUS"
    / ByteSwapped(
        BitStruct(
            "ERR" / Flag,  # bit 15
            "MODE" / BitsInteger(3),  # bits 14:12
            Padding(10),  # bits 11:2
            "READY" / Flag,  # bit 1
            "IRQ" / Flag,  # bit 0
        )
    ),
    "BE16" / Int16ub,
)


class Recorder(np.ndarray[Any, np.dtype[np.uint8]]):
    """A uint8 array that logs which bytes (offsets from its start) are assigned, through views."""

    log: list[int]
    origin: int

    def __array_finalize__(self, obj: Any) -> None:
        self.log = getattr(obj, "log", [])
        self.origin = getattr(obj, "origin", 0)

    def __setitem__(self, key: Any, value: Any) -> None:
        start = self.ctypes.data - self.origin
        selected = np.atleast_1d(np.arange(self.size)[key])
        self.log.extend(int(start + index) for index in selected)
        super().__setitem__(key, value)


def recorder(size: int) -> Recorder:
    array = np.zeros(size, np.uint8).view(Recorder)
    array.log = []
    array.origin = array.ctypes.data
    return array


@pytest.fixture
def buf() -> Buffer:
    return np.zeros(16, np.uint8)


@pytest.fixture
def regs(buf: Buffer) -> RegisterFile:
    return RegisterFile(DEMO, buf, device="demo")


def test_offsets_follow_from_the_struct(regs: RegisterFile) -> None:
    assert {name: reg.offset for name, reg in regs.registers.items()} == {
        "ID": 0x0,
        "CTRL": 0x4,
        "STATUS": 0x8,
        "BE16": 0xA,
    }
    assert regs.size == 12


def test_integers_keep_their_byte_order(regs: RegisterFile, buf: Buffer) -> None:
    regs.write("ID", 0x11223344)
    regs.write("BE16", 0x1234)
    assert buf[0:4].tolist() == [0x44, 0x33, 0x22, 0x11]
    assert buf[0xA:0xC].tolist() == [0x12, 0x34]
    assert regs.read("ID") == 0x11223344
    assert regs.read("BE16") == 0x1234


def test_bit_fields_sit_at_their_bits(regs: RegisterFile, buf: Buffer) -> None:
    fields = regs.register("STATUS").fields
    assert {name: (f.bit, f.width) for name, f in fields.items()} == {
        "ERR": (15, 1),
        "MODE": (12, 3),
        "READY": (1, 1),
        "IRQ": (0, 1),
    }
    regs.write_field("STATUS.MODE", 5)
    regs.write_field("STATUS.IRQ", 1)
    assert regs.read("STATUS") == 0x5001
    assert buf[8:10].tolist() == [0x01, 0x50]  # little-endian
    assert regs.read_field("STATUS.MODE") == 5
    assert regs.read_field("STATUS.ERR") == 0
    assert regs.decode("STATUS") == {"ERR": 0, "MODE": 5, "READY": 0, "IRQ": 1}


def test_whole_register_value_round_trips_through_fields(regs: RegisterFile) -> None:
    regs.write("STATUS", 0x8003)
    assert regs.decode("STATUS") == {"ERR": 1, "MODE": 0, "READY": 1, "IRQ": 1}


def test_set_and_clear_bits(regs: RegisterFile) -> None:
    regs.write("CTRL", 0x0F)
    regs.set_bits("CTRL", 0x30)
    regs.clear_bits("CTRL", 0x03)
    assert regs.read("CTRL") == 0x3C
    regs.set_bits("STATUS", 0x8001)
    regs.clear_bits("STATUS", 0x0001)
    assert regs.read("STATUS") == 0x8000


def test_any_set(regs: RegisterFile) -> None:
    regs.write("STATUS", 0x8001)
    assert regs.any_set("STATUS", 0x0001)
    assert regs.any_set("STATUS", 0x8002)
    assert not regs.any_set("STATUS", 0x7002)
    regs.write("BE16", 0x0100)
    assert regs.any_set("BE16", 0x0100)
    assert not regs.any_set("BE16", 0x0001)
    with pytest.raises(SimulatorError, match="does not fit"):
        regs.any_set("CTRL", 0x100)


def test_writes_touch_only_the_bytes_that_change() -> None:
    # The driver writes registers concurrently: a byte the simulator did not
    # mean to change must not be written back with a stale value.
    buf = recorder(16)
    buf[:] = 0xAA
    buf.log.clear()
    regs = RegisterFile(DEMO, buf)
    regs.write("ID", 0xAA0000AA)
    assert sorted(buf.log) == [1, 2]
    buf.log.clear()
    regs.write_field("STATUS.IRQ", 1)
    assert buf.log == [8]
    assert buf[8:10].tolist() == [0xAB, 0xAA]  # the Padding bits (11:2) keep their value too
    buf.log.clear()
    regs.set_bits("STATUS", 0x8000)  # ERR: the high byte only
    regs.clear_bits("BE16", 0x0002)  # big-endian: the second byte
    assert buf.log == [9, 0xB]
    assert buf[12:].tolist() == [0xAA] * 4  # past the map: never touched


def test_unknown_register_suggests_close_names(regs: RegisterFile) -> None:
    with pytest.raises(SimulatorError, match=r"demo has no register 'CTLR': did you mean CTRL\?"):
        regs.read("CTLR")
    with pytest.raises(SimulatorError, match="did you mean STATUS"):
        regs.write("status", 1)
    with pytest.raises(SimulatorError, match="registers are ID, CTRL, STATUS, BE16"):
        regs.read("XYZZY")


def test_unknown_field_suggests_close_names(regs: RegisterFile) -> None:
    with pytest.raises(SimulatorError, match=r"STATUS has no field 'RDY': did you mean READY\?"):
        regs.read_field("STATUS.RDY")
    with pytest.raises(SimulatorError, match="CTRL has no bit fields"):
        regs.read_field("CTRL.EN")
    with pytest.raises(SimulatorError, match="is a register"):
        regs.read_field("STATUS")
    with pytest.raises(SimulatorError, match="read_field"):
        regs.read("STATUS.READY")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.write("CTRL", 0x100), "does not fit CTRL"),
        (lambda r: r.write("ID", -1), "negative"),
        (lambda r: r.write_field("STATUS.MODE", 8), r"does not fit STATUS.MODE \(3 bits: 0..7\)"),
        (lambda r: r.write_field("STATUS.IRQ", 2), r"0..1"),
        (lambda r: r.write("STATUS", 0x0004), "no field of STATUS covers"),
        (lambda r: r.set_bits("STATUS", 0x10000), "does not fit"),
    ],
)
def test_values_that_do_not_fit_are_refused(
    regs: RegisterFile,
    buf: Buffer,
    call: Any,
    message: str,
) -> None:
    with pytest.raises(SimulatorError, match=message):
        call(regs)
    assert not buf.any()  # and nothing was written


def test_buffer_smaller_than_the_map_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        SimulatorError, match=r"11 bytes, smaller than the register map of demo \(12"
    ):
        RegisterFile(DEMO, np.zeros(11, np.uint8), device="demo")
    small = tmp_path / "iomem"
    small.write_bytes(b"\0" * 8)
    with pytest.raises(HarnessError, match=f"iomem file {re.escape(str(small))} is 8 bytes"):
        RegisterFile(DEMO, np.memmap(small, np.uint8, mode="r+"))


def test_read_only_buffer_is_refused() -> None:
    frozen = np.zeros(16, np.uint8)
    frozen.flags.writeable = False
    with pytest.raises(SimulatorError, match="read-only"):
        RegisterFile(DEMO, frozen)


def test_two_mappings_of_one_file_see_each_other(tmp_path: Path) -> None:
    # What the guest and the simulator rely on: MAP_SHARED mappings of one file.
    path = tmp_path / "iomem"
    path.write_bytes(b"\0" * 4096)
    simulator = RegisterFile(DEMO, np.memmap(path, np.uint8, mode="r+"))
    driver = RegisterFile(DEMO, np.memmap(path, np.uint8, mode="r+"))
    simulator.write_field("STATUS.READY", 1)
    assert driver.read_field("STATUS.READY") == 1
    driver.write("CTRL", 0x42)
    assert simulator.read("CTRL") == 0x42
    assert path.read_bytes()[4] == 0x42


def test_dump_decodes_every_register(regs: RegisterFile) -> None:
    regs.write("ID", 0x8168)
    regs.write("STATUS", 0x6002)
    lines = regs.dump().splitlines()
    assert lines[0] == "demo registers (0xc bytes)"
    assert re.fullmatch(r"0x0000\s+ID\s+4\s+0x00008168", lines[2])
    status = next(i for i, line in enumerate(lines) if re.match(r"0x0008\s+STATUS\s+2\s", line))
    assert lines[status].endswith("0x6002")
    assert [line.split() for line in lines[status + 1 : status + 5]] == [
        ["15", "ERR", "0"],
        ["14:12", "MODE", "0x6"],
        ["1", "READY", "1"],
        ["0", "IRQ", "0"],
    ]
    assert re.fullmatch(r"0x000a\s+BE16\s+2\s+0x0000", lines[status + 5])


def test_signed_registers_take_negative_values_and_bit_masks() -> None:
    signed = Struct("TEMP" / Int16sl, "WIDE" / BytesInteger(3, signed=True, swapped=True))
    buf = np.zeros(5, np.uint8)
    regs = RegisterFile(signed, buf, device="signed")
    assert regs.register("TEMP").value_range == (-32768, 32767)
    regs.write("TEMP", -2)
    regs.write("WIDE", -2)
    assert buf.tolist() == [0xFE, 0xFF, 0xFE, 0xFF, 0xFF]
    assert (regs.read("TEMP"), regs.read("WIDE")) == (-2, -2)
    assert regs.any_set("TEMP", 0x8000)  # a mask is bits: the top one is the sign
    regs.clear_bits("TEMP", 0x8000)
    assert regs.read("TEMP") == 0x7FFE
    assert re.fullmatch(r"0x0002\s+WIDE\s+3\s+0xfffffe \(-2\)", regs.dump().splitlines()[3])
    with pytest.raises(SimulatorError, match=r"does not fit TEMP \(signed, 16 bits: -32768..32767"):
        regs.write("TEMP", 0x8000)


# --- hooks: what the driver's bus accesses do -------------------------------------


def test_bus_accesses_without_hooks_are_plain_memory(regs: RegisterFile, buf: Buffer) -> None:
    regs.bus_write(0, bytes.fromhex("44332211"))
    assert regs.read("ID") == 0x11223344
    assert regs.bus_read(0, 4) == bytes.fromhex("44332211")
    regs.bus_write(12, b"\xaa\xbb")  # past the map, within the buffer
    assert regs.bus_read(12, 2) == b"\xaa\xbb"


def test_write_1_to_clear_and_read_only(regs: RegisterFile) -> None:
    regs.write_1_to_clear("STATUS")
    regs.read_only("ID")
    regs.write("STATUS", 0x8003)
    regs.write("ID", 0x8168)
    regs.bus_write(8, b"\x01\x00")  # clears bit 0, keeps the others
    assert regs.read("STATUS") == 0x8002
    regs.bus_write(9, b"\x80")  # the high byte alone: bit 15
    assert regs.read("STATUS") == 0x0002
    regs.bus_write(0, b"\xff" * 5)  # ID ignores it, CTRL takes it
    assert (regs.read("ID"), regs.read("CTRL")) == (0x8168, 0xFF)
    regs.write("ID", 1)  # the model's own writes are not the driver's: no hook
    assert regs.read("ID") == 1


def test_write_hooks_see_old_written_and_the_bytes_written(regs: RegisterFile) -> None:
    seen: list[tuple[int, int, int]] = []

    def hook(old: int, written: int, mask: int) -> int | None:
        seen.append((old, written, mask))
        return old if mask == 0xFF else None  # the low byte is read-only; the rest stores

    regs.on_write("ID", hook)
    regs.bus_write(1, b"\x12\x34")  # bytes 1 and 2 of ID
    regs.bus_write(0, b"\x99")
    assert seen == [(0, 0x341200, 0x00FFFF00), (0x341200, 0x341299, 0xFF)]
    assert regs.read("ID") == 0x341200


def test_read_hooks_run_before_the_read_they_cover(regs: RegisterFile) -> None:
    reads: list[int] = []

    def count() -> None:
        reads.append(len(reads) + 1)
        regs.word("CTRL").set(reads[-1])

    regs.on_read("CTRL", count)
    assert regs.bus_read(4, 1) == b"\x01"
    assert regs.bus_read(0, 8)[4] == 2  # a wide read covering CTRL
    assert regs.bus_read(0, 4) == bytes(4) and len(reads) == 2  # not CTRL: no hook


def test_hooks_name_registers(regs: RegisterFile) -> None:
    with pytest.raises(SimulatorError, match="did you mean STATUS"):
        regs.write_1_to_clear("STATU")
    assert [r.name for r in regs.registers_at(2, 8)] == ["ID", "CTRL", "STATUS"]


def test_accesses_by_name_hold_the_lock_given() -> None:
    lock = threading.RLock()
    regs = RegisterFile(DEMO, np.zeros(16, np.uint8), device="demo", lock=lock)
    assert regs.lock is lock
    done = threading.Event()

    def write() -> None:
        regs.write("CTRL", 7)
        done.set()

    with lock:
        writer = threading.Thread(target=write)
        writer.start()
        assert not done.wait(0.05)  # waits for the lock
    writer.join(5)
    assert regs.read("CTRL") == 7


def test_words_load_and_store_in_the_register_s_byte_order(regs: RegisterFile, buf: Buffer) -> None:
    regs.write("BE16", 0x1234)
    regs.write("STATUS", 0x8001)
    assert regs.word("BE16").get() == 0x1234
    assert regs.word("STATUS").get() == 0x8001
    regs.word("ID").set(0x1_0000_0005)  # masked to 32 bits
    assert buf[0:4].tolist() == [5, 0, 0, 0]
    assert regs.word("ID") is regs.word("ID")


MAPS = [DEMO, RTL8111_MAP, FPGA_MAP, THERMO_MAP, PCITEST_MAP]


@settings(max_examples=40, deadline=None)
@given(layout=st.sampled_from(MAPS), data=st.data())
def test_read_gives_what_construct_parses(layout: Any, data: st.DataObject) -> None:
    """`read` takes words straight from the bytes; construct is the reference."""
    size = int(layout.sizeof())
    raw = data.draw(st.binary(min_size=size, max_size=size))
    regs = RegisterFile(layout, np.frombuffer(bytearray(raw), np.uint8))
    for name, register in regs.registers.items():
        parsed = register.subcon.parse(raw[register.offset : register.offset + register.size])
        assert regs.read(name) == RegisterFile._to_int(register, parsed), name


def test_poke_puts_raw_bytes_reserved_bits_included_and_runs_no_hook() -> None:
    regs = RegisterFile(RTL8111_MAP, np.zeros(RTL8111_MAP.sizeof(), np.uint8))
    seen: list[int] = []
    regs.on_write("IntrStatus", lambda old, new, mask: seen.append(new) or new)
    regs.poke("IntrStatus", b"\xff\xff")
    assert regs.read("IntrStatus") == 0xFFFF and seen == []
    with pytest.raises(SimulatorError, match="2 bytes, not 1"):
        regs.poke("IntrStatus", b"\x01")
