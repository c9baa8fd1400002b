"""A vhost-user backend that serves one PCI function to UML's virt-pci (see docs/pci.md).

The connection is simulators/virtio/server.py's. A kick's requests are all
handled before its ACK goes back, which makes every config and MMIO access
synchronous: a read's answer is in the used ring when UML starts polling
for it, and no posted write can be lost to a full queue.

Queue 0 carries the driver's accesses in order; queue 1 holds buffers UML
lends for interrupts, which go out on the slave channel as VRING_CALLs.
"""

from __future__ import annotations

import collections
import functools
import traceback
from collections.abc import Callable
from pathlib import Path

from umlharness_shared.handshake import MODEL_ERROR

from ..errors import SimulatorError
from ..virtio.server import DEFAULT_SPIN, Log, VhostUserServer, stderr_log
from . import pcidev
from .bars import RegisterBar
from .function import PciFunction
from .guest_memory import GuestMemory
from .pcidev import Op
from .trace import DMA_READ, TraceWriter
from .vhost_user import ProtocolError
from .virtqueue import Chain

#: Posted writes UML may have outstanding before we tell it to reclaim them;
#: well under the 256-entry queue, and rare enough to cost little.
RECLAIM_EVERY = 32
#: Strict mode logs this many distinct accesses outside the register map at most.
MAX_UNMAPPED_REPORTS = 20
__all__ = ["DEFAULT_SPIN", "Backend"]


