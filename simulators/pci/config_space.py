"""A type-0 PCI configuration space of 4 KiB: identity, memory BARs, MSI and MSI-X capabilities.

The layout is one construct Struct (so that traces and dumps name every
field); the bytes live in a numpy array. Writes go through a per-byte mask
of writable bits, as in QEMU: a BAR's mask is `~(size - 1)`, so the
kernel's all-ones sizing write reads back the size. Only memory BARs exist:
UML has no I/O port window (`pci_enable_device` fails on an I/O BAR).
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import construct as cs
import numpy as np

from ..errors import SimulatorError
from ..regfile import RegisterFile

SIZE = 4096
NUM_BARS = 6
MSI_CAP_ID = 0x05
MSIX_CAP_ID = 0x11
#: Where the capabilities go: MSI first, then MSI-X.
MSI_OFFSET = 0x40
MSIX_OFFSET = 0x50
#: MSI-X table and PBA inside the MSI-X BAR (the BAR is the framework's, not the model's).
MSIX_TABLE_OFFSET = 0x0
MSIX_PBA_OFFSET = 0x800
MSIX_BAR_SIZE = 0x1000
MSIX_MAX_VECTORS = 32  # virt-pci's MAX_MSI_VECTORS, for the whole system

TYPE0_HEADER = cs.Struct(
    "VendorID" / cs.Int16ul,
    "DeviceID" / cs.Int16ul,
    "Command" / cs.Int16ul,
    "Status" / cs.Int16ul,
    "RevisionID" / cs.Int8ub,
    "ProgIF" / cs.Int8ub,
    "Subclass" / cs.Int8ub,
    "ClassCode" / cs.Int8ub,
    "CacheLineSize" / cs.Int8ub,
    "LatencyTimer" / cs.Int8ub,
    "HeaderType" / cs.Int8ub,
    "BIST" / cs.Int8ub,
    *[f"BAR{i}" / cs.Int32ul for i in range(NUM_BARS)],
    "CardbusCIS" / cs.Int32ul,
    "SubsystemVendorID" / cs.Int16ul,
    "SubsystemID" / cs.Int16ul,
    "ExpansionROM" / cs.Int32ul,
    "CapabilitiesPtr" / cs.Int8ub,
    cs.Padding(7),
    "InterruptLine" / cs.Int8ub,
    "InterruptPin" / cs.Int8ub,
    "MinGnt" / cs.Int8ub,
    "MaxLat" / cs.Int8ub,
)
assert TYPE0_HEADER.sizeof() == MSI_OFFSET

# 32-bit MSI, one vector, no per-vector masking (virt-pci has no multi-MSI).
MSI_CAP = cs.Struct(
    "MSI_CapID" / cs.Int8ub,
    "MSI_Next" / cs.Int8ub,
    "MSI_Control" / cs.Int16ul,
    "MSI_Address" / cs.Int32ul,
    "MSI_Data" / cs.Int16ul,
    cs.Padding(6),
)
assert MSI_CAP.sizeof() == MSIX_OFFSET - MSI_OFFSET

MSIX_CAP = cs.Struct(
    "MSIX_CapID" / cs.Int8ub,
    "MSIX_Next" / cs.Int8ub,
    "MSIX_Control" / cs.Int16ul,
    "MSIX_Table" / cs.Int32ul,  # offset | BIR
    "MSIX_PBA" / cs.Int32ul,  # offset | BIR
    cs.Padding(4),
)
assert MSIX_CAP.sizeof() == 0x10


class Command(enum.IntFlag):
    MEMORY = 0x0002
    MASTER = 0x0004
    INTX_DISABLE = 0x0400


STATUS_CAP_LIST = 0x0010
MSI_ENABLE = 0x0001
MSIX_ENABLE = 0x8000
MSIX_FUNCTION_MASK = 0x4000


@dataclass(frozen=True)
class PciId:
    """Who the device says it is. `class_code` is 24 bits: base, subclass, programming interface."""

    vendor: int
    device: int
    class_code: int = 0xFF0000  # "unassigned"
    revision: int = 0
    subsystem_vendor: int = 0
    subsystem: int = 0

    def __str__(self) -> str:
        return f"{self.vendor:04x}:{self.device:04x}"


def bar_size_ok(size: int) -> bool:
    return size >= 16 and size & (size - 1) == 0


class ConfigSpace:
    """The config space of one function: `bars` maps BAR index to size in bytes."""

    def __init__(
        self,
        ident: PciId,
        bars: Mapping[int, int],
        *,
        msi: bool,
        msix_vectors: int = 0,
        msix_bar: int | None = None,
    ) -> None:
        for index, size in bars.items():
            if not 0 <= index < NUM_BARS:
                raise SimulatorError(f"BAR{index}: PCI has BAR0 to BAR5")
            if not bar_size_ok(size):
                raise SimulatorError(f"BAR{index}: size {size:#x} is not a power of two >= 16")
        if msix_vectors and (msix_bar is None or msix_bar not in bars):
            raise SimulatorError("MSI-X needs its table in one of the device's BARs")
        if not 0 <= msix_vectors <= MSIX_MAX_VECTORS:
            raise SimulatorError(f"MSI-X: {msix_vectors} vectors; virt-pci handles up to 32")
        self.ident = ident
        self.bars = dict(bars)
        self.msi = msi
        self.msix_vectors = msix_vectors
        self.layout = _layout(msi, msix_vectors > 0)
        self.data = np.zeros(SIZE, dtype=np.uint8)
        self.wmask = np.zeros(SIZE, dtype=np.uint8)
        self.regs = RegisterFile(self.layout, self.data, device=f"PCI {ident} config space")
        # field() runs on every interrupt (is MSI enabled? its data?): plain slices of a
        # memoryview cost a fraction of numpy's.
        self._bytes = self.data.data
        self._spans: dict[str, tuple[int, int]] = {}
        self._populate(msix_bar)

    # --- access from the driver -------------------------------------------

    def read(self, offset: int, size: int) -> bytes:
        if offset < 0 or offset + size > SIZE:
            return b"\xff" * size
        return self.data[offset : offset + size].tobytes()

    def write(self, offset: int, data: bytes) -> None:
        if offset < 0 or offset + len(data) > SIZE:
            return
        end = offset + len(data)
        new = np.frombuffer(data, dtype=np.uint8)
        mask = self.wmask[offset:end]
        self.data[offset:end] = (self.data[offset:end] & ~mask) | (new & mask)

    # --- state the transport acts on -----------------------------------------

    def field(self, name: str) -> int:
        span = self._spans.get(name)
        if span is None:
            register = self.regs.register(name)
            span = self._spans[name] = (register.offset, register.offset + register.size)
        return int.from_bytes(self._bytes[span[0] : span[1]], "little")

    @property
    def command(self) -> Command:
        return Command(self.field("Command") & int(Command.MEMORY | Command.MASTER))

    @property
    def msi_enabled(self) -> bool:
        return self.msi and bool(self.field("MSI_Control") & MSI_ENABLE)

    @property
    def msi_data(self) -> int:
        return self.field("MSI_Data")

    @property
    def msix_enabled(self) -> bool:
        return self.msix_vectors > 0 and bool(self.field("MSIX_Control") & MSIX_ENABLE)

    @property
    def msix_function_masked(self) -> bool:
        return self.msix_vectors > 0 and bool(self.field("MSIX_Control") & MSIX_FUNCTION_MASK)

    def bar_address(self, index: int) -> int:
        return self.field(f"BAR{index}") & ~0xF

    def decode(self, offset: int, size: int) -> str:
        """Which fields an access at `offset` touches, e.g. "Command" or "BAR2"."""
        names = [
            reg.name
            for reg in self.regs.registers.values()
            if reg.offset < offset + size and offset < reg.offset + reg.size
        ]
        return "+".join(names) if names else f"{offset:#05x}"

    # --- construction -------------------------------------------------------

    def _populate(self, msix_bar: int | None) -> None:
        regs, ident = self.regs, self.ident
        regs.write("VendorID", ident.vendor)
        regs.write("DeviceID", ident.device)
        regs.write("RevisionID", ident.revision)
        regs.write("ProgIF", ident.class_code & 0xFF)
        regs.write("Subclass", (ident.class_code >> 8) & 0xFF)
        regs.write("ClassCode", (ident.class_code >> 16) & 0xFF)
        regs.write("SubsystemVendorID", ident.subsystem_vendor)
        regs.write("SubsystemID", ident.subsystem)
        # No INTx: virt-pci (6.1, 6.12) cannot deliver it (request_irq gets -ENOSYS).
        regs.write("InterruptPin", 0)
        self._writable("Command", int(Command.MEMORY | Command.MASTER | Command.INTX_DISABLE))
        self._writable("CacheLineSize", 0xFF)
        self._writable("LatencyTimer", 0xFF)
        self._writable("InterruptLine", 0xFF)
        for index, size in self.bars.items():
            # A 32-bit, non-prefetchable memory BAR: the type bits are 0.
            self._writable(f"BAR{index}", ~(size - 1) & 0xFFFFFFF0)
        caps = []
        if self.msi:
            regs.write("MSI_CapID", MSI_CAP_ID)
            self._writable("MSI_Control", MSI_ENABLE | 0x0070)  # enable, multiple message enable
            self._writable("MSI_Address", 0xFFFFFFFC)
            self._writable("MSI_Data", 0xFFFF)
            caps.append(("MSI_Next", MSI_OFFSET))
        if self.msix_vectors:
            assert msix_bar is not None
            regs.write("MSIX_CapID", MSIX_CAP_ID)
            regs.write("MSIX_Control", self.msix_vectors - 1)
            regs.write("MSIX_Table", MSIX_TABLE_OFFSET | msix_bar)
            regs.write("MSIX_PBA", MSIX_PBA_OFFSET | msix_bar)
            self._writable("MSIX_Control", MSIX_ENABLE | MSIX_FUNCTION_MASK)
            caps.append(("MSIX_Next", MSIX_OFFSET))
        if caps:
            regs.write("Status", STATUS_CAP_LIST)
            regs.write("CapabilitiesPtr", caps[0][1])
            for (next_field, _), (_, following) in itertools.pairwise(caps):
                regs.write(next_field, following)

    def _writable(self, name: str, mask: int) -> None:
        register = self.regs.register(name)
        self.wmask[register.offset : register.offset + register.size] = np.frombuffer(
            mask.to_bytes(register.size, "little"), dtype=np.uint8
        )


def _layout(msi: bool, msix: bool) -> Any:
    parts: list[Any] = [TYPE0_HEADER]
    parts.append(MSI_CAP if msi else cs.Padding(MSI_CAP.sizeof()))
    parts.append(MSIX_CAP if msix else cs.Padding(MSIX_CAP.sizeof()))
    used = sum(int(part.sizeof()) for part in parts)
    subcons = [
        sub for part in parts for sub in (part.subcons if isinstance(part, cs.Struct) else [part])
    ]
    layout = cs.Struct(*subcons, cs.Padding(SIZE - used))
    assert layout.sizeof() == SIZE
    return layout
