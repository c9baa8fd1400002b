"""virtio-gpio (device 41): the GPIO controller the kernel's gpio-virtio drives.

The request queue carries GET_NAMES, GET/SET_DIRECTION, GET/SET_VALUE and
SET_IRQ_TYPE, each answered at once. The event queue holds one buffer per
line whose interrupt is enabled; the controller returns it (status VALID)
when the line's interrupt fires, and keeps an edge that comes while the
driver has no buffer queued until one is (a latched interrupt status, as
a real controller keeps). Disabling a line's interrupt returns its buffer
with status INVALID, as the specification asks.

A line's level is the host's (`set`, or a model's output pin wired to it)
while the guest has it as an input, and the guest's while it drives it
as an output.
"""

from __future__ import annotations

import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import SimulatorError
from ..pci.virtqueue import Chain
from .server import DEFAULT_SPIN, Log, VhostUserServer, stderr_log

DEVICE_ID = 41
F_IRQ = 1 << 0
REQUEST = struct.Struct("<HHI")
CONFIG = struct.Struct("<HxxI")
REQUEST_QUEUE = 0
EVENT_QUEUE = 1
#: Virtio caps a controller at 65536 lines; the harness's devicetree at fewer.
MAX_LINES = 256

MSG_GET_NAMES = 1
MSG_GET_DIRECTION = 2
MSG_SET_DIRECTION = 3
MSG_GET_VALUE = 4
MSG_SET_VALUE = 5
MSG_IRQ_TYPE = 6
STATUS_OK = 0
STATUS_ERR = 1
IRQ_INVALID = 0
IRQ_VALID = 1

DIRECTIONS = {0: "none", 1: "out", 2: "in"}
IRQ_NONE = 0
IRQ_EDGE_RISING = 1
IRQ_EDGE_FALLING = 2
IRQ_EDGE_BOTH = 3
IRQ_LEVEL_HIGH = 4
IRQ_LEVEL_LOW = 8
IRQ_TYPES = {
    IRQ_NONE: "none",
    IRQ_EDGE_RISING: "rising",
    IRQ_EDGE_FALLING: "falling",
    IRQ_EDGE_BOTH: "both",
    IRQ_LEVEL_HIGH: "high",
    IRQ_LEVEL_LOW: "low",
}
#: How many of the guest's output changes `changes()` keeps.
HISTORY = 4096


@dataclass
class Line:
    """One GPIO line: what the guest set it to, the host's level, its interrupt."""

    direction: int = 2
    output: int = 0  # the value the guest drives while the direction is out
    level: int = 0  # the value the host drives while it is in
    irq_type: int = IRQ_NONE
    buffer: Chain | None = None  # the event buffer the driver lent, if any
    latched: bool = False  # an edge that came while no buffer was lent
    interrupts: int = 0

    @property
    def value(self) -> int:
        return self.output if self.direction == 1 else self.level

    def active(self) -> bool:
        """Whether a level-triggered interrupt is asserted now."""
        return (self.irq_type == IRQ_LEVEL_HIGH and self.level == 1) or (
            self.irq_type == IRQ_LEVEL_LOW and self.level == 0
        )

    def edge(self, old: int, new: int) -> bool:
        if old == new:
            return False
        rising = new == 1
        return bool(
            (self.irq_type & IRQ_EDGE_RISING and rising)
            or (self.irq_type & IRQ_EDGE_FALLING and not rising)
        )


@dataclass
class Change:
    """The guest drove a line: when (time.monotonic()), which, to what."""

    at: float
    line: int
    value: int