class Backend(VhostUserServer):
    """Listens at `path` and serves `function` to the one frontend that connects."""

    queue_count = 2
    kind = "virt-pci"

    def __init__(
        self,
        function: PciFunction,
        path: Path,
        *,
        trace: TraceWriter | None = None,
        log: Log = stderr_log,
        spin: float = DEFAULT_SPIN,
        strict: bool = False,
    ) -> None:
        super().__init__(path, lock=function.lock, log=log, spin=spin)
        self.function = function
        self.trace = trace
        self.accesses = 0
        self._pending_irqs: collections.deque[bytes] = collections.deque()
        self._unreclaimed = 0
        function.send_irq = self._send_irq
        self._unmapped_seen: set[tuple[str, int, int, int]] = set()
        if strict:
            for index, bar in function.bars.items():
                if isinstance(bar, RegisterBar):
                    bar.on_unmapped = functools.partial(self._unmapped, index, bar.regs.device)

    def _unmapped(self, index: int, device: str, kind: str, offset: int, size: int) -> None:
        """Strict mode: an access outside the register map fails the run, as a model error
        does (the harness watches the log); each distinct one is logged once, and only
        the first few, so a loop over a buffer does not flood the log."""
        key = (kind, index, offset, size)
        if key in self._unmapped_seen or len(self._unmapped_seen) >= MAX_UNMAPPED_REPORTS:
            return
        self._unmapped_seen.add(key)
        self.log(
            f"{MODEL_ERROR} strict mode: the driver {kind} {size} bytes at BAR{index} "
            f"{offset:#x}, where no register of {device}'s map is"
        )

    def summary(self) -> str:
        return f"after {self.accesses} accesses"

    def close(self) -> None:
        super().close()
        if self.trace is not None:
            self.trace.close()

    def memory_changed(self, memory: GuestMemory | None) -> None:
        trace = self.trace
        if memory is not None and trace is not None:
            memory.on_write = lambda addr, data: trace.dma(addr, data, self.accesses)
            memory.on_read = lambda addr, data: trace.dma(addr, data, self.accesses, DMA_READ)
        self.function.dma = memory

    # --- traffic ------------------------------------------------------------------

    def kick(self, index: int, ack: Callable[[], None] | None = None) -> bool:
        """Handle what the driver queued on `index` (called holding the function's lock).

        `ack` sends the kick's ACK. It goes out after every queued write has
        been applied (so no posted write is lost to a full queue) but before
        a read that ends the queue: UML cannot queue anything more until that
        read completes, and while the ACK travels and UML starts polling the
        used ring, the read is being answered. A lone read (most kicks) is
        acknowledged before it is even taken off the queue. Returns whether
        the ACK was sent.
        """
        if index == pcidev.IRQ_QUEUE:
            while self._pending_irqs and self._deliver_irq(self._pending_irqs[0]):
                self._pending_irqs.popleft()
            return False
        queue = self.queues[pcidev.CMD_QUEUE]
        if index != pcidev.CMD_QUEUE or not queue.ready:
            return False
        acked = False
        if ack is not None and queue.awaits_only():
            ack()
            acked = True
        while (chain := queue.pop()) is not None:
            if chain.inbufs:
                if ack is not None and not acked and queue.drained():
                    ack()
                    acked = True
            else:
                self._unreclaimed += 1
            queue.push(chain.head, self._execute(chain))
        if self._unreclaimed >= RECLAIM_EVERY:
            # Posted writes are freed by UML's cmd-queue callback only.
            self._unreclaimed = 0
            self.call(pcidev.CMD_QUEUE)
        return acked

    def _execute(self, chain: Chain) -> int:
        """Carry out one access; the bytes written back to the driver.

        A request that cannot be carried out (a malformed command, a model
        error, a bug in a model) is logged and, for a read, answered with
        all-ones, as a PCI read nobody claims is: the device stays.
        """
        self.accesses += 1
        out = chain.out
        try:
            if self.trace is None and len(out) >= _HEADER_SIZE:
                # The common accesses without building a Command: the hot path.
                op, bar, _reserved, size, addr = _unpack_header(out)
                if op == _MMIO_READ:
                    return chain.reply(self.function.mmio_read(bar, addr, size))
                if op == _MMIO_WRITE and len(out) >= _HEADER_SIZE + size:
                    self.function.mmio_write(bar, addr, out[_HEADER_SIZE : _HEADER_SIZE + size])
                    return 0
            command = pcidev.decode(out)
            reply = self._dispatch(command)
        except (ProtocolError, SimulatorError) as error:
            self.log(f"{_describe(out)}: {error}")
            return chain.reply(b"\xff" * chain.in_size)
        except Exception as error:  # a bug in a model must not take the device away...
            # ...but fails the run: the harness watches the log for this line.
            self.log(
                f"{MODEL_ERROR} {_describe(out)}: {type(error).__name__}: {error}\n"
                f"{traceback.format_exc()}"
            )
            return chain.reply(b"\xff" * chain.in_size)
        if self.trace is not None:
            data = reply if command.op in (Op.MMIO_READ, Op.CFG_READ) else command.data
            self.trace.record(
                command.op.name, command.bar, command.addr, command.size, data, self.accesses
            )
        return chain.reply(reply) if reply else 0

    def _dispatch(self, command: pcidev.Command) -> bytes:
        function, op = self.function, command.op
        if op == Op.MMIO_READ:
            return function.mmio_read(command.bar, command.addr, command.size)
        if op == Op.MMIO_WRITE:
            function.mmio_write(command.bar, command.addr, command.data)
        elif op == Op.CFG_READ:
            return function.cfg_read(command.addr, command.size)
        elif op == Op.CFG_WRITE:
            function.cfg_write(command.addr, command.data)
        elif op == Op.MMIO_MEMSET:
            function.mmio_memset(command.bar, command.addr, command.data[0], command.size)
        else:
            raise ProtocolError(f"unexpected {op.name} on the command queue")
        return b""

    def step(self, index: int, command: str) -> None:
        """The guest starts command `index` of a workload (control.mark_step)."""
        with self.function.lock:
            if self.trace is not None:
                self.trace.step(index, command)
            self.function.step(index)

    def _send_irq(self, message: bytes) -> None:
        """The function's interrupt sender: now, or when UML next lends a buffer."""
        if self.trace is not None:
            self.trace.interrupt(message, self.accesses)
        if self._pending_irqs or not self._deliver_irq(message):
            self._pending_irqs.append(message)

    def _deliver_irq(self, message: bytes) -> bool:
        queue = self.queues[pcidev.IRQ_QUEUE]
        if not queue.ready or not self.connected:
            return False
        chain = queue.pop()
        if chain is None:
            return False
        written = chain.reply(message)
        queue.push(chain.head, written)
        self.call(pcidev.IRQ_QUEUE)
        return True


def _describe(out: bytes) -> str:
    """An access for the log: "MMIO_READ bar 2 0x3e" (or the raw bytes if malformed)."""
    if len(out) < _HEADER_SIZE:
        return f"command {out.hex()}"
    op, bar, _reserved, size, addr = _unpack_header(out)
    name = Op(op).name if op in Op._value2member_map_ else f"op {op}"
    return f"{name} bar {bar} {addr:#x} size {size}"


_HEADER_SIZE = pcidev.HEADER.size
_unpack_header = pcidev.HEADER.unpack_from
_MMIO_READ = int(Op.MMIO_READ)
_MMIO_WRITE = int(Op.MMIO_WRITE)
