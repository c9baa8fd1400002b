"""The SMBus register chip: a pointer byte, then register bytes, one I2C message at a time.

The transport calls `i2c_write(data)` and `i2c_read(length)` once per
message of a transfer, in order (an SMBus "read word" is a write of the
pointer, then a read of 2 bytes). What the model answers:

- a write's first byte sets the register pointer and the following bytes
  are written from there, through `RegisterFile.bus_write`, so the register
  file's write hooks run;
- a read returns `length` bytes from the pointer, through `bus_read`;
- a zero-length write (SMBus quick, i2cdetect's probe) and a zero-length
  read are acknowledged and change nothing.

Two kinds of pointer:

- `registers_by_pointer` maps a pointer to one whole register (LM75,
  OPT3001: pointer 0 is a 16-bit register, pointer 1 the next one). The
  pointer does not move: repeated reads return the same register, as on
  those chips. A read longer than the register repeats its bytes; written
  bytes past the register's end are acknowledged and dropped. A pointer
  with no register NAKs (`I2cNak`);
- None: the pointer is a byte offset that auto-increments over the map
  and wraps at its end (PCF8563).

`irq_pin` is the chip's interrupt/alert output as an electrical level
(True: high). Chips drive it through `_set_irq`; the levels are queued
while the register lock is held and handed to the pin, in order, after it
is released, so that a pin whose `set` talks to the guest does not run
under the model's lock (unless the caller holds that lock around the call).

For a transport: each call takes `regs.lock` itself (a transport may
put a lock of its own there, shared by its models, and hold it around the
calls). `irq_pin.set` runs in the thread whose call changed the level (an
I2C message, or a test's `set_lux`), or in one driving the pin at that
moment, and must not wait for the guest to handle the interrupt, as the
guest may be waiting for the very message that raised it. `I2cNak`
fails the message (and the rest of its transfer); any other exception is
the model's bug. Models start no threads or timers.

Not modelled: clock stretching, 10-bit addresses, SMBus PEC and the
SMBus alert response address.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Literal, Protocol

import numpy as np

from ..device import DeviceModel
from ..errors import SimulatorError
from ..regfile import RegisterFile, WriteHook

#: How many messages `I2cModel.transfers` keeps.
TRANSFER_LOG_LENGTH = 256


class I2cNak(SimulatorError):
    """The chip does not acknowledge the message: the driver's transfer fails (-EIO/-ENXIO)."""


class OutputPin(Protocol):
    """A chip's output pin (interrupt, alert), as the transport wires it to a GPIO line."""

    def set(self, level: bool) -> None:
        """Drive the pin to `level`: True is high, False low (electrical, not logical)."""


class UnconnectedPin:
    """A pin wired to nothing: it only remembers its level, for tests and for inspection."""

    def __init__(self) -> None:
        self.level = True  # an idle open-drain line is pulled up

    def set(self, level: bool) -> None:
        self.level = level


#: A write hook on register values as the model reads them (big-endian chips see
#: their value, not the bus's little-endian view): (old, written, mask) -> stored.
ValueHook = WriteHook


