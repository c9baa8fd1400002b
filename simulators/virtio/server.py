"""A vhost-user server for one virtio device of UML's virtio_uml (see docs/pci.md).

UML is the client: it connects once, at boot, to a socket that must already
be listening. The server negotiates REPLY_ACK, SLAVE_REQ and in-band
notifications, so every message UML sends waits for an ACK, and kicks come
in-band; used buffers are signalled with VRING_CALLs on the slave channel.
What the device does with its queues is a subclass's: `kick` handles what
the driver queued, `config` is the device's config space.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from umlharness_shared.sockets import check_socket_path

from ..closing import Closing
from ..errors import SimulatorError
from ..pci.guest_memory import GuestMemory
from ..pci.vhost_user import (
    FEATURES,
    KICK_ACK,
    PROTOCOL_FEATURES,
    Disconnected,
    Message,
    MessageReader,
    ProtocolError,
    ProtocolFeature,
    Request,
    VringAddr,
    decode_mem_table,
    reply,
    reply_u64,
    vring_call,
)
from ..pci.virtqueue import SplitVirtqueue

#: Seconds to poll for the frontend's next message before sleeping: a
#: driver's accesses come microseconds apart, and not going to sleep between
#: them takes a wake-up off each (python3 -m benchmarks pci: 37 -> 28 us per
#: MMIO read). An idle guest costs nothing: the server sleeps after this.
DEFAULT_SPIN = 200e-6
_GET_REQUESTS = frozenset(
    {
        Request.GET_FEATURES,
        Request.GET_PROTOCOL_FEATURES,
        Request.GET_VRING_BASE,
        Request.GET_CONFIG,
    }
)
_TAKES_FDS = frozenset(
    {
        Request.SET_MEM_TABLE,
        Request.SET_SLAVE_REQ_FD,
        Request.SET_VRING_KICK,
        Request.SET_VRING_CALL,
        Request.SET_VRING_ERR,
    }
)
#: GET_CONFIG's payload head: offset, size, flags.
_CONFIG_HEAD = 12
Log = Callable[[str], None]


def stderr_log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _shut(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)


class VhostUserServer(Closing):
    """Listens at `path` and serves one virtio device to the frontend that connects.

    Subclasses set `device_features` (virtio feature bits of the device type)
    and `queue_count`, and implement `kick`; a device with a config space
    overrides `config`. Every queue operation happens holding `lock`, which
    a device shares with whatever else touches its queues (a model's thread).
    """

    #: The device type's own feature bits, offered beside VERSION_1.
    device_features = 0
    queue_count = 2
    #: Named in errors and logs: "virt-pci", "virtio-i2c"...
    kind = "virtio"

    def __init__(
        self,
        path: Path,
        *,
        lock: threading.RLock | None = None,
        log: Log = stderr_log,
        spin: float = DEFAULT_SPIN,
    ) -> None:
        check_socket_path(path, "vhost-user socket", SimulatorError)
        if b":" in os.fsencode(path):
            raise SimulatorError(
                f"vhost-user socket path {path} has a ':' "
                "(virtio_uml.device= ends the path at the first ':')"
            )
        self.path = path
        self.lock = lock if lock is not None else threading.RLock()
        self.log = log
        self.spin = spin
        self.queues = [SplitVirtqueue(index) for index in range(self.queue_count)]
        self.unplugged = False
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self._listener.bind(str(path))
        self._listener.listen(1)
        self._conn: socket.socket | None = None
        self._slave_fd: int | None = None
        self.memory: GuestMemory | None = None
        self._features = 0
        self._protocol_features = 0
        #: Calls not written because the slave channel was full (see call).
        self.calls_coalesced = 0

    # --- what a device type decides ------------------------------------------------

    def kick(self, index: int, ack: Callable[[], None] | None) -> bool:
        """Handle what the driver queued on queue `index` (holding `lock`).

        `ack`, if given, sends the kick's ACK; return whether it was sent (the
        server sends it after this returns otherwise)."""
        raise NotImplementedError

    def config(self) -> bytes:
        """The device's config space (VHOST_USER_GET_CONFIG); none by default."""
        return b""

    def memory_changed(self, memory: GuestMemory | None) -> None:
        """The driver's memory was mapped (or unmapped, None): a device that does DMA keeps it."""

    @property
    def protocol_features(self) -> int:
        own = int(PROTOCOL_FEATURES)
        return own | int(ProtocolFeature.CONFIG) if self.config() else own

    # --- the connection -------------------------------------------------------------

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
            self.log(f"frontend disconnected: {self.summary()}")

    def summary(self) -> str:
        """What the device did, for the log line at disconnection."""
        return f"{self.kind} at {self.path.name}"

    def handle(self, conn: socket.socket, message: Message) -> None:
        request = message.request
        if request == Request.VRING_KICK:
            index = message.payload[0] if message.payload else -1
            acked = not message.needs_reply
            with self.lock:
                acked = self.kick(index, None if acked else lambda: conn.sendall(KICK_ACK))
            if not acked:
                conn.sendall(KICK_ACK)
            return
        status = 0
        try:
            answer = self._configure(message)
        except ProtocolError as error:
            self.log(f"{message.name}: {error}")
            answer, status = None, 1
        if isinstance(answer, bytes):
            conn.sendall(reply(message, answer))
        elif answer is not None:
            conn.sendall(reply_u64(message, answer))
        elif message.needs_reply and request not in _GET_REQUESTS:
            conn.sendall(reply_u64(message, status))

    def close(self) -> None:
        for queue in self.queues:
            queue.detach()
        if self.memory is not None:
            self.memory_changed(None)
            self.memory.close()
            self.memory = None
        if self._slave_fd is not None:
            os.close(self._slave_fd)
            self._slave_fd = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._listener.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def unplug(self) -> None:
        """Pull the device out: the connection to UML closes, which removes the
        device from the guest (its driver's remove runs) and ends `serve`."""
        self.log("unplugged: closing the connection to UML")
        self.unplugged = True
        conn = self._conn
        if conn is not None:
            # A moment later: the caller (a control client) gets its answer first,
            # before the server, done serving, exits.
            closing = threading.Timer(0.05, _shut, (conn,))
            closing.daemon = True
            closing.start()

    # --- setup messages ---------------------------------------------------------------

    def _configure(self, message: Message) -> int | bytes | None:
        """Apply a setup message; what to answer a GET_* with, else None."""
        request = message.request
        for fd in message.fds if request not in _TAKES_FDS else ():
            os.close(fd)
        if request == Request.GET_FEATURES:
            return int(FEATURES) | self.device_features
        if request == Request.SET_FEATURES:
            self._features = message.u64()
        elif request == Request.GET_PROTOCOL_FEATURES:
            return self.protocol_features
        elif request == Request.SET_PROTOCOL_FEATURES:
            self._protocol_features = message.u64()
        elif request == Request.GET_CONFIG:
            return self._get_config(message.payload)
        elif request == Request.SET_SLAVE_REQ_FD:
            self._take_slave_fd(message.fds)
        elif request == Request.SET_MEM_TABLE:
            self._set_memory(message)
        elif request == Request.SET_VRING_NUM:
            index, num = message.vring_state()
            self.queue(index).set_num(num)
        elif request == Request.SET_VRING_BASE:
            index, base = message.vring_state()
            self.queue(index).set_base(base)
        elif request == Request.SET_VRING_ADDR:
            addr = VringAddr.decode(message.payload)
            if self.memory is None:
                raise ProtocolError("SET_VRING_ADDR before SET_MEM_TABLE")
            with self.lock:
                self.queue(addr.index).set_addr(self.memory, addr)
        elif request == Request.SET_VRING_ENABLE:
            index, enable = message.vring_state()
            with self.lock:
                self.queue(index).enabled = bool(enable)
                if enable:
                    self.kick(index, None)
        elif request == Request.GET_VRING_BASE:
            index, _ = message.vring_state()
            return self.queue(index).last_avail
        elif request in (Request.SET_VRING_KICK, Request.SET_VRING_CALL, Request.SET_VRING_ERR):
            # In-band notifications are negotiated, so these carry no fd we use.
            for fd in message.fds:
                os.close(fd)
        elif request not in (Request.SET_OWNER, Request.RESET_OWNER):
            raise ProtocolError("not supported by this backend")
        return None

    def _get_config(self, payload: bytes) -> bytes:
        if len(payload) < _CONFIG_HEAD:
            raise ProtocolError(f"GET_CONFIG: payload of {len(payload)} bytes")
        offset = int.from_bytes(payload[0:4], "little")
        size = int.from_bytes(payload[4:8], "little")
        space = self.config()
        data = space[offset : offset + size].ljust(size, b"\0")
        # The frontend checks that the reply is exactly as long as its request.
        return payload[:_CONFIG_HEAD] + data

    def _take_slave_fd(self, fds: list[int]) -> None:
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            raise ProtocolError(f"SET_SLAVE_REQ_FD with {len(fds)} fds")
        if self._slave_fd is not None:
            os.close(self._slave_fd)
        self._slave_fd = fds[0]
        # A call written while UML is not reading (it may be waiting for an
        # access this process answers) must not block: see call.
        os.set_blocking(self._slave_fd, False)

    def _set_memory(self, message: Message) -> None:
        regions = decode_mem_table(message.payload)
        memory = GuestMemory(regions, message.fds)
        with self.lock:
            for queue in self.queues:
                queue.detach()
            if self.memory is not None:
                self.memory.close()
            self.memory = memory
            self.memory_changed(memory)

    def queue(self, index: int) -> SplitVirtqueue:
        if not 0 <= index < len(self.queues):
            raise ProtocolError(f"queue {index}: {self.kind} has {len(self.queues)} queues")
        return self.queues[index]

    def call(self, index: int) -> None:
        """Tell the driver queue `index` has used buffers (a VRING_CALL on the slave channel)."""
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

    @property
    def connected(self) -> bool:
        return self._slave_fd is not None
