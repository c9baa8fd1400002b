"""The vhost-user protocol as UML's virtio_uml frontend speaks it (see docs/pci.md).

Each message is a 12-byte header, `<III` request/flags/size, then `size`
bytes of payload; file descriptors travel with the header as SCM_RIGHTS.
Everything is little-endian. This module only encodes and decodes; the
server (`backend.py`) decides what to answer.
"""

from __future__ import annotations

import array
import enum
import socket
import struct
import time
from dataclasses import dataclass, field

HEADER = struct.Struct("<III")
U64 = struct.Struct("<Q")
VRING_STATE = struct.Struct("<II")
VRING_ADDR = struct.Struct("<IIQQQQ")
MEM_REGION = struct.Struct("<QQQQ")
MEM_TABLE_HEAD = struct.Struct("<II")

VERSION = 0x1
FLAG_REPLY = 0x4
FLAG_NEED_REPLY = 0x8
MAX_FDS = 8
MAX_PAYLOAD = 4096


class Request(enum.IntEnum):
    """Frontend requests (`enum vhost_user_request`)."""

    GET_FEATURES = 1
    SET_FEATURES = 2
    SET_OWNER = 3
    RESET_OWNER = 4
    SET_MEM_TABLE = 5
    SET_LOG_BASE = 6
    SET_LOG_FD = 7
    SET_VRING_NUM = 8
    SET_VRING_ADDR = 9
    SET_VRING_BASE = 10
    GET_VRING_BASE = 11
    SET_VRING_KICK = 12
    SET_VRING_CALL = 13
    SET_VRING_ERR = 14
    GET_PROTOCOL_FEATURES = 15
    SET_PROTOCOL_FEATURES = 16
    GET_QUEUE_NUM = 17
    SET_VRING_ENABLE = 18
    SET_SLAVE_REQ_FD = 21
    GET_CONFIG = 24
    SET_CONFIG = 25
    VRING_KICK = 35


class SlaveRequest(enum.IntEnum):
    """Backend-to-frontend requests on the slave channel."""

    CONFIG_CHANGE_MSG = 2
    VRING_CALL = 4


class Feature(enum.IntFlag):
    """Virtio feature bits this backend offers (never EVENT_IDX, INDIRECT_DESC, PACKED)."""

    PROTOCOL_FEATURES = 1 << 30
    VERSION_1 = 1 << 32


class ProtocolFeature(enum.IntFlag):
    REPLY_ACK = 1 << 3
    SLAVE_REQ = 1 << 5
    CONFIG = 1 << 9
    INBAND_NOTIFICATIONS = 1 << 14


#: Every access synchronous: UML asks for an ACK on each message and sends
#: kicks in-band, and the backend handles a kick's requests before it ACKs,
#: so no posted write is lost to a full queue. SLAVE_REQ is what makes 6.1
#: allocate the device's interrupt at all (without it the probe fails with
#: "genirq: Flags mismatch irq 0").
PROTOCOL_FEATURES = (
    ProtocolFeature.REPLY_ACK | ProtocolFeature.SLAVE_REQ | ProtocolFeature.INBAND_NOTIFICATIONS
)
FEATURES = Feature.PROTOCOL_FEATURES | Feature.VERSION_1


class ProtocolError(Exception):
    """The frontend sent something this backend cannot make sense of."""


class Disconnected(Exception):
    """The frontend closed the connection (UML exited or unplugged the device)."""


@dataclass(slots=True)
class Message:
    request: int
    flags: int
    payload: bytes = b""
    fds: list[int] = field(default_factory=list)

    @property
    def needs_reply(self) -> bool:
        return bool(self.flags & FLAG_NEED_REPLY)

    @property
    def name(self) -> str:
        try:
            return Request(self.request).name
        except ValueError:
            return f"request {self.request}"

    def u64(self) -> int:
        return int(U64.unpack_from(self._need(U64.size))[0])

    def vring_state(self) -> tuple[int, int]:
        """(index, num) of SET_VRING_NUM/BASE/ENABLE and VRING_KICK."""
        index, num = VRING_STATE.unpack_from(self._need(VRING_STATE.size))
        return int(index), int(num)

    def vring_index(self) -> int:
        """The queue index of SET_VRING_KICK/CALL (a u64 whose low byte is the index)."""
        return self.u64() & 0xFF

    def _need(self, size: int) -> bytes:
        if len(self.payload) < size:
            raise ProtocolError(f"{self.name}: payload of {len(self.payload)} bytes, need {size}")
        return self.payload


@dataclass(frozen=True)
class VringAddr:
    index: int
    flags: int
    desc: int
    used: int
    avail: int
    log: int

    @classmethod
    def decode(cls, payload: bytes) -> VringAddr:
        if len(payload) < VRING_ADDR.size:
            raise ProtocolError(f"SET_VRING_ADDR: payload of {len(payload)} bytes")
        return cls(*VRING_ADDR.unpack_from(payload))


