"""UML's side of a vhost-user device, for unit tests: a connection, a slave channel, rings."""

from __future__ import annotations

import os
import socket
import struct

from simulators.pci import vhost_user as vu
from simulators.pci.guest_memory import GuestMemory
from simulators.pci.vhost_user import MemRegion
from simulators.virtio.server import VhostUserServer

from .pci_memory import GUEST_ADDR, SIZE, DriverRing


class Frontend:
    """UML's side: a connection to the server, a slave channel and a ring per queue."""

    def __init__(self, backend: VhostUserServer, features: int = int(vu.FEATURES)) -> None:
        self.backend = backend
        self.conn, self.peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.slave, slave_peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.slave.setblocking(False)
        # UML's physical memory: the backend maps it from the fd it is sent,
        # the test reads and writes it through its own mapping.
        self.memory_fd = os.memfd_create("physmem")
        os.ftruncate(self.memory_fd, GUEST_ADDR + SIZE)
        region = MemRegion(GUEST_ADDR, SIZE, GUEST_ADDR, GUEST_ADDR)
        self.view = GuestMemory([region], [os.dup(self.memory_fd)])
        self.rings = [DriverRing(self.view, i) for i in range(len(backend.queues))]
        self.setup(slave_peer.detach(), features)

    def send(
        self, request: int, payload: bytes = b"", fds: tuple[int, ...] = (), ack: bool = True
    ) -> bytes:
        flags = vu.VERSION | (vu.FLAG_NEED_REPLY if ack else 0)
        message = vu.Message(request, flags, payload, list(fds))
        self.backend.handle(self.peer, message)
        self.peer.setblocking(False)
        try:
            return self.conn.recv(64)
        except BlockingIOError:
            return b""
        finally:
            self.peer.setblocking(True)

    def setup(self, slave_fd: int, features: int) -> None:
        assert self.send(vu.Request.GET_FEATURES, ack=False)[12:] == vu.U64.pack(features)
        self.send(vu.Request.SET_PROTOCOL_FEATURES, vu.U64.pack(int(vu.PROTOCOL_FEATURES)))
        self.send(vu.Request.SET_SLAVE_REQ_FD, fds=(slave_fd,))
        table = vu.MEM_TABLE_HEAD.pack(1, 0) + vu.MEM_REGION.pack(
            GUEST_ADDR, SIZE, GUEST_ADDR, GUEST_ADDR
        )
        self.send(vu.Request.SET_MEM_TABLE, table.ljust(72, b"\0"), fds=(self.memory_fd,))
        for ring in self.rings:
            index = ring.addr.index
            self.send(vu.Request.SET_VRING_NUM, vu.VRING_STATE.pack(index, 256))
            self.send(vu.Request.SET_VRING_BASE, vu.VRING_STATE.pack(index, 0))
            a = ring.addr
            self.send(
                vu.Request.SET_VRING_ADDR,
                vu.VRING_ADDR.pack(index, 0, a.desc, a.used, a.avail, ~0 & (2**64 - 1)),
            )
            assert self.send(
                vu.Request.SET_VRING_ENABLE, vu.VRING_STATE.pack(index, 1)
            ) == vu.reply_u64(vu.Message(vu.Request.SET_VRING_ENABLE, 0), 0)

    def kick(self, index: int) -> bytes:
        return self.send(vu.Request.VRING_KICK, vu.VRING_STATE.pack(index, 0))

    def slave_messages(self) -> list[tuple[int, int]]:
        try:
            data = self.slave.recv(4096)
        except BlockingIOError:
            return []
        out = []
        for offset in range(0, len(data), 20):
            request, _flags, _size, index, _ = struct.unpack_from("<IIIII", data, offset)
            out.append((request, index))
        return out

    def close(self) -> None:
        for queue in self.backend.queues:
            queue.detach()
        self.view.close()
        self.conn.close()
        self.peer.close()
        self.slave.close()
