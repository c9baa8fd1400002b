"""virtio-i2c (device 34): the I2C adapter the kernel's i2c-virtio drives.

Each request is one I2C message: an out header (the 7-bit address shifted
left by one, flags), the message's bytes (device-readable for a write,
device-writable for a read, none for a zero-length message) and a status
byte. The message goes to the model at its address; an address with no
model NAKs, as an empty bus does. A request flagged FAIL_NEXT that fails
fails the next one of its transfer too.
"""

from __future__ import annotations

import struct
import threading
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from umlharness_shared.handshake import MODEL_ERROR

from ..i2c.model import I2cNak
from ..pci.virtqueue import Chain
from .server import DEFAULT_SPIN, Log, VhostUserServer, stderr_log

DEVICE_ID = 34
F_ZERO_LENGTH_REQUEST = 1 << 0
OUT_HEADER = struct.Struct("<HHI")
FLAG_FAIL_NEXT = 1 << 0
FLAG_M_RD = 1 << 1
MSG_OK = 0
MSG_ERR = 1
REQUEST_QUEUE = 0


class I2cClient(Protocol):
    """A device on the bus, as the adapter reaches it: one call per message."""

    def i2c_write(self, data: bytes) -> None: ...

    def i2c_read(self, length: int) -> bytes: ...


#: How a message is told to the log and the access record: ("w", 0x48, b"\x00").
Message = tuple[str, int, bytes]


class VirtioI2c(VhostUserServer):
    """The adapter serving `clients` (7-bit address -> model) at `path`."""

    device_features = F_ZERO_LENGTH_REQUEST
    queue_count = 1
    kind = "virtio-i2c"

    def __init__(
        self,
        path: Path,
        clients: Mapping[int, I2cClient],
        *,
        lock: threading.RLock | None = None,
        log: Log = stderr_log,
        spin: float = DEFAULT_SPIN,
        on_message: Callable[[Message, bool], None] | None = None,
    ) -> None:
        super().__init__(path, lock=lock, log=log, spin=spin)
        self.clients = dict(clients)
        self.messages = 0
        self.naks = 0
        self.on_message = on_message
        self._failing = False

    def summary(self) -> str:
        return f"virtio-i2c: {self.messages} messages, {self.naks} NAKed"

    def kick(self, index: int, ack: Callable[[], None] | None) -> bool:
        queue = self.queues[REQUEST_QUEUE]
        if index != REQUEST_QUEUE or not queue.ready:
            return False
        served = False
        while (chain := queue.pop()) is not None:
            queue.push(chain.head, self._serve(chain))
            served = True
        if served:
            self.call(REQUEST_QUEUE)
        return False

    def _serve(self, chain: Chain) -> int:
        """One message; the bytes written back (a read's data, then the status)."""
        self.messages += 1
        if len(chain.out) < OUT_HEADER.size or not chain.inbufs:
            self.log(f"virtio-i2c: malformed request of {len(chain.out)} bytes")
            return chain.reply(bytes([MSG_ERR]).rjust(chain.in_size, b"\0"))
        raw_address, _padding, flags = OUT_HEADER.unpack_from(chain.out)
        address = raw_address >> 1
        reading = bool(flags & FLAG_M_RD)
        length = chain.in_size - 1 if reading else len(chain.out) - OUT_HEADER.size
        data = b""
        ok = False
        if not self._failing:
            data, ok = self._transfer(address, reading, length, chain.out[OUT_HEADER.size :])
        self._failing = not ok and bool(flags & FLAG_FAIL_NEXT)
        if not ok:
            self.naks += 1
        if reading:
            return chain.reply(
                data.ljust(length, b"\xff")[:length] + bytes([MSG_OK if ok else MSG_ERR])
            )
        return chain.reply(bytes([MSG_OK if ok else MSG_ERR]))

    def _transfer(
        self, address: int, reading: bool, length: int, written: bytes
    ) -> tuple[bytes, bool]:
        """(the bytes read, whether the client ACKed)."""
        client = self.clients.get(address)
        if client is None:
            return b"", False  # nobody at this address: no ACK, as on a real bus
        kind = "r" if reading else "w"
        try:
            if reading:
                data = client.i2c_read(length)
            else:
                client.i2c_write(written)
                data = written
        except I2cNak as refusal:
            # A device that is there refusing its driver is the driver's (or the
            # model's) bug, unlike an empty address: it fails the run too.
            self.log(
                f"{MODEL_ERROR} I2C device {address:#04x} ({type(client).__name__}) NAKed "
                f"a {length}-byte {_WHAT[kind]}: {refusal}"
            )
            if self.on_message is not None:
                self.on_message((kind, address, b""), False)
            return b"", False
        except Exception as error:  # a bug in a model fails the run (the harness reads this)
            self.log(
                f"{MODEL_ERROR} I2C device {address:#04x} ({type(client).__name__}), "
                f"a {length}-byte {_WHAT[kind]}: {type(error).__name__}: {error}\n"
                f"{traceback.format_exc()}"
            )
            return b"", False
        if self.on_message is not None:
            self.on_message((kind, address, bytes(data)), True)
        return bytes(data), True


_WHAT = {"r": "read", "w": "write"}