@dataclass(frozen=True)
class MemRegion:
    guest_addr: int
    size: int
    user_addr: int
    mmap_offset: int


def decode_mem_table(payload: bytes) -> list[MemRegion]:
    if len(payload) < MEM_TABLE_HEAD.size:
        raise ProtocolError(f"SET_MEM_TABLE: payload of {len(payload)} bytes")
    count, _pad = MEM_TABLE_HEAD.unpack_from(payload)
    if len(payload) < MEM_TABLE_HEAD.size + count * MEM_REGION.size:
        raise ProtocolError(f"SET_MEM_TABLE: {count} regions in {len(payload)} bytes")
    return [
        MemRegion(*MEM_REGION.unpack_from(payload, MEM_TABLE_HEAD.size + i * MEM_REGION.size))
        for i in range(count)
    ]


def encode(request: int, payload: bytes = b"", flags: int = VERSION) -> bytes:
    return HEADER.pack(request, flags, len(payload)) + payload


#: The ACK of an in-band kick, always the same bytes.
KICK_ACK = encode(Request.VRING_KICK, U64.pack(0), VERSION | FLAG_REPLY)


def reply(message: Message, payload: bytes) -> bytes:
    """The reply to `message`: flags exactly REPLY|VERSION (UML rejects anything else)."""
    return encode(message.request, payload, VERSION | FLAG_REPLY)


def reply_u64(message: Message, value: int) -> bytes:
    return reply(message, U64.pack(value))


def vring_call(index: int) -> bytes:
    """An in-band "used buffers on queue `index`" notification, sent on the slave channel.

    NEED_REPLY stays clear: UML answers from its interrupt handler only, and
    waiting for that while UML waits for one of our ACKs would deadlock.
    """
    return encode(SlaveRequest.VRING_CALL, VRING_STATE.pack(index, 0))


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(size)
        if not chunk:
            raise Disconnected("the frontend closed the connection")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class MessageReader:
    """Messages from the frontend, read with one recvmsg(2) each where possible.

    A stream socket may hold more than one message (the frontend does not
    wait between messages that need no reply), so what comes after the
    current message is kept for the next call. File descriptors go with
    the message whose bytes they arrived with.
    """

    def __init__(self, sock: socket.socket, spin: float = 0.0) -> None:
        self._sock = sock
        self.spin = spin
        self._buffer = bytearray()
        self._fds: list[int] = []
        self._ancillary = socket.CMSG_SPACE(MAX_FDS * array.array("i").itemsize)

    def read(self) -> Message:
        buffer = self._buffer
        while True:
            if len(buffer) >= HEADER.size:
                request, flags, size = HEADER.unpack_from(buffer)
                if size > MAX_PAYLOAD:
                    raise ProtocolError(f"request {request}: payload of {size} bytes")
                end = HEADER.size + size
                if len(buffer) >= end:
                    payload = bytes(buffer[HEADER.size : end])
                    del buffer[:end]
                    fds, self._fds = self._fds, []
                    return Message(request, flags, payload, fds)
            data, ancdata = self._receive()
            if not data:
                raise Disconnected("the frontend closed the connection")
            for level, kind, cmsg in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    received = array.array("i")
                    received.frombytes(cmsg[: len(cmsg) - len(cmsg) % received.itemsize])
                    self._fds.extend(received)
            buffer += data

    def _receive(self) -> tuple[bytes, list[tuple[int, int, bytes]]]:
        """The next bytes: polled for `spin` seconds first, then waited for.

        A driver accessing its device sends the next request within
        microseconds of the last answer; catching it without going to sleep
        saves a wake-up (several microseconds) on every access.
        """
        sock = self._sock
        deadline = time.perf_counter() + self.spin
        while True:
            try:
                data, ancdata, _flags, _addr = sock.recvmsg(4096, self._ancillary, _DONTWAIT)
                return data, ancdata
            except BlockingIOError:
                if time.perf_counter() >= deadline:
                    break
        data, ancdata, _flags, _addr = sock.recvmsg(4096, self._ancillary)
        return data, ancdata


_DONTWAIT = socket.MSG_DONTWAIT


def read_message(sock: socket.socket) -> Message:
    """One message from the frontend, with the file descriptors that came with it."""
    fds = array.array("i")
    data, ancdata, _flags, _addr = sock.recvmsg(
        HEADER.size, socket.CMSG_LEN(MAX_FDS * fds.itemsize)
    )
    if not data:
        raise Disconnected("the frontend closed the connection")
    for level, kind, cmsg in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(cmsg[: len(cmsg) - len(cmsg) % fds.itemsize])
    if len(data) < HEADER.size:
        data += _recv_exactly(sock, HEADER.size - len(data))
    request, flags, size = HEADER.unpack(data)
    if size > MAX_PAYLOAD:
        raise ProtocolError(f"request {request}: payload of {size} bytes")
    payload = _recv_exactly(sock, size) if size else b""
    return Message(request, flags, payload, list(fds))
