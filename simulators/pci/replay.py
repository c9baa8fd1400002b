"""A PCI device that answers the driver from a trace, with no model behind it.

`--pci replay,trace=FILE` serves a trace (simulators/pci/trace.py) back to
a driver: each config or MMIO read of an address is answered with the
next answer the trace recorded for that address and size (the last one
again once they run out; all-ones for an address never read), writes go
nowhere, and each interrupt and DMA write the device made is made again
once the driver has made as many accesses as it had then, and the
workload has reached the same step (the harness marks each command it
runs: control.mark_step). A driver that does the same accesses
in the same order, as a fresh guest running the same commands does, sees
the same device.

A fresh guest does not allocate its DMA buffers where the recorded one
did, so DMA goes through an `AddressMap`: where the driver writes a
register with another page-aligned address than the recording has, or a
descriptor the device reads holds one in place of a recorded one, the
recorded buffer is the driver's new one, and DMA within 64 KiB after a
recorded address goes the same distance after the new one. Any other
difference in what the driver writes, or a DMA write the map cannot
place, means the replay has diverged: it says where (`divergence()`)
and makes no DMA write from then on, as one could land in memory the
guest uses for something else.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from pathlib import Path

from ..errors import SimulatorError
from .config_space import PciId
from .function import PciFunction
from .pcidev import Op
from .trace import DMA_READ, DMA_WRITE, STEP, TraceEvent, read_trace

_READS = (Op.CFG_READ.name, Op.MMIO_READ.name)
_WRITES = (Op.CFG_WRITE.name, Op.MMIO_WRITE.name)
#: Where config reads go in the answers' key (no BAR has this index).
_CONFIG = -1
#: (BAR or _CONFIG, offset, size)
_Key = tuple[int, int, int]


#: How far past a buffer's start a DMA is taken to be in that buffer.
BUFFER_SPAN = 64 * 1024
PAGE = 4096
#: Below this a value is a length or a flag, not a buffer's address.
LOWEST_ADDRESS = 0x10000


class AddressMap:
    """Recorded DMA addresses -> the replaying driver's, learned from the values
    that differ between its writes and the recording's."""

    def __init__(self) -> None:
        self._starts: dict[int, int] = {}

    def learn(self, recorded: bytes, now: bytes) -> bool:
        """Take the 4- and 8-byte aligned words that differ as buffer addresses, if
        they look like them (above LOWEST_ADDRESS, the same offset in a page);
        False if some difference does not."""
        explained = True
        width = 8 if len(recorded) % 8 == 0 else 4
        for at in range(0, len(recorded) - width + 1, width):
            old = int.from_bytes(recorded[at : at + width], "little")
            new = int.from_bytes(now[at : at + width], "little")
            if old == new:
                continue
            if _same_flags(old, new):
                self._starts[old & ~(PAGE - 1)] = new & ~(PAGE - 1)
            elif width == 8 and self._learn_halves(old, new):
                continue
            else:
                explained = False
        return explained

    def _learn_halves(self, old: int, new: int) -> bool:
        parts = [(old & 0xFFFFFFFF, new & 0xFFFFFFFF), (old >> 32, new >> 32)]
        for was, now in parts:
            if was == now:
                continue
            if not _same_flags(was, now):
                return False
            self._starts[was & ~(PAGE - 1)] = now & ~(PAGE - 1)
        return True

    def rewrite(self, data: bytes) -> bytes:
        """`data` with each aligned 8-byte word that is a recorded buffer's address
        made the new one's (a descriptor the device writes back names its buffer)."""
        if not self._starts or len(data) < 8:
            return data
        out = bytearray(data)
        for at in range(0, len(data) - 7, 8):
            new = self._starts.get(int.from_bytes(data[at : at + 8], "little"))
            if new is not None:
                out[at : at + 8] = new.to_bytes(8, "little")
        return bytes(out)

    def place(self, address: int, length: int) -> int | None:
        """Where a recorded DMA of `length` bytes at `address` goes now; None if no
        learned buffer holds it (an address never learned is taken as it is only
        when nothing has been learned: the guest allocated alike)."""
        best = max((start for start in self._starts if start <= address), default=None)
        if best is not None and address + length <= best + BUFFER_SPAN:
            return self._starts[best] + (address - best)
        return None if self._starts else address


def _same_flags(old: int, new: int) -> bool:
    """Two buffer addresses, page-aligned but for the same command bits in the
    low twelve (r8169's CounterAddrLow ORs its command in)."""
    return min(old, new) >= LOWEST_ADDRESS and old % PAGE == new % PAGE


