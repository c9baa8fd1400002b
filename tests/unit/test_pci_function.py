"""Config space, register BARs, MSI/MSI-X delivery: the device model API without a guest."""

from __future__ import annotations

import struct
import threading

import construct as cs
import pytest

from simulators.errors import SimulatorError
from simulators.irq import InterruptRegisters, LevelInterrupt
from simulators.pci.bars import MemoryBar, RegisterBar
from simulators.pci.config_space import MSIX_PBA_OFFSET, ConfigSpace, PciId
from simulators.pci.function import PciFunction
from simulators.pci.interrupt import MsiInterrupt
from simulators.pci.pcidev import msi_message

LAYOUT = cs.Struct(
    "STATUS" / cs.Int16ul,
    "MASK" / cs.Int16ul,
    "DATA" / cs.Int32ul,
    cs.Padding(8),
)


def u32(value: int) -> bytes:
    return struct.pack("<I", value)


class LevelDevice(PciFunction):
    """A status register (write 1 to clear) and a mask, interrupt = status & mask."""

    name = "level"

    def __init__(self, **kwargs: object) -> None:
        lock = threading.RLock()
        self.bar = RegisterBar(LAYOUT, 0x100, lock, device="level")
        self.bar.regs.write_1_to_clear("STATUS")
        super().__init__(PciId(0x1234, 0x5678), {0: self.bar}, lock=lock, **kwargs)  # type: ignore[arg-type]
        self.sent: list[bytes] = []
        self.send_irq = self.sent.append
        where = InterruptRegisters("STATUS", "MASK")
        self.interrupt = LevelInterrupt(self.bar.regs, MsiInterrupt(self), where)


def enable_msi(device: PciFunction, data: int) -> None:
    device.cfg_write(0x48, struct.pack("<H", data))
    device.cfg_write(0x42, struct.pack("<H", 1))


def test_bars_size_themselves_as_the_kernel_expects() -> None:
    config = ConfigSpace(PciId(0x10EC, 0x8168, class_code=0x020000), {2: 0x1000}, msi=True)
    assert config.read(0, 4) == u32(0x816810EC)
    assert config.read(8, 4) == u32(0x02000000)
    config.write(0x18, u32(0xFFFFFFFF))
    assert config.read(0x18, 4) == u32(0xFFFFF000)
    config.write(0x10, u32(0xFFFFFFFF))
    assert config.read(0x10, 4) == u32(0)  # no BAR0
    config.write(0x18, u32(0xF0001234))
    assert config.bar_address(2) == 0xF0001000
    config.write(0, u32(0))  # IDs are read-only
    assert config.read(0, 2) == b"\xec\x10"
    assert config.read(0x3D, 1) == b"\0"  # no INTx pin


def test_capabilities_are_chained() -> None:
    config = ConfigSpace(PciId(1, 2), {0: 0x1000, 4: 0x1000}, msi=True, msix_vectors=4, msix_bar=4)
    assert config.read(6, 2) == struct.pack("<H", 0x10)  # capability list
    assert config.read(0x34, 1) == b"\x40"
    assert config.read(0x40, 2) == b"\x05\x50"  # MSI, next MSI-X
    assert config.read(0x50, 2) == b"\x11\x00"
    assert config.read(0x52, 2) == struct.pack("<H", 3)  # table size - 1
    assert config.read(0x54, 4) == u32(4) and config.read(0x58, 4) == u32(MSIX_PBA_OFFSET | 4)
    assert config.decode(0x50, 4) == "MSIX_CapID+MSIX_Next+MSIX_Control"


