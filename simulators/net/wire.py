"""Wires: simulated NICs, of one guest or several, joined into one Ethernet segment.

Each NIC on wire NAME is a port: a unix datagram socket in the abstract
namespace, `@umlharness-UID-wire-NAME-port-PID-N`, bound by the NIC's model.
Together the ports are a learning switch: a port remembers which port each
source MAC came from and sends a unicast frame to that port only; it floods
broadcasts, multicasts and unknown destinations to every port of the wire.
A capture (`sim net capture --wire NAME`) is a monitor socket,
`...-monitor-PID-N`, to which every port sends a copy of each frame it
puts on the wire, so it sees both directions once.

Abstract sockets have no file: they go away with the process that bound
them, a SIGKILLed one included, so a wire leaves nothing behind. Ports are
found in /proc/net/unix; a frame goes only to sockets that processes of
this user hold, and a port takes frames only from senders of this user
(SO_PASSCRED).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import SimulatorError
from .capture import Capture

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
REFRESH_S = 0.5
MAX_FRAME = 65536
_CREDENTIALS = struct.Struct("iII")  # struct ucred: pid, uid, gid
_counter = itertools.count()


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise SimulatorError(
            f"wire={name}: a wire's name is 1 to 32 letters, digits, '.', '_' or '-'"
        )
    return name


def _prefix(name: str, role: str) -> str:
    return f"umlharness-{os.getuid()}-wire-{name}-{role}-"


def _bound(prefix: str) -> list[bytes]:
    """Abstract addresses bound under `prefix`, held by processes of this user."""
    try:
        lines = Path("/proc/net/unix").read_text().splitlines()[1:]
    except OSError:
        return []
    candidates = {}
    for line in lines:
        fields = line.split()
        if len(fields) >= 8 and fields[7].startswith("@" + prefix):
            candidates[fields[6]] = b"\0" + fields[7][1:].encode()
    if not candidates.keys() <= _owners.keys():
        # A socket not seen before: who holds it (a scan of /proc, so only then).
        mine = _own_socket_inodes()
        _owners.update({inode: inode in mine for inode in candidates})
    return [address for inode, address in candidates.items() if _owners[inode]]


#: Socket inode -> whether a process of this user holds it (inodes are not reused
#: while the socket lives, and a dead one is no longer listed).
_owners: dict[str, bool] = {}


def _own_socket_inodes() -> set[str]:
    """Inodes of the sockets this user's processes hold (their fds in /proc)."""
    inodes: set[str] = set()
    uid = os.getuid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            for fd in os.scandir(f"/proc/{entry.name}/fd"):
                target = os.readlink(fd.path)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue  # gone, or not ours to read
    return inodes


class _Endpoint:
    """A datagram socket bound at `@prefix PID-N`, taking frames from this user only."""

    def __init__(self, prefix: str) -> None:
        self.address = f"\0{prefix}{os.getpid()}-{next(_counter)}".encode()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(self.address)
        self._closed = threading.Event()

    def receive(self) -> tuple[bytes, bytes] | None:
        """The next frame from a sender of this user and its address; None once closed."""
        while not self._closed.is_set():
            try:
                data, ancillary, _, sender = self.sock.recvmsg(
                    MAX_FRAME, socket.CMSG_SPACE(_CREDENTIALS.size)
                )
            except OSError:
                return None
            uid = next(
                (
                    _CREDENTIALS.unpack(cdata[: _CREDENTIALS.size])[1]
                    for level, kind, cdata in ancillary
                    if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS
                ),
                None,
            )
            if uid == os.getuid() and data:
                return data, sender if isinstance(sender, bytes) else sender.encode()
        return None

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class WirePort:
    """One NIC's port on wire `name`: `deliver(frame)` puts a frame from the wire into
    the NIC; `send(frame)` puts one the NIC transmits onto the wire."""

    def __init__(self, name: str, deliver: Callable[[bytes], object]) -> None:
        self.name = check_name(name)
        self._ports = _prefix(name, "port")
        self._monitors = _prefix(name, "monitor")
        self._endpoint = _Endpoint(self._ports)
        self._deliver = deliver
        self._table: dict[bytes, bytes] = {}  # source MAC -> the port it came from
        self._peers: list[bytes] = []
        self._watchers: list[bytes] = []
        self._refreshed = -REFRESH_S
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name=f"wire {name}", daemon=True)
        self._thread.start()

    def send(self, frame: bytes) -> None:
        self._refresh()
        destination = self._table.get(frame[:6]) if not frame[0] & 1 else None
        targets = [destination] if destination in self._peers else self._peers
        for target in [*targets, *self._watchers]:
            self._sendto(frame, target)

    def _sendto(self, frame: bytes, target: bytes | None) -> None:
        if target is None:
            return
        try:
            self._endpoint.sock.sendto(frame, socket.MSG_DONTWAIT, target)
        except BlockingIOError:
            self.dropped += 1  # the receiver is behind: a switch drops too
        except OSError:
            self._refreshed = -REFRESH_S  # gone: look again next time
            self._table = {mac: port for mac, port in self._table.items() if port != target}

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._refreshed < REFRESH_S:
            return
        self._refreshed = now
        self._peers = [a for a in _bound(self._ports) if a != self._endpoint.address]
        self._watchers = _bound(self._monitors)

    def _run(self) -> None:
        while (received := self._endpoint.receive()) is not None:
            frame, sender = received
            if len(frame) >= 12 and not frame[6] & 1:
                self._table[frame[6:12]] = sender
            self._deliver(frame)

    def close(self) -> None:
        self._endpoint.close()


class WireMonitor:
    """A capture of wire `name` into the pcap file `path`, until closed."""

    def __init__(self, name: str, path: Path) -> None:
        check_name(name)
        self.capture = Capture(path)
        self._endpoint = _Endpoint(_prefix(name, "monitor"))
        self._thread = threading.Thread(target=self._run, name=f"capture {name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (received := self._endpoint.receive()) is not None:
            self.capture.write(received[0])

    def close(self) -> int:
        """Stop; how many frames the file holds."""
        self._endpoint.close()
        self._thread.join(1)
        self.capture.close()
        return self.capture.frames
