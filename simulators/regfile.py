"""Named access to a device's registers in memory shared with a guest driver.

A device's register map is one construct `Struct`: integer registers
(`Int8ub`, `Int16ul`, ..., signed ones such as `Int16sl` too), bit-field
registers (`ByteSwapped(BitStruct(...))` for little-endian ones) and
`Padding` for the gaps. `RegisterFile` lays that Struct over a writable byte
array, normally a `numpy.memmap` of the iomem file the guest maps, and reads
and writes one register at a time.

The driver runs concurrently and writes its own registers at any moment, so
the Struct is never parsed or built as a whole: offsets come from the sizes
of the subcons that precede a register, and a write touches only that
register's bytes, of those only the ones whose value changes, and of their
bits only those the write is about (a field, or a register's fields). There
are no atomic read-modify-write cycles across processes; keeping writes
narrow keeps the window in which a simulator write can undo a driver write
small.

A model reacts to the driver through hooks on its register file:
`on_read`, `on_write`, `write_1_to_clear` and `read_only`. They fire for
the driver's accesses that reach the host, which each transport passes to
`bus_read` and `bus_write`. What a transport can intercept:

- PCI (`simulators/pci/`): everything. Every config and MMIO access of the
  driver is a message to the backend, which applies it with
  `bus_read`/`bus_write`: every hook fires, for every access, in order.
- iomem (`simulators/attach.py`): nothing of the driver's accesses. The
  guest maps the same file and its loads and stores never leave the
  guest, so no hook fires for them: the model sees the driver's writes
  only as values it finds when it looks (the level interrupt polls for
  acknowledgements), a read-only register is not protected from the
  driver, and instead of writing 1s to clear status bits the driver
  clears them itself (`uh_iomem_clear16()`), which leaves the register as
  a write-1-to-clear would. The only messages from an iomem driver are
  datagrams that wake a model up (the FPGA's doorbell), not accesses.
  Hooks still fire for `bus_write`s made on the host, such as a Python
  stand-in for the driver in a test.

The model's own accesses (`read`, `write`, `set_bits`...) never fire
hooks: hooks are the device's answer to the driver.
"""

from __future__ import annotations

import difflib
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import construct as cs
import numpy as np
import numpy.typing as npt

from .errors import SimulatorError

Buffer = npt.NDArray[np.uint8]
#: hook(old, written, mask) -> the value to store, or None for the plain store
#: `(old & ~mask) | (written & mask)`. Values are the register's bytes as the
#: bus carries them (little-endian); `mask` covers the bytes the access wrote.
WriteHook = Callable[[int, int, int], "int | None"]
#: hook() before the driver reads the register; it may update it (a counter).
ReadHook = Callable[[], None]
#: on_fault(error, where): a hook raised `error`; `where` says which hook.
FaultSink = Callable[[BaseException, str], None]
#: A write hook as an access meets it: (register, hook, the bits of it the access covers).
_HookedWrite = tuple["Register", WriteHook, int]


def keep_old(old: int, written: int, mask: int) -> int:
    """A read-only register: the driver's write changes nothing."""
    return old


def clear_written_ones(old: int, written: int, mask: int) -> int:
    """A write-1-to-clear register: the bits the driver writes as 1 clear, the others stay."""
    return old & ~(written & mask)


@dataclass(frozen=True)
class BitField:
    """One field of a bit-field register, placed by its bits in the register's value."""

    name: str
    bit: int  # lowest bit, counted from the least significant bit of the register's value
    width: int
    flag: bool  # parses to a bool (construct `Flag`) rather than an int

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.bit

    @property
    def bits(self) -> str:
        """'5' or '13:9', as datasheets write bit positions."""
        top = self.bit + self.width - 1
        return str(self.bit) if self.width == 1 else f"{top}:{self.bit}"