class VirtioGpio(VhostUserServer):
    """A controller of `count` lines served at `path`; `names` are the lines' names."""

    device_features = F_IRQ
    queue_count = 2
    kind = "virtio-gpio"

    def __init__(
        self,
        path: Path,
        count: int,
        *,
        names: list[str] | None = None,
        lock: threading.RLock | None = None,
        log: Log = stderr_log,
        spin: float = DEFAULT_SPIN,
    ) -> None:
        if not 1 <= count <= MAX_LINES:
            raise SimulatorError(f"a GPIO controller has 1 to {MAX_LINES} lines, not {count}")
        if names is not None and len(names) != count:
            raise SimulatorError(f"{len(names)} line names for {count} lines")
        super().__init__(path, lock=lock, log=log, spin=spin)
        self.lines = [Line() for _ in range(count)]
        self.names = names
        self._history: deque[Change] = deque(maxlen=HISTORY)
        self._changed = threading.Condition(self.lock)
        #: Called with (line, time.monotonic()) as each interrupt goes to the guest.
        self.on_interrupt: Callable[[int, float], None] | None = None

    def summary(self) -> str:
        fired = sum(line.interrupts for line in self.lines)
        return f"virtio-gpio: {len(self.lines)} lines, {fired} interrupts delivered"

    def config(self) -> bytes:
        return CONFIG.pack(len(self.lines), len(self._names_blob()))

    def _names_blob(self) -> bytes:
        if not self.names:
            return b""
        return b"".join(name.encode() + b"\0" for name in self.names)

    # --- the host's side: what a test or a model's pin does ----------------------------

    def set(self, line: int, level: int | bool) -> None:
        """Drive `line` to `level` (0/1) from outside, as a chip's output or a button would."""
        with self.lock:
            state = self._line(line)
            new = 1 if level else 0
            old, state.level = state.level, new
            if state.direction == 1:
                return  # the guest drives it: the host's level shows once it is an input again
            if state.edge(old, new):
                state.latched = True
            self._deliver(line)

    def get(self, line: int) -> int:
        """The line's value as the guest sees it (its own output, or the host's level)."""
        with self.lock:
            return self._line(line).value

    def describe(self, line: int) -> dict[str, object]:
        """The line's state for `sim gpio get`: direction, value, interrupt type, counts."""
        with self.lock:
            state = self._line(line)
            return {
                "line": line,
                "direction": DIRECTIONS.get(state.direction, str(state.direction)),
                "value": state.value,
                "irq": IRQ_TYPES.get(state.irq_type, str(state.irq_type)),
                "interrupts": state.interrupts,
            }

    def changes(self, since: float = 0.0) -> list[Change]:
        """The guest's output changes after `since` (time.monotonic()), oldest first."""
        with self.lock:
            return [change for change in self._history if change.at > since]

    def wait_change(self, since: float, timeout: float) -> list[Change]:
        """The guest's output changes after `since`, waiting up to `timeout` s for one."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (found := self.changes(since)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            return found

    def round_trips(self, source: int, sink: int, count: int, timeout: float = 2.0) -> list[float]:
        """Drive input `source` high and low `count` times, each time waiting until the
        guest drives output `sink` to the same level (`gpioline echo` does); the
        seconds each took: an interrupt's way in and a request's way out."""
        took = []
        for index in range(count):
            level = 1 - index % 2
            began = time.monotonic()
            self.set(source, level)
            while True:
                changes = self.wait_change(began, timeout - (time.monotonic() - began))
                if any(c.line == sink and c.value == level for c in changes):
                    break
                if time.monotonic() - began >= timeout:
                    raise SimulatorError(
                        f"the guest did not follow line {source} on line {sink} "
                        f"within {timeout:g}s (round trip {index + 1} of {count})"
                    )
            took.append(time.monotonic() - began)
        return took

    def pin(self, line: int) -> GpioPin:
        """An output pin of a model wired to `line`."""
        self._line(line)
        return GpioPin(self, line)

    def _line(self, line: int) -> Line:
        if not 0 <= line < len(self.lines):
            raise SimulatorError(f"no GPIO line {line}: the controller has {len(self.lines)}")
        return self.lines[line]

    # --- the guest's side ---------------------------------------------------------------

    def kick(self, index: int, ack: Callable[[], None] | None) -> bool:
        queue = self.queues[index] if 0 <= index < len(self.queues) else None
        if queue is None or not queue.ready:
            return False
        served = False
        while (chain := queue.pop()) is not None:
            if index == REQUEST_QUEUE:
                queue.push(chain.head, chain.reply(self._request(chain.out, chain.in_size)))
                served = True
            else:
                self._lend(chain)
        if served:
            self.call(REQUEST_QUEUE)
        return False

    def _request(self, out: bytes, in_size: int) -> bytes:
        """The response to one request: status, then a value byte (or the names)."""
        if len(out) < REQUEST.size:
            self.log(f"virtio-gpio: malformed request of {len(out)} bytes")
            return bytes([STATUS_ERR, 0])
        kind, line, value = REQUEST.unpack_from(out)
        if kind == MSG_GET_NAMES:
            return bytes([STATUS_OK]) + self._names_blob().ljust(in_size - 1, b"\0")
        if not 0 <= line < len(self.lines):
            self.log(f"virtio-gpio: request {kind} for line {line} of {len(self.lines)}")
            return bytes([STATUS_ERR, 0])
        state = self.lines[line]
        if kind == MSG_GET_DIRECTION:
            return bytes([STATUS_OK, state.direction])
        if kind == MSG_SET_DIRECTION and value in DIRECTIONS:
            state.direction = value
            return bytes([STATUS_OK, 0])
        if kind == MSG_GET_VALUE:
            return bytes([STATUS_OK, state.value])
        if kind == MSG_SET_VALUE and value in (0, 1):
            state.output = value
            self._history.append(Change(time.monotonic(), line, value))
            self._changed.notify_all()
            return bytes([STATUS_OK, 0])
        if kind == MSG_IRQ_TYPE and value in IRQ_TYPES:
            state.irq_type = value
            state.latched = False
            if value == IRQ_NONE and state.buffer is not None:
                self._return(line, IRQ_INVALID)
            return bytes([STATUS_OK, 0])
        self.log(f"virtio-gpio: request {kind} with value {value} for line {line} refused")
        return bytes([STATUS_ERR, 0])

    def _lend(self, chain: Chain) -> None:
        """The driver lends a line an event buffer: its interrupt may fire now."""
        if len(chain.out) < 2:
            self.log("virtio-gpio: malformed event buffer")
            return
        line = int.from_bytes(chain.out[:2], "little")
        if not 0 <= line < len(self.lines):
            self.log(f"virtio-gpio: event buffer for line {line} of {len(self.lines)}")
            self.queues[EVENT_QUEUE].push(chain.head, chain.reply(bytes([IRQ_INVALID])))
            self.call(EVENT_QUEUE)
            return
        state = self.lines[line]
        if state.buffer is not None:
            self.log(f"virtio-gpio: line {line} lent a second event buffer")
            self._return(line, IRQ_INVALID)
        state.buffer = chain
        self._deliver(line)

    def _deliver(self, line: int) -> None:
        """Fire `line`'s interrupt if it is due and the driver lent a buffer for it."""
        state = self.lines[line]
        if state.buffer is None or state.irq_type == IRQ_NONE:
            return
        if state.latched or state.active():
            state.latched = False
            state.interrupts += 1
            self._return(line, IRQ_VALID)
            if self.on_interrupt is not None:
                self.on_interrupt(line, time.monotonic())

    def _return(self, line: int, status: int) -> None:
        state = self.lines[line]
        chain, state.buffer = state.buffer, None
        assert chain is not None
        self.queues[EVENT_QUEUE].push(chain.head, chain.reply(bytes([status])))
        self.call(EVENT_QUEUE)


class GpioPin:
    """A model's output pin wired to a controller line (simulators/i2c/model.py's OutputPin)."""

    def __init__(self, controller: VirtioGpio, line: int) -> None:
        self.controller = controller
        self.line = line
        self.level = False

    def set(self, level: bool) -> None:
        self.level = bool(level)
        self.controller.set(self.line, self.level)
