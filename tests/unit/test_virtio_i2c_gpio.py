"""The virtio-i2c adapter and virtio-gpio controller, driven over vhost-user as UML drives them."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.i2c.model import I2cNak
from simulators.pci import vhost_user as vu
from simulators.virtio import gpio as vg
from simulators.virtio import i2c as vi
from simulators.virtio.gpio import VirtioGpio
from simulators.virtio.i2c import VirtioI2c
from umlharness_shared.handshake import MODEL_ERROR

from .vhost_frontend import Frontend


class Registers:
    """A client with a pointer and 8 byte registers; it logs what it is asked."""

    def __init__(self) -> None:
        self.data = bytearray(range(0x10, 0x18))
        self.pointer = 0
        self.fail: Exception | None = None

    def i2c_write(self, data: bytes) -> None:
        if self.fail is not None:
            raise self.fail
        if data:
            self.pointer = data[0]
            self.data[self.pointer : self.pointer + len(data) - 1] = data[1:]

    def i2c_read(self, length: int) -> bytes:
        if self.fail is not None:
            raise self.fail
        return bytes(self.data[self.pointer : self.pointer + length])


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[tuple[Frontend, Registers, list[str]]]:
    client = Registers()
    logged: list[str] = []
    server = VirtioI2c(tmp_path / "i2c.sock", {0x48: client}, log=logged.append)
    front = Frontend(server, int(vu.FEATURES) | vi.F_ZERO_LENGTH_REQUEST)
    yield front, client, logged
    front.close()
    server.close()


def header(address: int, flags: int = 0) -> bytes:
    return vi.OUT_HEADER.pack(address << 1, 0, flags)


def status_of(front: Frontend, addr: int) -> int:
    return front.view.read(addr, 1)[0]


def test_a_write_then_a_read_reach_the_client_at_the_address(
    bus: tuple[Frontend, Registers, list[str]],
) -> None:
    front, client, _ = bus
    ring = front.rings[0]
    _, (write_status,) = ring.add([header(0x48, vi.FLAG_FAIL_NEXT) + b"\x02\xaa"], [1])
    _, (data, read_status) = ring.add([header(0x48, vi.FLAG_M_RD)], [3, 1])
    front.kick(0)
    assert status_of(front, write_status) == vi.MSG_OK
    assert status_of(front, read_status) == vi.MSG_OK
    assert front.view.read(data, 3) == b"\xaa\x13\x14"
    assert client.data[2] == 0xAA
    assert ring.used_idx() == 2
    assert (vu.SlaveRequest.VRING_CALL, 0) in front.slave_messages()


def test_an_absent_address_naks_and_fails_the_rest_of_its_transfer(
    bus: tuple[Frontend, Registers, list[str]],
) -> None:
    front, client, _ = bus
    ring = front.rings[0]
    _, (first,) = ring.add([header(0x50, vi.FLAG_FAIL_NEXT) + b"\x00"], [1])
    _, (_, second) = ring.add([header(0x48, vi.FLAG_M_RD)], [1, 1])
    _, (third,) = ring.add([header(0x48) + b"\x01\x55"], [1])
    front.kick(0)
    assert status_of(front, first) == vi.MSG_ERR
    assert status_of(front, second) == vi.MSG_ERR  # FAIL_NEXT: not even tried
    assert status_of(front, third) == vi.MSG_OK  # a transfer of its own
    assert client.data[1] == 0x55


def test_a_zero_length_message_is_acknowledged(
    bus: tuple[Frontend, Registers, list[str]],
) -> None:
    front, _, _ = bus
    _, (status,) = front.rings[0].add([header(0x48)], [1])
    front.kick(0)
    assert status_of(front, status) == vi.MSG_OK


def test_a_nak_of_a_device_that_is_there_fails_the_message_and_the_run(
    bus: tuple[Frontend, Registers, list[str]],
) -> None:
    front, client, logged = bus
    client.fail = I2cNak("no register 0x09")
    _, (status,) = front.rings[0].add([header(0x48) + b"\x09"], [1])
    front.kick(0)
    assert status_of(front, status) == vi.MSG_ERR
    errors = [line for line in logged if line.startswith(MODEL_ERROR)]
    assert errors and "0x48" in errors[0] and "NAKed a 1-byte write: no register 0x09" in errors[0]


def test_an_empty_address_naks_without_failing_the_run(
    bus: tuple[Frontend, Registers, list[str]],
) -> None:
    front, _, logged = bus
    _, (status,) = front.rings[0].add([header(0x21)], [1])
    front.kick(0)
    assert status_of(front, status) == vi.MSG_ERR
    assert logged == []


def test_an_exception_in_a_model_is_a_model_error_line(
    bus: tuple[Frontend, Registers, list[str]],
) -> None:
    front, client, logged = bus
    client.fail = ZeroDivisionError("division by zero")
    _, (_, status) = front.rings[0].add([header(0x48, vi.FLAG_M_RD)], [2, 1])
    front.kick(0)
    assert status_of(front, status) == vi.MSG_ERR
    errors = [line for line in logged if line.startswith(MODEL_ERROR)]
    assert errors and "0x48" in errors[0] and "ZeroDivisionError" in errors[0]


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[tuple[Frontend, VirtioGpio]]:
    server = VirtioGpio(tmp_path / "gpio.sock", 8, names=[f"L{i}" for i in range(8)])
    front = Frontend(server, int(vu.FEATURES) | vg.F_IRQ)
    yield front, server
    front.close()
    server.close()


def request(front: Frontend, kind: int, line: int, value: int = 0, size: int = 2) -> bytes:
    _, (reply,) = front.rings[vg.REQUEST_QUEUE].add([vg.REQUEST.pack(kind, line, value)], [size])
    front.kick(vg.REQUEST_QUEUE)
    return front.view.read(reply, size)


def lend(front: Frontend, line: int) -> int:
    _, (status,) = front.rings[vg.EVENT_QUEUE].add([struct.pack("<H", line)], [1])
    front.kick(vg.EVENT_QUEUE)
    return status


def test_the_config_space_gives_the_lines_and_the_names_size(
    controller: tuple[Frontend, VirtioGpio],
) -> None:
    front, _ = controller
    payload = struct.pack("<III", 0, vg.CONFIG.size, 0)
    reply = front.send(vu.Request.GET_CONFIG, payload, ack=False)
    ngpio, names_size = vg.CONFIG.unpack_from(reply, 12 + 12)
    assert (ngpio, names_size) == (8, len(b"L0\0") * 8)
    names = request(front, vg.MSG_GET_NAMES, 0, size=1 + names_size)
    assert names[0] == vg.STATUS_OK and names[1:].split(b"\0")[:8] == [b"L%d" % i for i in range(8)]


def test_the_guest_drives_an_output_and_reads_the_hosts_input(
    controller: tuple[Frontend, VirtioGpio],
) -> None:
    front, server = controller
    assert request(front, vg.MSG_SET_DIRECTION, 2, 1) == bytes([vg.STATUS_OK, 0])
    assert request(front, vg.MSG_SET_VALUE, 2, 1) == bytes([vg.STATUS_OK, 0])
    assert server.get(2) == 1
    assert [(c.line, c.value) for c in server.changes()] == [(2, 1)]
    server.set(5, 1)
    assert request(front, vg.MSG_GET_VALUE, 5) == bytes([vg.STATUS_OK, 1])
    assert request(front, vg.MSG_GET_VALUE, 9)[0] == vg.STATUS_ERR


def test_an_edge_fires_the_lines_interrupt_through_its_lent_buffer(
    controller: tuple[Frontend, VirtioGpio],
) -> None:
    front, server = controller
    request(front, vg.MSG_IRQ_TYPE, 3, vg.IRQ_EDGE_RISING)
    status = lend(front, 3)
    front.slave_messages()
    server.set(3, 0)  # no edge
    assert front.rings[vg.EVENT_QUEUE].used_idx() == 0
    server.set(3, 1)
    assert front.rings[vg.EVENT_QUEUE].used_idx() == 1
    assert status_of(front, status) == vg.IRQ_VALID
    assert (vu.SlaveRequest.VRING_CALL, vg.EVENT_QUEUE) in front.slave_messages()
    assert server.describe(3)["interrupts"] == 1


def test_an_edge_without_a_buffer_is_latched_until_one_is_lent(
    controller: tuple[Frontend, VirtioGpio],
) -> None:
    front, server = controller
    request(front, vg.MSG_IRQ_TYPE, 1, vg.IRQ_EDGE_FALLING)
    server.set(1, 1)
    server.set(1, 0)
    status = lend(front, 1)
    assert status_of(front, status) == vg.IRQ_VALID
    assert lend(front, 1) and front.rings[vg.EVENT_QUEUE].used_idx() == 1  # nothing more due


def test_disabling_the_interrupt_returns_the_buffer_invalid(
    controller: tuple[Frontend, VirtioGpio],
) -> None:
    front, server = controller
    request(front, vg.MSG_IRQ_TYPE, 4, vg.IRQ_EDGE_BOTH)
    status = lend(front, 4)
    request(front, vg.MSG_IRQ_TYPE, 4, vg.IRQ_NONE)
    assert front.rings[vg.EVENT_QUEUE].used_idx() == 1
    assert status_of(front, status) == vg.IRQ_INVALID
    server.set(4, 1)
    assert server.describe(4)["interrupts"] == 0


def test_a_level_interrupt_fires_while_the_level_holds(
    controller: tuple[Frontend, VirtioGpio],
) -> None:
    front, server = controller
    server.set(6, 0)
    request(front, vg.MSG_IRQ_TYPE, 6, vg.IRQ_LEVEL_LOW)
    lend(front, 6)
    lend(front, 6)
    assert front.rings[vg.EVENT_QUEUE].used_idx() == 2
    server.set(6, 1)
    lend(front, 6)
    assert front.rings[vg.EVENT_QUEUE].used_idx() == 2