@dataclass(frozen=True)
class Register:
    """A named register of the map: where it is, and how construct encodes it."""

    name: str
    offset: int
    size: int
    subcon: Any  # the construct that parses and builds this register's bytes
    fields: Mapping[str, BitField]  # by name, most significant first; empty for integers
    signed: bool = False  # an integer register holding two's complement values (Int16sl, ...)

    @property
    def is_bitfield(self) -> bool:
        return bool(self.fields)

    @property
    def value_range(self) -> tuple[int, int]:
        """The smallest and largest value `write` takes."""
        bits = 8 * self.size
        if self.signed:
            return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        return 0, (1 << bits) - 1

    @property
    def field_mask(self) -> int:
        """The bits a value may use: all of them, or those of named bit fields."""
        if not self.fields:
            return (1 << (8 * self.size)) - 1
        mask = 0
        for field in self.fields.values():
            mask |= field.mask
        return mask


def layout_registers(layout: Any) -> dict[str, Register]:
    """The named registers of a construct Struct, with offsets summed from the subcons' sizes."""
    if not isinstance(layout, cs.Struct):
        raise TypeError(f"a register map is a construct Struct, not {type(layout).__name__}")
    registers: dict[str, Register] = {}
    offset = 0
    for subcon in layout.subcons:
        try:
            size = int(subcon.sizeof())
        except cs.SizeofError as error:
            raise TypeError(f"register {subcon.name!r} has no fixed size") from error
        if subcon.name is not None:
            if subcon.name in registers:
                raise TypeError(f"register {subcon.name!r} is defined twice")
            fields = _bit_fields(subcon, size)
            signed = not fields and _is_signed(subcon)
            registers[subcon.name] = Register(subcon.name, offset, size, subcon, fields, signed)
        offset += size
    return registers


def _bit_fields(subcon: Any, size: int) -> dict[str, BitField]:
    """The fields of a bit-field register, or {} for an integer register.

    A bit-field register wraps (through Renamed, ByteSwapped and Bitwise) a
    Struct whose fields add up to the register's size in bits. BitStruct
    lists fields most significant first, and ByteSwapped makes the bytes
    little-endian before that, so in both cases a field's lowest bit is the
    number of bits that follow it.
    """
    inner = subcon
    while not isinstance(inner, cs.Struct) and hasattr(inner, "subcon"):
        inner = inner.subcon
    if not isinstance(inner, cs.Struct):
        if not isinstance(_unwrap(subcon), (cs.FormatField, cs.BytesInteger)):
            raise TypeError(f"register {subcon.name!r} is neither an integer nor a bit struct")
        return {}
    total = 8 * size
    if inner.sizeof() != total:
        raise TypeError(f"register {subcon.name!r}: only bit structs can be registers")
    fields: dict[str, BitField] = {}
    consumed = 0
    for field in inner.subcons:
        width = int(field.sizeof())
        base = _unwrap(field)
        if field.name is not None:
            flag = base is cs.Flag
            if not (flag or isinstance(base, cs.BitsInteger)):
                raise TypeError(f"field {subcon.name}.{field.name} is not a Flag or BitsInteger")
            fields[field.name] = BitField(field.name, total - consumed - width, width, flag)
        consumed += width
    return fields


def _is_signed(subcon: Any) -> bool:
    """Whether an integer construct is signed: Int16sl ("<h") is, Int16ul ("<H") is not."""
    base = _unwrap(subcon)
    if isinstance(base, cs.BytesInteger):
        return bool(base.signed)
    return bool(base.fmtstr[-1] in "bhilq")  # struct's signed integer formats


def _unwrap(subcon: Any) -> Any:
    """The construct under any names given to it."""
    while isinstance(subcon, cs.Renamed):
        subcon = subcon.subcon
    return subcon


def _unknown(kind: str, name: str, known: Iterable[str], owner: str) -> SimulatorError:
    """'X has no register Y: did you mean ...?', matching case-insensitively and by substring."""
    names = list(known)
    by_lower = {candidate.lower(): candidate for candidate in names}
    close = [by_lower[m] for m in difflib.get_close_matches(name.lower(), by_lower, n=3)]
    close += [c for c in names if name and name.lower() in c.lower() and c not in close]
    hint = f"did you mean {', '.join(close[:5])}?" if close else f"{kind}s are {', '.join(names)}"
    return SimulatorError(f"{owner} has no {kind} {name!r}: {hint}")


