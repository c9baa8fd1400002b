"""What sits behind a BAR: the small read/write interface every BAR implements, and two kinds.

`RegisterBar` is a construct register map (`simulators/regfile.py`) with
hooks for registers whose access has side effects (write-1-to-clear, a
self-clearing reset bit, a doorbell). `MemoryBar` is plain memory. Both
take any access width, including the `memcpy_fromio`/`memset_io` lengths.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import SimulatorError
from ..regfile import Register, RegisterFile

#: hook(old, written, mask) -> value to store, or None for the plain store
#: `(old & ~mask) | (written & mask)`. `mask` covers the bytes the access wrote.
WriteHook = Callable[[int, int, int], "int | None"]
#: hook() before a read; it may update the register (a counter, a handshake bit).
ReadHook = Callable[[], None]
#: A write hook as an access meets it: (register, hook, the bits of it the access covers).
_HookedWrite = tuple[Register, WriteHook, int]


class Bar(abc.ABC):
    """One memory BAR of a device: `size` bytes, accessed at byte offsets."""

    size: int

    @abc.abstractmethod
    def read(self, offset: int, size: int) -> bytes:
        """The `size` bytes at `offset` (the driver's readX or memcpy_fromio)."""

    @abc.abstractmethod
    def write(self, offset: int, data: bytes) -> None:
        """Store `data` at `offset` (the driver's writeX or memcpy_toio)."""

    def memset(self, offset: int, value: int, count: int) -> None:
        self.write(offset, bytes([value]) * count)


class MemoryBar(Bar):
    """Plain memory: what is written reads back."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.raw = bytearray(size)

    def read(self, offset: int, size: int) -> bytes:
        return bytes(self.raw[offset : offset + size])

    def write(self, offset: int, data: bytes) -> None:
        self.raw[offset : offset + len(data)] = data


class LockedRegisterFile(RegisterFile):
    """A register file whose every access holds the device's lock.

    The backend applies the driver's accesses while holding that lock, so a
    model's read-modify-write (set a status bit) never interleaves with a
    driver's write-1-to-clear of the same register.
    """

    def __init__(self, layout: Any, buffer: Any, lock: threading.RLock, device: str) -> None:
        super().__init__(layout, buffer, device=device)
        self.lock = lock

    def read(self, name: str) -> int:
        with self.lock:
            return super().read(name)

    def write(self, name: str, value: int) -> None:
        with self.lock:
            super().write(name, value)

    def set_bits(self, name: str, mask: int) -> None:
        with self.lock:
            super().set_bits(name, mask)

    def clear_bits(self, name: str, mask: int) -> None:
        with self.lock:
            super().clear_bits(name, mask)

    def any_set(self, name: str, mask: int) -> bool:
        with self.lock:
            return super().any_set(name, mask)

    def read_field(self, path: str) -> int:
        with self.lock:
            return super().read_field(path)

    def write_field(self, path: str, value: int) -> None:
        with self.lock:
            super().write_field(path, value)

    def dump(self) -> str:
        with self.lock:
            return super().dump()


class RegisterBar(Bar):
    """A BAR holding a construct register map (from offset 0), `size` bytes in all."""

    def __init__(self, layout: Any, size: int, lock: threading.RLock, *, device: str) -> None:
        self.size = size
        # The bytes, and a numpy view of them for the register file. Accesses
        # from the driver go to the bytearray: slicing it is much cheaper.
        self.raw = bytearray(size)
        self.data = np.frombuffer(self.raw, dtype=np.uint8)
        self.regs = LockedRegisterFile(layout, self.data, lock, device)
        if self.regs.size > size:
            raise SimulatorError(
                f"{device}: register map of {self.regs.size} bytes in a {size}-byte BAR"
            )
        self._write_hooks: dict[str, WriteHook] = {}
        self._read_hooks: dict[str, ReadHook] = {}
        self._owner: list[Register | None] = [None] * self.regs.size
        for register in self.regs.registers.values():
            for byte in range(register.offset, register.offset + register.size):
                self._owner[byte] = register
        self._touched: dict[tuple[int, int], tuple[Register, ...]] = {}
        self._read_hooks_at: dict[tuple[int, int], tuple[ReadHook, ...]] = {}
        self._write_hooks_at: dict[tuple[int, int], tuple[_HookedWrite, ...]] = {}

    def on_write(self, name: str, hook: WriteHook) -> None:
        self._write_hooks[self.regs.register(name).name] = hook
        self._write_hooks_at.clear()

    def on_read(self, name: str, hook: ReadHook) -> None:
        self._read_hooks[self.regs.register(name).name] = hook
        self._read_hooks_at.clear()

    def read_only(self, *names: str) -> None:
        for name in names:
            self.on_write(name, lambda old, _written, _mask: old)

    def write_1_to_clear(self, *names: str) -> None:
        for name in names:
            self.on_write(name, lambda old, written, mask: old & ~(written & mask))

    def registers_at(self, offset: int, size: int) -> tuple[Register, ...]:
        """The named registers an access overlaps, in address order."""
        key = (offset, size)
        touched = self._touched.get(key)
        if touched is None:
            found: list[Register] = []
            for byte in range(max(offset, 0), min(offset + size, len(self._owner))):
                register = self._owner[byte]
                if register is not None and register not in found:
                    found.append(register)
            touched = self._touched[key] = tuple(found)
        return touched

    def read(self, offset: int, size: int) -> bytes:
        hooks = self._read_hooks_at.get((offset, size))
        if hooks is None:
            found = (self._read_hooks.get(r.name) for r in self.registers_at(offset, size))
            hooks = self._read_hooks_at[(offset, size)] = tuple(h for h in found if h)
        for hook in hooks:
            hook()
        return bytes(self.raw[offset : offset + size])

    def write(self, offset: int, data: bytes) -> None:
        end = offset + len(data)
        hooked = self._write_hooks_at.get((offset, len(data)))
        if hooked is None:
            hooked = self._write_hooks_at[(offset, len(data))] = self._hooked(offset, len(data))
        if not hooked:
            self.raw[offset:end] = data
            return
        olds = [self.value(register) for register, _, _ in hooked]
        self.raw[offset:end] = data
        for (register, hook, mask), old in zip(hooked, olds, strict=True):
            written = self.value(register)
            stored = hook(old, written, mask)
            if stored is None:
                stored = (old & ~mask) | (written & mask)
            self.store(register, stored)

    def _hooked(self, offset: int, size: int) -> tuple[_HookedWrite, ...]:
        """The hooked registers a write overlaps, each with the bits of it the write covers."""
        hooked = []
        for register in self.registers_at(offset, size):
            hook = self._write_hooks.get(register.name)
            if hook is not None:
                lo = max(offset, register.offset)
                hi = min(offset + size, register.offset + register.size)
                mask = ((1 << (8 * (hi - lo))) - 1) << (8 * (lo - register.offset))
                hooked.append((register, hook, mask))
        return tuple(hooked)

    def value(self, register: Register) -> int:
        """A register's raw value, little-endian (hooks and interrupt levels use it)."""
        return int.from_bytes(self.raw[register.offset : register.offset + register.size], "little")

    def store(self, register: Register, value: int) -> None:
        raw = (value & ((1 << (8 * register.size)) - 1)).to_bytes(register.size, "little")
        self.raw[register.offset : register.offset + register.size] = raw
