"""Recording every config/MMIO access and interrupt of a device, and showing it decoded.

A trace is JSON lines: first a header naming the model and its options (so
that `decode` can rebuild its register maps) and when it began (the host's
monotonic clock), then one event per access, interrupt and DMA write, with
nanoseconds since the trace began and `n`, how many accesses the driver
had made by then:

    {"trace": 1, "model": "rtl8111", "options": {}, "slot": "pci0", "monotonic_ns": 5}
    {"t": 1234, "n": 7, "op": "MMIO_READ", "bar": 2, "addr": 62, "size": 2, "data": "2000"}
    {"t": 1290, "n": 7, "op": "MSI", "data": "0c000000", "message": "..."}
    {"t": 1400, "n": 9, "op": "DMA_WRITE", "addr": 4096, "size": 64, "data": "..."}

(DMA_READ likewise: what the device read of the driver's memory.)

`data` is the bytes as the bus carried them (little-endian), in hex; an
MSI's `message` is the whole virtio_pcidev message, for replay
(simulators/pci/replay.py), which answers the driver from a trace.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..closing import Closing
from ..errors import SimulatorError
from .bars import RegisterBar
from .function import PciFunction
from .models import registered
from .pcidev import Op

#: What a trace records: virtio_pcidev operations (MSI messages among them), the
#: device's writes to guest memory, and the steps of a workload (umlharness/fuzz.py).
DMA_WRITE = "DMA_WRITE"
DMA_READ = "DMA_READ"
STEP = "STEP"
OPS = frozenset([*Op.__members__, DMA_WRITE, DMA_READ, STEP])

VERSION = 1


class TraceWriter(Closing):
    def __init__(self, path: Path, model: str, options: dict[str, str], slot: str) -> None:
        self.path = path
        self._file: IO[str] = path.open("w", buffering=1 << 16)
        # Model threads (DMA, interrupts) write beside the thread serving accesses.
        self._lock = threading.Lock()
        self._start = time.monotonic_ns()
        header = {
            "trace": VERSION,
            "model": model,
            "options": options,
            "slot": slot,
            "monotonic_ns": self._start,
        }
        self._file.write(json.dumps(header) + "\n")

    def record(self, op: str, bar: int, addr: int, size: int, data: bytes, n: int = 0) -> None:
        self._write({"op": op, "bar": bar, "addr": addr, "size": size, "data": data.hex()}, n)

    def interrupt(self, message: bytes, n: int = 0) -> None:
        self._write({"op": "MSI", "data": message[16:].hex(), "message": message.hex()}, n)

    def step(self, index: int, command: str) -> None:
        line = json.dumps(step_event(time.monotonic_ns() - self._start, index, command)) + "\n"
        with self._lock:
            self._file.write(line)

    def dma(self, addr: int, data: bytes, n: int = 0, op: str = DMA_WRITE) -> None:
        self._write({"op": op, "addr": addr, "size": len(data), "data": data.hex()}, n)

    def _write(self, event: dict[str, Any], n: int) -> None:
        line = json.dumps({"t": time.monotonic_ns() - self._start, "n": n, **event}) + "\n"
        with self._lock:
            self._file.write(line)

    def flush(self) -> None:
        with self._lock:
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()


@dataclass(frozen=True)
class TraceEvent:
    t_ns: int
    op: str
    bar: int
    addr: int
    size: int
    data: bytes
    #: Accesses the driver had made when it happened (0 in traces older than `n`).
    n: int = 0
    #: An MSI's whole message; a STEP's command (UTF-8).
    extra: bytes = b""


def read_trace(path: Path) -> tuple[dict[str, Any], Iterator[TraceEvent]]:
    """The header and the events of the trace at `path`."""
    try:
        handle = path.open()
    except OSError as error:
        raise SimulatorError(f"cannot read trace {path}: {error.strerror}") from None
    try:
        header = json.loads(handle.readline())
    except ValueError:  # not JSON, or not text at all (UnicodeDecodeError)
        header = None
    if not isinstance(header, dict) or header.get("trace") != VERSION:
        handle.close()
        raise SimulatorError(f"{path} is not a umlharness PCI trace")

    def events() -> Iterator[TraceEvent]:
        with handle:
            number = 1
            while True:
                number += 1
                try:
                    line = handle.readline()
                    if not line:
                        return
                    raw = json.loads(line)
                    if raw["op"] not in OPS:
                        raise ValueError(raw["op"])
                    yield TraceEvent(
                        int(raw["t"]),
                        str(raw["op"]),
                        int(raw.get("bar", 0)),
                        int(raw.get("addr", 0)),
                        int(raw.get("size", 0)),
                        bytes.fromhex(raw.get("data", "")),
                        int(raw.get("n", 0)),
                        _extra(raw),
                    )
                except (ValueError, KeyError, TypeError):
                    # A backend killed mid-write leaves a partial last line; a
                    # binary file fails to decode (UnicodeDecodeError).
                    raise SimulatorError(f"{path}:{number}: not a trace event") from None

    return header, events()


def _extra(raw: dict[str, Any]) -> bytes:
    if raw["op"] == STEP:
        return str(raw["command"]).encode()
    return bytes.fromhex(raw.get("message", ""))


def step_event(t_ns: int, index: int, command: str) -> dict[str, Any]:
    """A workload step as a trace line: the guest starts running `command`."""
    return {"t": t_ns, "op": STEP, "addr": index, "command": command}


def decode(function: PciFunction, event: TraceEvent) -> str:
    """One event as a line: time, access, register names, value and set bit fields."""
    stamp = f"{event.t_ns / 1e9:12.6f}"
    value: int | None
    if event.op == "MSI":
        return f"{stamp}  MSI            data {int.from_bytes(event.data, 'little'):#x}"
    if event.op == STEP:
        return f"{stamp}  STEP {event.addr:<6}    $ {event.extra.decode(errors='replace')}"
    if event.op in (DMA_WRITE, DMA_READ):
        head = event.data[:16].hex() + ("…" if event.size > 16 else "")
        return f"{stamp}  {event.op:<11} {event.addr:#x} x{event.size} <- {head}"
    if event.size <= 8:
        value = int.from_bytes(event.data, "little")
        shown = f"{value:#0{2 * event.size + 2}x}"
    else:
        value, shown = None, f"{event.data[:8].hex()}…"
    arrow = "->" if event.op.endswith("READ") else "<-"
    if event.op.startswith("CFG"):
        where = f"cfg {event.addr:#05x} {function.config.decode(event.addr, event.size)}"
        return f"{stamp}  {event.op:<11} {where} {arrow} {shown}"
    if event.op == "MMIO_MEMSET":
        where = f"bar{event.bar} {event.addr:#06x} x{event.size}"
        return f"{stamp}  {event.op:<11} {where} <- {event.data.hex()}"
    bar = function.bars.get(event.bar)
    names = _bar_names(bar, event.addr, event.size, value)
    return f"{stamp}  {event.op:<11} bar{event.bar} {event.addr:#06x} {names} {arrow} {shown}"


def _bar_names(bar: Any, addr: int, size: int, value: int | None) -> str:
    if not isinstance(bar, RegisterBar):
        return f"({size} bytes)"
    registers = bar.regs.registers_at(addr, size)
    if not registers:
        return f"({size} bytes)"
    parts = []
    for register in registers:
        text = register.name
        if register.fields and value is not None and register.offset == addr:
            raw = (value >> 0) & ((1 << (8 * register.size)) - 1)
            bits = [
                name for name, field in register.fields.items() if field.flag and raw & field.mask
            ]
            if bits:
                text += "[" + "|".join(bits) + "]"
        parts.append(text)
    return "+".join(parts)


def show(
    path: Path,
    make_model: Callable[[str, dict[str, str]], PciFunction],
    import_model: bool = False,
) -> Iterator[str]:
    """The decoded lines of a trace; `make_model` rebuilds the model it was recorded from.

    A trace names its model, and a file can say anything: a model that is not
    one of the built-in ones is imported (running its module's code) only
    with `import_model`.
    """
    header, events = read_trace(path)
    model = str(header.get("model"))
    if model not in registered() and not import_model:
        raise SimulatorError(
            f"{path} was recorded from model {model!r}, which is not built in; importing it "
            "runs its code: pass --import-model if you trust it"
        )
    options = header.get("options", {})
    if not isinstance(options, dict):
        raise SimulatorError(f"{path} is not a umlharness PCI trace (bad options)")
    function = make_model(model, {str(k): str(v) for k, v in options.items()})
    yield f"# {header.get('slot', '?')}: {function.name} {function.config.ident}"
    for event in events:
        yield decode(function, event)