class I2cModel(DeviceModel):
    """An I2C chip over a register map `layout`, built from command-line `options`.

    Subclasses set `layout`, `registers_by_pointer` and `option_defaults`, and
    react to the driver in `begin_message`, `after_write` and `after_read`.
    """

    layout: ClassVar[Any]  # a construct Struct: the chip's registers, in buffer order
    registers_by_pointer: ClassVar[Mapping[int, str] | None] = None
    #: The options the chip takes and their defaults (strings, as on a command line).
    option_defaults: ClassVar[Mapping[str, str]] = {}
    #: The device's name in messages; the class name if None.
    name: ClassVar[str | None] = None
    #: The devicetree `compatible` its in-tree driver matches ("national,lm75").
    compatible: ClassVar[str] = ""
    #: How the driver takes the interrupt pin, for the devicetree (rising, falling,
    #: both, high, low); None: the driver takes no interrupt (the pin may still be
    #: wired to a GPIO line the guest watches).
    irq_trigger: ClassVar[str | None] = None
    #: Byte order of multi-byte registers on the bus (SMBus chips are mostly big-endian).
    byteorder: ClassVar[Literal["big", "little"]] = "big"

    def __init__(self, **options: str) -> None:
        device = self.name or type(self).__name__
        unknown = sorted(set(options) - set(self.option_defaults))
        if unknown:
            accepted = ", ".join(sorted(self.option_defaults)) or "none"
            raise SimulatorError(
                f"{device} has no option {unknown[0]!r}: the options it takes are {accepted}"
            )
        self.options: dict[str, str] = {**self.option_defaults, **options}
        #: The register pointer: a register's pointer, or a byte offset (auto-increment).
        self.pointer = 0
        #: The last messages: ("write" | "read" | "nak", pointer, bytes after the pointer).
        self.transfers: deque[tuple[str, int, bytes]] = deque(maxlen=TRANSFER_LOG_LENGTH)
        self._pin: OutputPin = UnconnectedPin()
        self._pin_lock = threading.Lock()
        self._irq_level = True
        self._pin_changes: deque[bool] = deque()
        regs = RegisterFile(self.layout, np.zeros(self.layout.sizeof(), np.uint8), device=device)
        DeviceModel.__init__(self, regs, None)
        self._drive_pin()  # the level setup() chose

    # --- the output pin ------------------------------------------------------

    @property
    def irq_pin(self) -> OutputPin:
        """The interrupt output; assigning a pin drives it to the chip's current level."""
        return self._pin

    @irq_pin.setter
    def irq_pin(self, pin: OutputPin) -> None:
        self._pin = pin
        # A change racing with this one queues its level after this one.
        self._pin_changes.append(self._irq_level)
        self._drive_pin()

    @property
    def irq_level(self) -> bool:
        """The level the chip drives its interrupt pin to (True: high)."""
        return self._irq_level

    def _set_irq(self, asserted: bool, *, active_high: bool) -> None:
        """Assert or release the pin, `active_high` or low; call with `regs.lock` held."""
        level = asserted if active_high else not asserted
        if level != self._irq_level:
            self._irq_level = level
            self._pin_changes.append(level)

    def _drive_pin(self) -> None:
        """Hand queued levels to the pin, oldest first; call with `regs.lock` released.

        One thread drives the pin at a time; a thread that finds another one
        at it leaves its levels to that one instead of waiting, so that no
        lock `pin.set` takes can deadlock against this one.
        """
        while self._pin_changes:
            if not self._pin_lock.acquire(blocking=False):
                return
            try:
                while self._pin_changes:
                    self._pin.set(self._pin_changes.popleft())
            finally:
                self._pin_lock.release()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the register lock for a change, then drive the pin outside it.

        Model methods that change what the pin shows (`set_temperature`, ...)
        run in it; do not nest it.
        """
        try:
            with self.regs.lock:
                yield
        finally:
            self._drive_pin()

    # --- the bus -------------------------------------------------------------

    def i2c_write(self, data: bytes) -> None:
        """One write message: the pointer byte, then bytes to write from there."""
        data = bytes(data)
        with self.locked():
            self._require_present(data)
            self.begin_message()
            if not data:
                self.transfers.append(("write", self.pointer, b""))
                return
            payload = data[1:]
            if self.registers_by_pointer is not None:
                name = self._register_at(data[0], data)
                self.pointer = data[0]
                self.transfers.append(("write", self.pointer, payload))
                if payload:
                    register = self.regs.register(name)
                    self.regs.bus_write(register.offset, payload[: register.size])
                    self.after_write((name,))
                return
            self.pointer = data[0] % self.regs.size
            self.transfers.append(("write", self.pointer, payload))
            if payload:
                touched = self._write_wrapping(payload)
                self.after_write(touched)

    def i2c_read(self, length: int) -> bytes:
        """One read message of `length` bytes from the pointer."""
        if length < 0:
            raise ValueError(f"a read of {length} bytes")
        with self.locked():
            self._require_present(b"")
            self.begin_message()
            if length == 0:
                self.transfers.append(("read", self.pointer, b""))
                return b""
            start = self.pointer
            if self.registers_by_pointer is not None:
                name = self._register_at(self.pointer, b"")
                register = self.regs.register(name)
                raw = self.regs.bus_read(register.offset, register.size)
                data = (raw * (length // len(raw) + 1))[:length]
                touched: Sequence[str] = (name,)
            else:
                data, touched = self._read_wrapping(length)
                self.pointer = (start + length) % self.regs.size
            self.transfers.append(("read", start, data))
            self.after_read(touched)
            return data

    def _require_present(self, data: bytes) -> None:
        if self.regs.absent:
            self.transfers.append(("nak", self.pointer, data))
            raise I2cNak(f"{self.regs.device} is absent: nothing acknowledges its address")

    def _register_at(self, pointer: int, data: bytes) -> str:
        assert self.registers_by_pointer is not None
        name = self.registers_by_pointer.get(pointer)
        if name is None:
            self.transfers.append(("nak", pointer, data[1:]))
            known = ", ".join(f"{p:#04x}" for p in sorted(self.registers_by_pointer))
            raise I2cNak(f"{self.regs.device} has no register at pointer {pointer:#04x} ({known})")
        return name

    def _write_wrapping(self, payload: bytes) -> tuple[str, ...]:
        """Write from the byte pointer, wrapping at the map's end; the registers touched."""
        size = self.regs.size
        touched: list[str] = []
        done = 0
        while done < len(payload):
            chunk = payload[done : done + size - self.pointer]
            self.regs.bus_write(self.pointer, chunk)
            for register in self.regs.registers_at(self.pointer, len(chunk)):
                if register.name not in touched:
                    touched.append(register.name)
            done += len(chunk)
            self.pointer = (self.pointer + len(chunk)) % size
        return tuple(touched)

    def _read_wrapping(self, length: int) -> tuple[bytes, tuple[str, ...]]:
        """Read from the byte pointer, wrapping at the map's end; the registers touched."""
        size = self.regs.size
        parts: list[bytes] = []
        touched: list[str] = []
        offset, left = self.pointer, length
        while left:
            count = min(left, size - offset)
            parts.append(self.regs.bus_read(offset, count))
            for register in self.regs.registers_at(offset, count):
                if register.name not in touched:
                    touched.append(register.name)
            left -= count
            offset = (offset + count) % size
        return b"".join(parts), tuple(touched)

    # --- what a chip overrides -------------------------------------------------

    def begin_message(self) -> None:
        """Each message starts here, lock held: a clock brings its counters up to date."""

    def after_write(self, names: Sequence[str]) -> None:
        """The driver wrote (part of) these registers; their new values are stored."""

    def after_read(self, names: Sequence[str]) -> None:
        """The driver read these registers: clear-on-read flags clear here."""

    # --- helpers for chips -----------------------------------------------------

    def on_value_write(self, name: str, hook: ValueHook) -> None:
        """Like `regs.on_write`, with values in the register's own byte order.

        `RegisterFile` hands write hooks the bus's bytes as a little-endian
        integer; a big-endian chip's hook wants the number the datasheet shows.
        """
        size = self.regs.register(name).size
        order = self.byteorder

        def swap(value: int) -> int:
            return int.from_bytes(value.to_bytes(size, "little"), order)

        def on_write(old: int, written: int, mask: int) -> int | None:
            stored = hook(swap(old), swap(written), swap(mask))
            if stored is None:
                return None
            return int.from_bytes(stored.to_bytes(size, order), "little")

        self.regs.on_write(name, on_write)

    @staticmethod
    def parse_float(option: str, value: str, device: str) -> float:
        """An option's number, or a one-line error naming it."""
        try:
            return float(value)
        except ValueError:
            raise SimulatorError(f"{device} option {option}={value!r} is not a number") from None