class Word:
    """One aligned unsigned integer of 1, 2, 4 or 8 bytes in `buffer`: one load, one store.

    For a model's hot loop and for registers with one writer: no lock, no
    check beyond masking the value to the width.
    """

    def __init__(self, buffer: Buffer, offset: int, dtype: str = "<u4") -> None:
        kind = np.dtype(dtype)
        size = kind.itemsize
        if offset % size:
            raise ValueError(f"register offset {offset:#x} is not {8 * size}-bit aligned")
        self._mask = (1 << (8 * size)) - 1
        raw = buffer[offset : offset + size]
        # A memoryview in the host's byte order indexes in a third of numpy's time.
        native = kind.isnative and kind.kind == "u" and raw.flags.c_contiguous
        self._view = memoryview(raw.data).cast(_NATIVE[size]) if native else raw.view(kind)

    def get(self) -> int:
        return int(self._view[0])

    def set(self, value: int) -> None:
        self._view[0] = value & self._mask


_NATIVE: dict[int, Literal["B", "H", "I", "Q"]] = {1: "B", 2: "H", 4: "I", 8: "Q"}


class RegisterFile:
    """The registers of `layout`, read and written in `buffer` (a 1-D uint8 array or memmap).

    Every access by name holds `lock` (a fresh one unless given): a PCI
    function passes its own, which the backend holds while it applies the
    driver's accesses, so that a model's read-modify-write never interleaves
    with one. `bus_read` and `bus_write` do not take it: their caller, the
    transport, holds it already.
    """

    def __init__(
        self,
        layout: Any,
        buffer: Buffer,
        *,
        device: str = "the device",
        lock: threading.RLock | None = None,
    ) -> None:
        self.device = device
        self.lock = lock if lock is not None else threading.RLock()
        self.registers: Mapping[str, Register] = layout_registers(layout)
        self.size = int(layout.sizeof())
        if not isinstance(buffer, np.ndarray) or buffer.dtype != np.uint8 or buffer.ndim != 1:
            raise TypeError("the register buffer must be a 1-D numpy uint8 array or memmap")
        if not buffer.flags.writeable:
            raise SimulatorError(f"{_describe(buffer)} is read-only: map it with mode 'r+'")
        if buffer.size < self.size:
            raise SimulatorError(
                f"{_describe(buffer)} is {buffer.size} bytes, smaller than the register map "
                f"of {device} ({self.size} bytes)"
            )
        self._buffer = buffer
        # The bus's view of the bytes: slicing a memoryview is cheaper than numpy's.
        self._bytes = memoryview(buffer.data)
        self._patterns: dict[tuple[str, int], Buffer] = {}
        self._touched: dict[tuple[str, int], tuple[tuple[int, int], ...]] = {}
        self._probes: dict[tuple[str, int], tuple[Buffer, int] | None] = {}
        self._words: dict[str, Word] = {}
        self._readers: dict[str, tuple[int, int, Literal["little", "big"], bool, int] | None] = {}
        self._owner: list[Register | None] = [None] * self.size
        for register in self.registers.values():
            self._owner[register.offset : register.offset + register.size] = [register] * (
                register.size
            )
        self._write_hooks: dict[str, WriteHook] = {}
        self._read_hooks: dict[str, ReadHook] = {}
        self._touched_by: dict[tuple[int, int], tuple[Register, ...]] = {}
        self._read_hooks_at: dict[tuple[int, int], tuple[ReadHook, ...]] = {}
        self._write_hooks_at: dict[tuple[int, int], tuple[_HookedWrite, ...]] = {}
        self._unmapped: dict[tuple[int, int], bool] = {}
        #: Where a hook's exception goes instead of to the accessor: the iomem
        #: transport records it for the model's handle (simulators/faults.py), as
        #: a driver's access gets no Python exception; None (PCI): it propagates
        #: to the backend, which logs it as a model error.
        self.on_fault: FaultSink | None = None
        #: The device is gone (simulators/misbehave.py): the bus reads all-ones.
        self.absent = False
        #: Seconds each bus read waits before it is answered (simulators/misbehave.py).
        self.read_delay = 0.0

    @property
    def buffer(self) -> Buffer:
        """The bytes the map is laid over (the iomem file's mapping, or a BAR's memory)."""
        return self._buffer

    # --- whole registers -------------------------------------------------

    def register(self, name: str) -> Register:
        try:
            return self.registers[name]
        except KeyError:
            if "." in name:
                raise SimulatorError(
                    f"{name!r} names a bit field: use read_field/write_field for it"
                ) from None
            raise _unknown("register", name, self.registers, self.device) from None

    def offset(self, name: str) -> int:
        return self.register(name).offset

    def read(self, name: str) -> int:
        """A register's value as an integer (bit fields put together at their bit positions)."""
        if name not in self._readers:
            self._readers[name] = self._make_reader(self.register(name))
        reader = self._readers[name]
        if reader is not None:
            # A word: its bytes as one integer, without construct (a device's
            # data path reads registers per frame; a parse costs 15 us).
            offset, end, order, signed, mask = reader
            with self.lock:
                raw = self._bytes[offset:end].tobytes()
            value = int.from_bytes(raw, order, signed=signed)
            return value & mask if mask >= 0 else value
        register = self.register(name)
        with self.lock:
            raw = self._raw(register).tobytes()
        return self._to_int(register, register.subcon.parse(raw))

    def _make_reader(
        self, register: Register
    ) -> tuple[int, int, Literal["little", "big"], bool, int] | None:
        """How `read` takes `register` as a word: (offset, end, byte order, signed,
        mask, -1 for none); None where only construct can decode it."""
        order = self._byte_order(register)
        if order is None:
            return None
        byteorder: Literal["little", "big"] = "little" if order == "<" else "big"
        mask = register.field_mask if register.is_bitfield else -1
        end = register.offset + register.size
        return register.offset, end, byteorder, register.signed, mask

    def write(self, name: str, value: int) -> None:
        """Set a register to `value`, writing only those of its bytes that change."""
        register = self.register(name)
        data = self._encode(register, value, what=name)
        with self.lock:
            self._store(register, data, register.field_mask)

    def poke(self, name: str, data: bytes) -> None:
        """Put `data` in a register as raw bytes, reserved bits included, running no
        hook: a value no well-behaved device would show its driver (fuzzing)."""
        register = self.register(name)
        if len(data) != register.size:
            raise SimulatorError(f"{name} is {register.size} bytes, not {len(data)}")
        with self.lock:
            self._raw(register)[:] = np.frombuffer(data, np.uint8)

    def set_bits(self, name: str, mask: int) -> None:
        """OR `mask` into a register, byte by byte, leaving bytes outside the mask untouched."""
        register = self.register(name)
        buffer, base = self._buffer, register.offset
        touched = self._mask_bytes(register, mask)
        with self.lock:
            for index, bits in touched:
                buffer[base + index] |= bits

    def clear_bits(self, name: str, mask: int) -> None:
        """Clear the bits of `mask` in a register, byte by byte, like `set_bits`."""
        register = self.register(name)
        buffer, base = self._buffer, register.offset
        touched = self._mask_bytes(register, mask)
        with self.lock:
            for index, bits in touched:
                buffer[base + index] &= ~bits & 0xFF

    def any_set(self, name: str, mask: int) -> bool:
        """Whether any bit of `mask` is set: a cheap test for polling (no parsing).

        Waiting for an acknowledgement calls this in a tight loop, so the
        register's bytes are read as one little-endian word where they fit one.
        """
        probe = self._probes.get((name, mask))
        if probe is None:
            probe = self._probes[(name, mask)] = self._make_probe(self.register(name), mask)
        if probe is not None:
            word, pattern = probe
            return bool(int(word[0]) & pattern)
        register = self.register(name)
        return bool((self._raw(register) & self._pattern(register, mask)).any())

    def _make_probe(self, register: Register, mask: int) -> tuple[Buffer, int] | None:
        """A one-word view and integer mask, for registers of 1, 2, 4 or 8 bytes."""
        if register.size not in (1, 2, 4, 8):
            return None
        pattern = self._pattern(register, mask)
        word = self._raw(register).view(f"<u{register.size}")
        return word, int.from_bytes(pattern.tobytes(), "little")

    def word(self, name: str) -> Word:
        """Register `name` as a `Word`: its bits as an unsigned integer, one load or store.

        For integer and bit registers of 1, 2, 4 or 8 bytes, aligned, in
        either byte order. No lock and no range check: for a model's hot
        loop, on registers only one side writes (or read alone).
        """
        word = self._words.get(name)
        if word is None:
            register = self.register(name)
            order = self._byte_order(register)
            if order is None:
                raise SimulatorError(f"{self.device}: {name} is no 1, 2, 4 or 8-byte integer")
            dtype = f"{order}u{register.size}"
            word = self._words[name] = Word(self._buffer, register.offset, dtype)
        return word

    def _byte_order(self, register: Register) -> str | None:
        """'<' or '>' as the register's encoding puts its lowest bit; None if it is no word."""
        if register.size not in (1, 2, 4, 8):
            return None
        mask = register.field_mask
        if not mask:
            return None
        lowest = (mask & -mask).bit_length() - 1
        where = int(np.flatnonzero(self._pattern(register, 1 << lowest))[0])
        if where == lowest // 8:
            return "<"
        return ">" if where == register.size - 1 - lowest // 8 else None

    # --- hooks: the device's answer to the driver's accesses ---------------------

    def on_write(self, name: str, hook: WriteHook) -> None:
        """Call `hook(old, written, mask)` on each write of the driver to `name` (see WriteHook)."""
        self._write_hooks[self.register(name).name] = hook
        self._write_hooks_at.clear()

    def on_read(self, name: str, hook: ReadHook) -> None:
        """Call `hook()` before each read of the driver that covers `name`."""
        self._read_hooks[self.register(name).name] = hook
        self._read_hooks_at.clear()

    def read_only(self, *names: str) -> None:
        """The driver's writes to these registers change nothing."""
        for name in names:
            self.on_write(name, keep_old)

    def write_1_to_clear(self, *names: str) -> None:
        """The driver clears bits of these registers by writing 1s to them (status registers)."""
        for name in names:
            self.on_write(name, clear_written_ones)

    def registers_at(self, offset: int, size: int) -> tuple[Register, ...]:
        """The named registers an access overlaps, in address order."""
        key = (offset, size)
        touched = self._touched_by.get(key)
        if touched is None:
            found: list[Register] = []
            for byte in range(max(offset, 0), min(offset + size, len(self._owner))):
                register = self._owner[byte]
                if register is not None and register not in found:
                    found.append(register)
            touched = self._touched_by[key] = tuple(found)
        return touched

    def bus_read(self, offset: int, size: int) -> bytes:
        """The driver reads `size` bytes at `offset`: the read hooks it covers run first.

        Past the register map (within the buffer) is plain memory. The
        caller holds `lock`. Without hooks this is a dict lookup and a copy.
        While `absent`, every read is all-ones and runs no hook.
        """
        if self.read_delay:
            time.sleep(self.read_delay)
        if self.absent:
            return b"\xff" * size
        hooks = self._read_hooks_at.get((offset, size))
        if hooks is None:
            found = (self._read_hooks.get(r.name) for r in self.registers_at(offset, size))
            hooks = self._read_hooks_at[(offset, size)] = tuple(h for h in found if h)
        for hook in hooks:
            if self.on_fault is None:
                hook()
                continue
            try:
                hook()
            except Exception as error:
                self.on_fault(error, f"in a read hook at {offset:#x} ({size} bytes)")
        return self._bytes[offset : offset + size].tobytes()

    def unmapped(self, offset: int, size: int) -> bool:
        """Whether an access of `size` bytes at `offset` covers a byte no register owns
        (Padding, or past the map): what strict mode fails a driver for."""
        key = (offset, size)
        found = self._unmapped.get(key)
        if found is None:
            owners = self._owner[max(offset, 0) : offset + size]
            found = self._unmapped[key] = offset < 0 or len(owners) < size or None in owners
        return found

    def unmapped_mask(self, length: int) -> npt.NDArray[np.bool_]:
        """Of the first `length` bytes, those no register owns (True)."""
        mask = np.ones(length, dtype=np.bool_)
        for register in self.registers.values():
            mask[register.offset : register.offset + register.size] = False
        return mask

    def bus_write(self, offset: int, data: bytes) -> None:
        """The driver writes `data` at `offset`; each register's write hook decides what stays.

        The caller holds `lock`. Without hooks this is a dict lookup and a copy.
        While `absent`, writes go nowhere.
        """
        if self.absent:
            return
        end = offset + len(data)
        hooked = self._write_hooks_at.get((offset, len(data)))
        if hooked is None:
            hooked = self._write_hooks_at[(offset, len(data))] = self._hooked(offset, len(data))
        if not hooked:
            self._bytes[offset:end] = data
            return
        olds = [self._bus_value(register) for register, _, _ in hooked]
        self._bytes[offset:end] = data
        for (register, hook, mask), old in zip(hooked, olds, strict=True):
            written = self._bus_value(register)
            try:
                stored = hook(old, written, mask)
            except Exception as error:
                if self.on_fault is None:
                    raise
                self.on_fault(error, f"in its write hook on {register.name}")
                stored = None  # the access completes as a plain store
            if stored is None:
                stored = (old & ~mask) | (written & mask)
            self._bus_store(register, stored)

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

    def _bus_value(self, register: Register) -> int:
        end = register.offset + register.size
        return int.from_bytes(self._bytes[register.offset : end], "little")

    def _bus_store(self, register: Register, value: int) -> None:
        raw = (value & ((1 << (8 * register.size)) - 1)).to_bytes(register.size, "little")
        self._bytes[register.offset : register.offset + register.size] = raw

    # --- bit fields --------------------------------------------------------

    def field(self, path: str) -> tuple[Register, BitField]:
        """The register and field that 'Register.Field' names."""
        name, dot, field_name = path.partition(".")
        register = self.register(name)
        if not dot:
            raise SimulatorError(f"{path!r} is a register: name a field as {path}.FIELD")
        if not register.is_bitfield:
            raise SimulatorError(f"register {name} has no bit fields: read or write it whole")
        try:
            return register, register.fields[field_name]
        except KeyError:
            raise _unknown("field", field_name, register.fields, name) from None

    def read_field(self, path: str) -> int:
        """The value of the bit field 'Register.Field' (0 or 1 for a flag)."""
        register, field = self.field(path)
        with self.lock:
            raw = self._raw(register).tobytes()
        return int(register.subcon.parse(raw)[field.name])

    def write_field(self, path: str, value: int) -> None:
        """Set one bit field, leaving the register's other fields as the driver left them."""
        register, field = self.field(path)
        if not 0 <= value < 1 << field.width:
            raise SimulatorError(
                f"value {value} does not fit {path} ({field.width} bit"
                f"{'s' if field.width > 1 else ''}: 0..{(1 << field.width) - 1})"
            )
        with self.lock:
            parsed = register.subcon.parse(self._raw(register).tobytes())
            parsed[field.name] = bool(value) if field.flag else value
            self._store(register, register.subcon.build(parsed), field.mask)

    def decode(self, name: str) -> dict[str, int]:
        """The fields of a bit-field register by name, most significant first."""
        register = self.register(name)
        with self.lock:
            raw = self._raw(register).tobytes()
        parsed = register.subcon.parse(raw)
        return {field: int(parsed[field]) for field in register.fields}

    def dump(self) -> str:
        """The whole map as a table: offset, register, size, value, then each bit field."""
        rows = [("offset", "register", "size", "value")]
        with self.lock:  # one moment's values
            values = {name: self.read(name) for name in self.registers}
        for register in self.registers.values():
            value = values[register.name]
            shown = f"{value & register.field_mask:#0{2 * register.size + 2}x}"
            rows.append(
                (
                    f"{register.offset:#06x}",
                    register.name,
                    str(register.size),
                    f"{shown} ({value})" if register.signed else shown,
                )
            )
            for field_name, field_value in self.decode(register.name).items():
                field = register.fields[field_name]
                shown = str(field_value) if field.width == 1 else f"{field_value:#x}"
                rows.append(("", f"  {field.bits:>5}  {field_name}", "", shown))
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        lines = [f"{self.device} registers ({self.size:#x} bytes)"]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
            lines.append("  ".join([*cells, row[3]]))
        return "\n".join(lines)

    # --- helpers -----------------------------------------------------------

    def _raw(self, register: Register) -> Buffer:
        """The register's bytes in the shared buffer (a view: writes go to the file)."""
        return self._buffer[register.offset : register.offset + register.size]

    def _store(self, register: Register, data: bytes, mask: int) -> None:
        """Write the bits of `mask` from `data`; other bits (Padding too) keep their value.

        The mask goes through construct like a value does, which puts its
        bits in the bytes where the register's encoding has them.
        """
        raw = self._raw(register)
        keep = self._pattern(register, mask)
        new = (raw & ~keep) | (np.frombuffer(data, np.uint8) & keep)
        changed = raw != new
        raw[changed] = new[changed]

    def _mask_bytes(self, register: Register, mask: int) -> tuple[tuple[int, int], ...]:
        """(byte index, bits) of the bytes `mask` touches: set_bits runs on every interrupt."""
        key = (register.name, mask)
        touched = self._touched.get(key)
        if touched is None:
            pattern = self._pattern(register, mask)
            touched = self._touched[key] = tuple(
                (int(index), int(pattern[index])) for index in np.flatnonzero(pattern)
            )
        return touched

    def _pattern(self, register: Register, mask: int) -> Buffer:
        """`mask` as the register's bytes hold it, built by construct once and then cached."""
        key = (register.name, mask)
        pattern = self._patterns.get(key)
        if pattern is None:
            what = f"mask for {register.name}"
            if register.signed and 0 <= mask < 1 << (8 * register.size):
                # A mask is bits, not a number: as a signed value, its top bit is the sign.
                mask -= (mask >> (8 * register.size - 1)) << (8 * register.size)
            data = self._encode(register, mask, what=what)
            pattern = self._patterns[key] = np.frombuffer(data, np.uint8)
        return pattern

    def _encode(self, register: Register, value: int, *, what: str) -> bytes:
        """The bytes of `value` for `register`, refusing values that do not fit it."""
        low, high = register.value_range
        if register.signed and not low <= value <= high:
            raise SimulatorError(
                f"value {value} does not fit {what} (signed, {8 * register.size} bits: "
                f"{low}..{high})"
            )
        if not low <= value <= high:
            raise SimulatorError(
                f"value {value:#x} does not fit {what} ({8 * register.size} bits)"
                if value >= 0
                else f"value {value} for {what} is negative"
            )
        if not register.is_bitfield:
            return bytes(register.subcon.build(value))
        stray = value & ~register.field_mask
        if stray:
            raise SimulatorError(
                f"value {value:#x} for {what} sets bits {stray:#x} that no field of "
                f"{register.name} covers"
            )
        fields: dict[str, int | bool] = {}
        for field in register.fields.values():
            bits = (value & field.mask) >> field.bit
            fields[field.name] = bool(bits) if field.flag else bits
        return bytes(register.subcon.build(fields))

    @staticmethod
    def _to_int(register: Register, parsed: Any) -> int:
        if not register.is_bitfield:
            return int(parsed)
        value = 0
        for field in register.fields.values():
            value |= int(parsed[field.name]) << field.bit
        return value


def _describe(buffer: Buffer) -> str:
    """'iomem file PATH' for a memmap, 'the register buffer' otherwise, for messages."""
    filename = getattr(buffer, "filename", None)
    return f"iomem file {filename}" if filename else "the register buffer"
