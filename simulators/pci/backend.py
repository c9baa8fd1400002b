"""A vhost-user backend that serves one PCI function to UML's virt-pci (see docs/pci.md).

UML is the client: it connects once, at boot, to a socket that must already
be listening. The backend negotiates REPLY_ACK, SLAVE_REQ and in-band
notifications, so every message UML sends waits for an ACK, and kicks come
in-band. A kick's requests are all handled before its ACK goes back, which
makes every config and MMIO access synchronous: a read's answer is in the
used ring when UML starts polling for it, and no posted write can be lost
to a full queue.

Queue 0 carries the driver's accesses in order; queue 1 holds buffers UML
lends for interrupts, which go out on the slave channel as VRING_CALLs.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import os
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

from umlharness_shared.handshake import MODEL_ERROR
from umlharness_shared.sockets import check_socket_path

from ..closing import Closing
from ..errors import SimulatorError
from . import pcidev
from .bars import RegisterBar
from .function import PciFunction
from .guest_memory import GuestMemory
from .pcidev import Op
from .trace import DMA_READ, TraceWriter
from .vhost_user import (
    FEATURES,
    KICK_ACK,
    PROTOCOL_FEATURES,
    Disconnected,
    Message,
    MessageReader,
    ProtocolError,
    Request,
    VringAddr,
    decode_mem_table,
    reply_u64,
    vring_call,
)
from .virtqueue import Chain, SplitVirtqueue

#: Seconds to poll for the frontend's next message before sleeping: a
#: driver's accesses come microseconds apart, and not going to sleep between
#: them takes a wake-up off each (python3 -m benchmarks pci: 37 -> 28 us per
#: MMIO read). An idle guest costs nothing: the backend sleeps after this.
DEFAULT_SPIN = 200e-6
#: Posted writes UML may have outstanding before we tell it to reclaim them;
#: well under the 256-entry queue, and rare enough to cost little.
RECLAIM_EVERY = 32
_GET_REQUESTS = frozenset(
    {Request.GET_FEATURES, Request.GET_PROTOCOL_FEATURES, Request.GET_VRING_BASE}
)
Log = Callable[[str], None]
#: Strict mode logs this many distinct accesses outside the register map at most.
MAX_UNMAPPED_REPORTS = 20


def _shut(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Backend(Closing):
    """Listens at `path` and serves `function` to the one frontend that connects."""

    def __init__(
        self,
        function: PciFunction,
        path: Path,
        *,
        trace: TraceWriter | None = None,
        log: Log = _stderr,
        spin: float = DEFAULT_SPIN,
        strict: bool = False,
    ) -> None:
        check_socket_path(path, "vhost-user socket", SimulatorError)
        if b":" in os.fsencode(path):
            raise SimulatorError(
                f"vhost-user socket path {path} has a ':' "
                "(virtio_uml.device= ends the path at the first ':')"
            )
        self.function = function
        self.path = path
        self.trace = trace
        self.log = log
        self.spin = spin
        self.queues = [SplitVirtqueue(pcidev.CMD_QUEUE), SplitVirtqueue(pcidev.IRQ_QUEUE)]
        self.accesses = 0
        self.unplugged = False
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self._listener.bind(str(path))
        self._listener.listen(1)
        self._conn: socket.socket | None = None
        self._slave_fd: int | None = None
        self._memory: GuestMemory | None = None
        self._pending_irqs: collections.deque[bytes] = collections.deque()
        self._unreclaimed = 0
        #: Calls not written because the slave channel was full (see _call).
        self.calls_coalesced = 0
        self._features = 0
        self._protocol_features = 0
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

    # --- the connection -------------------------------------------------------

    def accept(self, timeout: float | None = None) -> None:
        """Wait for UML to connect (it does so once, while it boots)."""
        self._listener.settimeout(timeout)
        try:
            conn, _ = self._listener.accept()
        except TimeoutError:
            raise SimulatorError(
                f"no frontend connected to {self.path} within {timeout:g}s"
            ) from None
        conn.settimeout(None)
        self._conn = conn

    def serve(self) -> None:
        """Handle messages until the frontend disconnects."""
        if self._conn is None:
            raise SimulatorError("serve() before accept()")
        conn = self._conn
        reader = MessageReader(conn, spin=self.spin)
        try:
            while True:
                self.handle(conn, reader.read())
        except (Disconnected, ConnectionResetError, BrokenPipeError):
            self.log(f"frontend disconnected after {self.accesses} accesses")

    def handle(self, conn: socket.socket, message: Message) -> None:
        request = message.request
        if request == Request.VRING_KICK:
            index = message.payload[0] if message.payload else -1
            acked = not message.needs_reply
            with self.function.lock:
                acked = self._kick(index, None if acked else lambda: conn.sendall(KICK_ACK))
            if not acked:
                conn.sendall(KICK_ACK)
            return
        status = 0
        try:
            answer = self._configure(message)
        except ProtocolError as error:
            self.log(f"{message.name}: {error}")
            answer, status = None, 1
        if answer is not None:
            conn.sendall(reply_u64(message, answer))
        elif message.needs_reply and request not in _GET_REQUESTS:
            conn.sendall(reply_u64(message, status))

    def close(self) -> None:
        for queue in self.queues:
            queue.detach()
        if self._memory is not None:
            self.function.dma = None
            self._memory.close()
            self._memory = None
        if self._slave_fd is not None:
            os.close(self._slave_fd)
            self._slave_fd = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._listener.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        if self.trace is not None:
            self.trace.close()

    # --- setup messages ---------------------------------------------------------

    def _configure(self, message: Message) -> int | None:
        """Apply a setup message; the u64 to answer a GET_* with, else None."""
        request = message.request
        for fd in message.fds if request not in _TAKES_FDS else ():
            os.close(fd)
        if request == Request.GET_FEATURES:
            return int(FEATURES)
        if request == Request.SET_FEATURES:
            self._features = message.u64()
        elif request == Request.GET_PROTOCOL_FEATURES:
            return int(PROTOCOL_FEATURES)
        elif request == Request.SET_PROTOCOL_FEATURES:
            self._protocol_features = message.u64()
        elif request == Request.SET_SLAVE_REQ_FD:
            self._take_slave_fd(message.fds)
        elif request == Request.SET_MEM_TABLE:
            self._set_memory(message)
        elif request == Request.SET_VRING_NUM:
            index, num = message.vring_state()
            self._queue(index).set_num(num)
        elif request == Request.SET_VRING_BASE:
            index, base = message.vring_state()
            self._queue(index).set_base(base)
        elif request == Request.SET_VRING_ADDR:
            addr = VringAddr.decode(message.payload)
            if self._memory is None:
                raise ProtocolError("SET_VRING_ADDR before SET_MEM_TABLE")
            with self.function.lock:
                self._queue(addr.index).set_addr(self._memory, addr)
        elif request == Request.SET_VRING_ENABLE:
            index, enable = message.vring_state()
            with self.function.lock:
                self._queue(index).enabled = bool(enable)
                if enable:
                    self._kick(index)
        elif request == Request.GET_VRING_BASE:
            index, _ = message.vring_state()
            return self._queue(index).last_avail
        elif request in (Request.SET_VRING_KICK, Request.SET_VRING_CALL, Request.SET_VRING_ERR):
            # In-band notifications are negotiated, so these carry no fd we use.
            for fd in message.fds:
                os.close(fd)
        elif request not in (Request.SET_OWNER, Request.RESET_OWNER):
            raise ProtocolError("not supported by this backend")
        return None

    def _take_slave_fd(self, fds: list[int]) -> None:
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            raise ProtocolError(f"SET_SLAVE_REQ_FD with {len(fds)} fds")
        if self._slave_fd is not None:
            os.close(self._slave_fd)
        self._slave_fd = fds[0]
        # A call written while UML is not reading (it may be waiting for an
        # access this process answers) must not block: see _call.
        os.set_blocking(self._slave_fd, False)

    def _set_memory(self, message: Message) -> None:
        regions = decode_mem_table(message.payload)
        memory = GuestMemory(regions, message.fds)
        trace = self.trace
        if trace is not None:
            memory.on_write = lambda addr, data: trace.dma(addr, data, self.accesses)
            memory.on_read = lambda addr, data: trace.dma(addr, data, self.accesses, DMA_READ)
        with self.function.lock:
            for queue in self.queues:
                queue.detach()
            if self._memory is not None:
                self._memory.close()
            self._memory = memory
            self.function.dma = memory

    def _queue(self, index: int) -> SplitVirtqueue:
        if not 0 <= index < len(self.queues):
            raise ProtocolError(f"queue {index}: virt-pci has queues 0 and 1")
        return self.queues[index]

    # --- traffic ------------------------------------------------------------------

    def _kick(self, index: int, ack: Callable[[], None] | None = None) -> bool:
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
            self._call(pcidev.CMD_QUEUE)
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

    def unplug(self) -> None:
        """Pull the device out: the connection to UML closes, which removes the
        device from the guest (its driver's remove runs) and ends `serve`."""
        self.log("unplugged: closing the connection to UML")
        self.unplugged = True
        conn = self._conn
        if conn is not None:
            # A moment later: the caller (a control client) gets its answer first,
            # before the backend, done serving, exits.
            closing = threading.Timer(0.05, _shut, (conn,))
            closing.daemon = True
            closing.start()

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
        if not queue.ready or self._slave_fd is None:
            return False
        chain = queue.pop()
        if chain is None:
            return False
        written = chain.reply(message)
        queue.push(chain.head, written)
        self._call(pcidev.IRQ_QUEUE)
        return True

    def _call(self, index: int) -> None:
        if self._slave_fd is None:
            return
        try:
            os.write(self._slave_fd, vring_call(index))
        except BlockingIOError:
            # The channel is full of calls UML has yet to read; the first of them
            # makes it look at the whole queue, this buffer included.
            self.calls_coalesced += 1
        except OSError as error:
            self.log(f"slave channel: {error.strerror}")


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
_TAKES_FDS = frozenset(
    {
        Request.SET_MEM_TABLE,
        Request.SET_SLAVE_REQ_FD,
        Request.SET_VRING_KICK,
        Request.SET_VRING_CALL,
        Request.SET_VRING_ERR,
    }
)