class ReplayFunction(PciFunction):
    """Answers from the trace at `trace` (see the module docstring)."""

    name = "replay"

    def __init__(self, trace: str) -> None:
        # Never read: cfg_read answers from the trace, config space included.
        super().__init__(PciId(0xFFFF, 0xFFFF), {}, msi=True)
        self._path = trace
        _, events = read_trace(Path(trace))
        self._answers: dict[_Key, collections.deque[bytes]] = {}
        self._written: dict[_Key, collections.deque[bytes]] = {}
        #: Interrupts and DMA, with the step they happened in.
        self._due: collections.deque[tuple[int, TraceEvent]] = collections.deque()
        self._load(events)
        self.step_index = 0
        self.accesses = 0
        #: Reads of an address the trace never saw (answered with all-ones).
        self.unknown_reads = 0
        #: DMA writes not made: the replay had diverged, or the step had ended.
        self.dma_dropped = 0
        self._divergence: str | None = None
        self.addresses = AddressMap()
        #: The last recorded DMA read at each address (a descriptor, before write-back).
        self._device_read: dict[int, bytes] = {}

    def options(self) -> dict[str, str]:
        return {"trace": self._path}

    def _load(self, events: Iterable[TraceEvent]) -> None:
        step = 0
        for event in events:
            if event.op == STEP:
                step = event.addr
            elif event.op in _READS or event.op in _WRITES:
                config = event.op.startswith("CFG")
                key = (_CONFIG if config else event.bar, event.addr, event.size)
                kept = self._answers if event.op in _READS else self._written
                kept.setdefault(key, collections.deque()).append(event.data)
            elif event.op in ("MSI", DMA_WRITE, DMA_READ):
                if event.op == "MSI" and not event.extra:
                    raise SimulatorError(
                        f"{self._path}: its MSIs do not keep their message: record it again"
                    )
                self._due.append((step, event))

    # --- what the backend and the harness ask -------------------------------------------

    def step(self, index: int) -> None:
        """The workload starts its command `index`: what the device did before it, it
        does. An earlier step's interrupts the driver has not reached yet are made
        now; its DMA writes are dropped, as the buffers they went to may be gone."""
        with self.lock:
            self.step_index = index
            due = self._due
            while due and due[0][0] < index and due[0][1].n > self.accesses:
                _, event = due.popleft()
                if event.op == DMA_WRITE:
                    self.dma_dropped += 1
                elif event.op == "MSI":
                    self._send(event.extra)
            self._fire()

    def divergence(self) -> str | None:
        """Where the driver first did something the recording's driver did not."""
        return self._divergence

    def dropped(self) -> int:
        """DMA writes not made."""
        return self.dma_dropped

    def pending(self) -> int:
        """Interrupts and DMA not made yet."""
        return len(self._due)

    # --- the driver's accesses ----------------------------------------------------

    def cfg_read(self, offset: int, size: int) -> bytes:
        return self._answer(_CONFIG, offset, size)

    def cfg_write(self, offset: int, data: bytes) -> None:
        self._check_write(_CONFIG, offset, data)

    def mmio_read(self, index: int, offset: int, size: int) -> bytes:
        return self._answer(index, offset, size)

    def mmio_write(self, index: int, offset: int, data: bytes) -> None:
        self._check_write(index, offset, data)

    def mmio_memset(self, index: int, offset: int, value: int, count: int) -> None:
        with self.lock:
            self._accessed()

    def _answer(self, bar: int, offset: int, size: int) -> bytes:
        with self.lock:
            answers = self._answers.get((bar, offset, size))
            if not answers:
                self.unknown_reads += 1
                answer = b"\xff" * size
            elif len(answers) > 1:
                answer = answers.popleft()
            else:
                answer = answers[0]
            self._accessed()
            return answer

    def _check_write(self, bar: int, offset: int, data: bytes) -> None:
        with self.lock:
            recorded = self._written.get((bar, offset, len(data)))
            expected = recorded.popleft() if recorded else None
            if expected != data and (expected is None or not self.addresses.learn(expected, data)):
                where = "config" if bar == _CONFIG else f"BAR{bar}"
                was = expected.hex() if expected is not None else "nothing"
                self._diverge(f"the driver wrote {data.hex()} at {where} {offset:#x}, not {was}")
            self._accessed()

    def _accessed(self) -> None:
        self.accesses += 1
        self._fire()

    def _diverge(self, what: str) -> None:
        if self._divergence is None:
            self._divergence = f"step {self.step_index}, access {self.accesses + 1}: {what}"

    def _fire(self) -> None:
        due = self._due
        while due and due[0][0] <= self.step_index and due[0][1].n <= self.accesses:
            _, event = due.popleft()
            if event.op == "MSI":
                self._send(event.extra)
                continue
            where = self.addresses.place(event.addr, event.size)
            if event.op == DMA_READ:
                self._device_read[event.addr] = event.data
                if where is not None:
                    # Payloads differ (timestamps); buffer addresses in them are learned.
                    self.addresses.learn(event.data, self.memory().read(where, event.size))
            elif where is None or self._divergence is not None:
                self._diverge(f"a DMA write to {event.addr:#x}, in no buffer the driver gave")
                self.dma_dropped += 1
            else:
                self.memory().write(where, self._written_back(event, where))

    def _written_back(self, event: TraceEvent, where: int) -> bytes:
        """What to write for a recorded DMA write: where the device wrote back what
        it had read there (a descriptor's buffer address), what the driver put there
        now; elsewhere the recorded bytes, with recorded buffer addresses made new."""
        data = self.addresses.rewrite(event.data)
        read = self._device_read.get(event.addr)
        if read is None or len(read) != len(data):
            return data
        now = self.memory().read(where, len(data))
        out = bytearray(data)
        for at in range(0, len(data) - 7, 8):
            if event.data[at : at + 8] == read[at : at + 8]:
                out[at : at + 8] = now[at : at + 8]
        return bytes(out)
