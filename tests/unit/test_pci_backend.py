"""The backend's message handling, driven as UML drives it, with a sparse guest memory."""

from __future__ import annotations

import os
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.pci import pcidev
from simulators.pci import vhost_user as vu
from simulators.pci.backend import RECLAIM_EVERY, Backend
from simulators.pci.models import make_model
from simulators.pcitest.model import PciTest
from simulators.pcitest.regs import ID_VALUE

from .vhost_frontend import Frontend as VhostFrontend


class Frontend(VhostFrontend):
    """UML's side of a PCI device: its accesses over the command queue."""

    def mmio_read(self, bar: int, addr: int, size: int) -> bytes:
        _, (buf,) = self.rings[0].add(
            [pcidev.HEADER.pack(pcidev.Op.MMIO_READ, bar, 0, size, addr)], [size]
        )
        self.kick(0)
        return self.view.read(buf, size)

    def mmio_write(self, bar: int, addr: int, data: bytes) -> None:
        self.rings[0].add(
            [pcidev.HEADER.pack(pcidev.Op.MMIO_WRITE, bar, 0, len(data), addr) + data]
        )
        self.kick(0)

    def cfg_write(self, addr: int, data: bytes) -> None:
        raw = pcidev.HEADER.pack(pcidev.Op.CFG_WRITE, 0, 0, len(data), addr) + data.ljust(8, b"\0")
        self.rings[0].add([raw])
        self.kick(0)


@pytest.fixture
def frontend(tmp_path: Path) -> Iterator[tuple[Frontend, PciTest]]:
    model = make_model("pcitest", {"irq": "msi"})
    assert isinstance(model, PciTest)
    backend = Backend(model, tmp_path / "dev.sock")
    front = Frontend(backend)
    yield front, model
    front.close()
    backend.close()


def test_a_read_is_answered_before_its_kick_is_acked(frontend: tuple[Frontend, PciTest]) -> None:
    front, _ = frontend
    assert front.mmio_read(0, 0, 4) == struct.pack("<I", ID_VALUE)
    assert front.rings[0].used_idx() == 1
    assert front.backend.accesses == 1


def test_writes_are_applied_before_the_ack_and_a_lone_read_is_acked_at_once(
    frontend: tuple[Frontend, PciTest],
) -> None:
    front, model = frontend
    acked_when: dict[str, bool] = {}

    def ack_sent() -> bool:
        try:
            return bool(front.conn.recv(64, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except BlockingIOError:
            return False

    def on_write(old: int, written: int, mask: int) -> None:
        acked_when["write"] = ack_sent()

    def on_read() -> None:
        acked_when["read"] = ack_sent()

    model.bar.regs.on_write("SCRATCH32", on_write)
    model.bar.regs.on_read("SCRATCH32", on_read)
    front.mmio_write(0, 0x0C, struct.pack("<I", 7))
    assert front.mmio_read(0, 0x0C, 4) == struct.pack("<I", 7)
    # The write counts as done when UML gets its ACK; the read, when its answer is
    # in the used ring, which UML polls from the moment it has the ACK.
    assert acked_when == {"write": False, "read": True}


def test_every_posted_write_lands(frontend: tuple[Frontend, PciTest]) -> None:
    front, model = frontend
    for value in range(1, 101):
        front.mmio_write(0, 0x18, struct.pack("<I", value))
    assert model.accumulated() == (100, 5050)
    assert front.mmio_read(0, 0x1C, 4) == struct.pack("<I", 100)
    calls = front.slave_messages()
    # UML frees posted writes only in its cmd-queue callback: call it now and then.
    assert calls.count((vu.SlaveRequest.VRING_CALL, 0)) == 100 // RECLAIM_EVERY


def test_interrupts_use_lent_buffers_or_wait_for_them(frontend: tuple[Frontend, PciTest]) -> None:
    front, model = frontend
    assert not model.raise_vector(0)  # MSI not enabled yet: dropped
    front.cfg_write(0x48, struct.pack("<H", 0x4321))  # MSI data (32-bit MSI: after the address)
    front.cfg_write(0x42, struct.pack("<H", 1))  # MSI enable
    assert model.raise_vector(0)  # no buffer lent yet: queued
    assert front.slave_messages() == []
    _, (buf,) = front.rings[1].add([], [20])
    front.kick(1)
    assert front.view.read(buf, 18) == pcidev.msi_message(0x4321, msix=False)
    assert front.slave_messages() == [(vu.SlaveRequest.VRING_CALL, 1)]


def test_a_full_slave_channel_never_blocks_the_backend(
    frontend: tuple[Frontend, PciTest],
) -> None:
    """UML may be waiting for an access this backend answers, not reading calls: a
    blocking write there had deadlocked a storm of interrupts."""
    front, model = frontend
    front.cfg_write(0x48, struct.pack("<H", 0x4321))
    front.cfg_write(0x42, struct.pack("<H", 1))
    buffers = 200
    for _ in range(buffers):
        front.rings[1].add([], [20])
    assert front.backend._slave_fd is not None
    with socket.socket(fileno=os.dup(front.backend._slave_fd)) as sending:
        sending.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1024)  # a few calls fill it
    front.kick(1)
    done = threading.Event()

    def storm() -> None:
        for _ in range(buffers):
            model.raise_vector(0)
        done.set()

    threading.Thread(target=storm, daemon=True).start()
    assert done.wait(5), "raising interrupts blocked on the slave channel"
    assert front.backend.calls_coalesced > 0
    assert front.slave_messages()  # the calls that fitted are there


def test_unknown_requests_get_a_failure_ack(frontend: tuple[Frontend, PciTest]) -> None:
    front, _ = frontend
    reply = front.send(vu.Request.SET_LOG_BASE, vu.U64.pack(0))
    assert reply == vu.reply_u64(vu.Message(vu.Request.SET_LOG_BASE, 0), 1)


def test_a_failing_model_answers_all_ones(frontend: tuple[Frontend, PciTest]) -> None:
    front, _ = frontend
    assert front.mmio_read(5, 0, 4) == b"\xff" * 4  # no BAR5
    assert front.mmio_read(0, 0xFFE, 4) == b"\xff" * 4  # past the end of BAR0


def test_socket_paths_with_a_colon_are_refused(tmp_path: Path) -> None:
    from simulators.errors import SimulatorError

    with pytest.raises(SimulatorError, match="has a ':'"):
        Backend(make_model("pcitest", {}), tmp_path / "a:b.sock")


def test_a_model_bug_is_logged_and_the_device_stays(tmp_path: Path) -> None:
    model = make_model("pcitest", {})
    assert isinstance(model, PciTest)
    logged: list[str] = []
    backend = Backend(model, tmp_path / "dev.sock", log=logged.append)
    front = Frontend(backend)
    try:

        def broken() -> None:
            raise ZeroDivisionError("bug in a read hook")

        model.bar.regs.on_read("SCRATCH32", broken)
        assert front.mmio_read(0, 0x0C, 4) == b"\xff" * 4
        assert (
            "model error: MMIO_READ bar 0 0xc size 4: ZeroDivisionError: bug in a read hook"
            in logged[0]
        )
        assert "ZeroDivisionError: bug in a read hook" in logged[0]
        assert front.mmio_read(0, 0, 4) == struct.pack("<I", ID_VALUE)  # still serving
    finally:
        front.close()
        backend.close()
