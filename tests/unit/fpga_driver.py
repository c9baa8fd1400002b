"""uh_fpga's side of the rings, in Python, for testing the FPGA model without a guest."""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

import numpy as np

from simulators.fpga import icd
from simulators.fpga.regs import (
    CMD_RING_OFFSET,
    CMD_RING_SIZE,
    REPORT_RING_OFFSET,
    Ctrl,
    Intr,
    report_ring_size,
)
from simulators.fpga.ring import MASK32, Ring
from simulators.regfile import Buffer, Word

REGION = 4 << 20


def region(size: int = REGION) -> Buffer:
    return np.zeros(size, np.uint8)


class PyDriver:
    """Sets up the rings as uh_fpga_probe() does and consumes whole reports."""

    def __init__(self, mem: Buffer, *, enable: bool = True) -> None:
        self.mem = mem
        self.w = {
            name: Word(mem, offset)
            for name, offset in {
                "CTRL": 0x08,
                "INTR_STATUS": 0x10,
                "INTR_MASK": 0x14,
                "RPT_BASE": 0x20,
                "RPT_SIZE": 0x24,
                "RPT_HEAD": 0x28,
                "RPT_TAIL": 0x2C,
                "CMD_BASE": 0x30,
                "CMD_SIZE": 0x34,
                "CMD_HEAD": 0x38,
                "CMD_TAIL": 0x3C,
            }.items()
        }
        self.w["RPT_BASE"].set(REPORT_RING_OFFSET)
        self.w["RPT_SIZE"].set(report_ring_size(len(mem)))
        self.w["CMD_BASE"].set(CMD_RING_OFFSET)
        self.w["CMD_SIZE"].set(CMD_RING_SIZE)
        self.w["INTR_MASK"].set(Intr.REPORT_READY | Intr.OVERFLOW | Intr.CMD_DONE)
        self.w["CTRL"].set(Ctrl.IRQ_EN | (Ctrl.ENABLE if enable else 0))
        self.reports = Ring(
            mem,
            REPORT_RING_OFFSET,
            report_ring_size(len(mem)),
            self.w["RPT_HEAD"],
            self.w["RPT_TAIL"],
        )
        self.commands = Ring(
            mem, CMD_RING_OFFSET, CMD_RING_SIZE, self.w["CMD_HEAD"], self.w["CMD_TAIL"]
        )

    def read_raw(self) -> bytes:
        """Everything between the tail and the head, consumed."""
        tail = self.reports.tail.get()
        data = self.reports.read(tail, self.reports.used())
        self.reports.tail.set((tail + len(data)) & MASK32)
        return data

    def read(self) -> list[icd.Report]:
        return icd.split_reports(self.read_raw())

    def read_headers(self) -> list[Header]:
        """Like read(), with struct instead of construct: fast enough for 10**4 reports."""
        return split_headers(self.read_raw())

    def write_command(self, command: bytes) -> None:
        head = self.commands.head.get()
        self.commands.write(head, np.frombuffer(command, np.uint8))
        self.commands.head.set((head + len(command)) & MASK32)

    def ack(self) -> int:
        """Clear and return the pending interrupt causes."""
        status = self.w["INTR_STATUS"].get()
        self.w["INTR_STATUS"].set(0)
        return status


class Header(NamedTuple):
    sequence: int
    type: int
    flags: int
    size: int
    crc_ok: bool


def split_headers(data: bytes) -> list[Header]:
    headers = []
    offset = 0
    while offset < len(data):
        magic, version, type_, flags, sequence, payload_len, crc = struct.unpack_from(
            "<IBBBxI8xH2xI", data, offset
        )
        assert (magic, version) == (icd.MAGIC, icd.VERSION), f"malformed at {offset}"
        size = icd.HEADER_SIZE + payload_len
        zeroed = data[offset : offset + 24] + bytes(4)
        ok = zlib.crc32(data[offset + 28 : offset + size], zlib.crc32(zeroed)) == crc
        headers.append(Header(sequence, type_, flags, size, ok))
        offset += size
    assert offset == len(data)
    return headers
