"""A model's faults from the device side (simulators/misbehave.py), without a guest."""

from __future__ import annotations

import time

import numpy as np
import pytest
from construct import Int8ub, Struct

from simulators.device import DeviceModel
from simulators.errors import SimulatorError
from simulators.irq import InterruptRegisters
from simulators.misbehave import FaultyDma
from simulators.regfile import RegisterFile

LAYOUT = Struct("STATUS" / Int8ub, "MASK" / Int8ub, "ID" / Int8ub)


class Seen:
    """A line that sees the driver's accesses (PCI)."""

    sees_accesses = True

    def raise_irq(self) -> bool:
        return True

    def pause(self, waited: float, limit: float) -> None: ...


class Demo(DeviceModel):
    interrupt_registers = InterruptRegisters("STATUS", "MASK")


def demo(line: Seen | None) -> Demo:
    regs = RegisterFile(LAYOUT, np.zeros(3, np.uint8), device="demo")
    regs.write("ID", 0x42)
    return Demo(regs, line)


def test_gone_over_pci_answers_the_bus_with_all_ones_and_keeps_the_registers() -> None:
    model = demo(Seen())
    model.misbehave.gone()
    assert model.misbehave.is_gone()
    assert model.regs.bus_read(2, 1) == b"\xff"
    model.regs.bus_write(2, b"\x00")  # goes nowhere
    assert model.regs.read("ID") == 0x42
    model.misbehave.back()
    assert model.regs.bus_read(2, 1) == b"\x42"


def test_gone_on_iomem_fills_the_region_and_back_restores_it() -> None:
    model = demo(None)
    model.misbehave.gone()
    assert bytes(model.regs.buffer) == b"\xff\xff\xff"
    model.misbehave.gone()  # twice is once
    model.misbehave.back()
    assert model.regs.read("ID") == 0x42 and not model.misbehave.is_gone()


def test_slow_reads_wait_on_pci_and_are_refused_on_iomem() -> None:
    model = demo(Seen())
    model.misbehave.slow_reads(0.05)
    started = time.monotonic()
    assert model.regs.bus_read(2, 1) == b"\x42"
    assert time.monotonic() - started >= 0.05
    model.misbehave.slow_reads(0)
    with pytest.raises(SimulatorError, match="0 to 60 seconds"):
        model.misbehave.slow_reads(-1)
    with pytest.raises(SimulatorError, match="reads the region itself"):
        demo(None).misbehave.slow_reads(0.1)


class _Memory:
    def __init__(self) -> None:
        self.written: list[tuple[int, bytes]] = []

    def dma_read(self, address: int, length: int) -> bytes:
        return bytes(length)

    def dma_write(self, address: int, data: bytes) -> None:
        self.written.append((address, data))


def test_dma_writes_are_lost_or_cut_short_as_asked_then_pass() -> None:
    memory = _Memory()
    dma = FaultyDma(memory)
    dma.lose, dma.shorten = 1, 1
    for address in (0x1000, 0x2000, 0x3000):
        dma.dma_write(address, b"abcdef")
    assert memory.written == [(0x2000, b"abc"), (0x3000, b"abcdef")]
    assert dma.faulted == [("lost", 0x1000, 6), ("short", 0x2000, 6)]