def test_bad_configurations_say_what_is_wrong() -> None:
    with pytest.raises(SimulatorError, match="power of two"):
        ConfigSpace(PciId(1, 2), {0: 100}, msi=True)
    with pytest.raises(SimulatorError, match="BAR0 to BAR5"):
        ConfigSpace(PciId(1, 2), {6: 0x1000}, msi=True)
    with pytest.raises(
        SimulatorError, match=r"INTx does not work over UML's virt-pci in 6\.1 or 6\.12"
    ):
        PciFunction(PciId(1, 2), {0: MemoryBar(0x1000)}, msi=False)
    with pytest.raises(SimulatorError, match="holds the MSI-X table"):
        PciFunction(PciId(1, 2), {4: MemoryBar(0x1000)}, msix_vectors=2, msix_bar=4)


def test_write_1_to_clear_touches_only_the_bytes_written() -> None:
    device = LevelDevice()
    device.bar.regs.write("STATUS", 0x0303)
    device.mmio_write(0, 1, b"\x01")  # high byte only: clears bit 8
    assert device.bar.regs.read("STATUS") == 0x0203
    device.mmio_write(0, 0, u32(0x00020001))  # STATUS low byte bit 0, and MASK := 2
    assert device.bar.regs.read("STATUS") == 0x0202
    assert device.bar.regs.read("MASK") == 2


def test_a_level_sends_one_msi_per_rising_edge() -> None:
    device = LevelDevice()
    device.bar.regs.write("STATUS", 1)
    device.update_interrupt()
    assert device.sent == [] and device.interrupts_dropped == 0  # masked: level low
    enable_msi(device, 0x41)
    device.mmio_write(0, 2, struct.pack("<H", 1))  # unmask: level rises
    assert device.sent == [msi_message(0x41, msix=False)]
    device.bar.regs.set_bits("STATUS", 4)  # still high: no new edge
    device.update_interrupt()
    assert len(device.sent) == 1
    device.mmio_write(0, 2, b"\0\0")  # mask (NAPI), status pending
    device.mmio_write(0, 2, struct.pack("<H", 5))  # unmask: a new edge
    assert len(device.sent) == 2
    device.mmio_write(0, 0, struct.pack("<H", 5))  # ack everything
    device.bar.regs.set_bits("STATUS", 1)
    device.update_interrupt()
    assert len(device.sent) == 3


def test_msi_enabled_late_delivers_the_pending_level() -> None:
    device = LevelDevice()
    device.bar.regs.write("MASK", 1)
    device.bar.regs.write("STATUS", 1)
    device.update_interrupt()
    assert device.sent == [] and device.interrupts_dropped == 1
    enable_msi(device, 7)
    assert device.sent == [msi_message(7, msix=False)]


def test_msix_vectors_masked_are_pending_until_unmasked() -> None:
    device = LevelDevice(msi=False, msix_vectors=2)
    table = device.msix_bar
    assert table == 4
    for vector, data in ((0, 0x50), (1, 0x51)):
        entry = struct.pack("<IIII", 0xA0000, 0, data, 1)  # masked
        device.mmio_write(4, 16 * vector, entry)
    device.cfg_write(0x52, struct.pack("<H", 0x8000))  # MSI-X enable
    assert device.raise_msi(1)
    assert device.sent == []
    assert device.mmio_read(4, MSIX_PBA_OFFSET, 1) == b"\x02"
    device.mmio_write(4, 16 + 12, u32(0))  # unmask vector 1
    assert device.sent == [msi_message(0x51, msix=True)]
    assert device.mmio_read(4, MSIX_PBA_OFFSET, 1) == b"\x00"
    with pytest.raises(SimulatorError, match="vector 2"):
        device.raise_msi(2)


def test_accesses_outside_a_bar_read_all_ones() -> None:
    device = LevelDevice()
    assert device.mmio_read(0, 0xFE, 4) == b"\xff" * 4
    assert device.mmio_read(3, 0, 4) == b"\xff" * 4
    device.mmio_write(3, 0, b"\0")  # ignored, not an error


def test_memset_fills_the_bar() -> None:
    device = LevelDevice()
    device.mmio_memset(0, 4, 0xA5, 4)
    assert device.bar.regs.read("DATA") == 0xA5A5A5A5
