"""Split virtqueues and the virtio_pcidev commands on them, replayed from a real session."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from simulators.pci import pcidev
from simulators.pci.guest_memory import DmaError
from simulators.pci.vhost_user import ProtocolError
from simulators.pci.virtqueue import DESC

from .pci_memory import GUEST_ADDR, DriverRing, guest_memory

RECORDING = Path(__file__).parents[1] / "recordings" / "vhost_user_session.json"


def recorded_commands() -> list[tuple[bytes, int]]:
    commands = json.loads(RECORDING.read_text())["commands"]
    return [(bytes.fromhex(c["out"]), int(c["in_size"])) for c in commands]


def test_chains_come_out_as_queued_and_go_back_used() -> None:
    with guest_memory() as memory:
        ring = DriverRing(memory, 0)
        queue = ring.queue()
        assert queue.pop() is None
        heads = [
            ring.add([out], [size] if size else [])[0] for out, size in recorded_commands()[:50]
        ]
        for (out, size), head in zip(recorded_commands()[:50], heads, strict=True):
            chain = queue.pop()
            assert chain is not None
            assert (chain.head, chain.out, chain.in_size) == (head, out, size)
            queue.push(chain.head, chain.reply(b"\x11" * size))
        assert queue.pop() is None
        assert ring.used_idx() == 50
        assert ring.used_entry(49) == (heads[49], recorded_commands()[49][1])
        queue.detach()


def test_a_lone_chain_with_a_reply_buffer_is_one_the_driver_awaits() -> None:
    with guest_memory() as memory:
        ring = DriverRing(memory, 0)
        queue = ring.queue()
        read = pcidev.HEADER.pack(pcidev.Op.MMIO_READ, 0, 0, 4, 0)
        write = pcidev.HEADER.pack(pcidev.Op.MMIO_WRITE, 0, 0, 4, 0) + bytes(4)
        assert not queue.awaits_only()  # nothing queued
        ring.add([read], [4])
        assert queue.awaits_only()
        ring.add([write])
        assert not queue.awaits_only()  # two queued
        queue.pop()
        assert not queue.awaits_only()  # a posted write
        queue.pop()
        ring.add([write[:16], write[16:]])  # a write UML could not post in one buffer
        assert queue.awaits_only()
        queue.detach()


def test_device_readable_descriptors_are_concatenated() -> None:
    # An MMIO write whose kmalloc failed arrives as header + data in two descriptors.
    with guest_memory() as memory:
        ring = DriverRing(memory, 0)
        queue = ring.queue()
        header = pcidev.HEADER.pack(pcidev.Op.MMIO_WRITE, 2, 0, 4, 0x3E)
        ring.add([header, b"\x20\x00\x00\x00"], [])
        chain = queue.pop()
        assert chain is not None and chain.out == header + b"\x20\x00\x00\x00"
        command = pcidev.decode(chain.out)
        assert (command.op, command.bar, command.addr, command.data) == (
            pcidev.Op.MMIO_WRITE,
            2,
            0x3E,
            b"\x20\x00\x00\x00",
        )
        queue.detach()


def test_indices_wrap_at_65536() -> None:
    with guest_memory() as memory:
        ring = DriverRing(memory, 0, num=8)
        ring.avail_idx = 0xFFFE
        queue = ring.queue()
        queue.set_base(0xFFFE)
        memory.write(ring.used + 2, struct.pack("<H", 0xFFFE))
        for _ in range(4):
            ring.add([b"x" * 16], [4])
        for _ in range(4):
            chain = queue.pop()
            assert chain is not None
            queue.push(chain.head, 4)
        assert queue.last_avail == 2 and ring.used_idx() == 2
        queue.detach()


def test_looping_and_indirect_chains_are_refused() -> None:
    with guest_memory() as memory:
        ring = DriverRing(memory, 0, num=4)
        queue = ring.queue()
        head, _ = ring.add([b"a" * 16, b"b" * 16], [])
        memory.write(ring.desc + DESC.size * (head + 1), DESC.pack(ring.data, 16, 1, head))
        with pytest.raises(ProtocolError, match="loops"):
            queue.pop()
        head, _ = ring.add([b"c" * 16], [])
        memory.write(ring.desc + DESC.size * head, DESC.pack(ring.data, 16, 4, 0))
        with pytest.raises(ProtocolError, match="indirect"):
            queue.pop()
        queue.detach()


def test_queue_sizes_must_be_powers_of_two_up_to_256() -> None:
    with guest_memory() as memory:
        queue = DriverRing(memory, 0).queue()
        for bad in (0, 3, 512):
            with pytest.raises(ProtocolError):
                queue.set_num(bad)
        queue.detach()


def test_dma_outside_guest_memory_is_refused() -> None:
    with guest_memory() as memory:
        memory.write(GUEST_ADDR + 10, b"abc")
        assert memory.read(GUEST_ADDR + 10, 3) == b"abc"
        assert memory.array(GUEST_ADDR + 10, 3).tolist() == [97, 98, 99]
        with pytest.raises(DmaError, match="outside guest memory"):
            memory.read(GUEST_ADDR - 1, 2)
        with pytest.raises(DmaError):
            memory.read(0x1000, 4)


def test_recorded_commands_decode() -> None:
    ops = [pcidev.decode(out) for out, _ in recorded_commands()]
    assert ops[0] == pcidev.Command(pcidev.Op.CFG_READ, 0, 4, 0, b"\0" * 0)
    assert {command.op for command in ops} <= {pcidev.Op.CFG_READ, pcidev.Op.CFG_WRITE}
    sizing = [c for c in ops if c.op == pcidev.Op.CFG_WRITE and c.data == b"\xff\xff\xff\xff"]
    assert [c.addr for c in sizing] == [0x10 + 4 * i for i in range(6)]  # BAR0-5 sized


def test_memset_arrives_as_a_cfg_write_of_an_odd_size() -> None:
    # 6.1's memset_io: op CFG_WRITE, the BAR, size = byte count, one data byte.
    raw = pcidev.HEADER.pack(pcidev.Op.CFG_WRITE, 0, 0, 64, 0x100) + b"\xa5" + bytes(7)
    assert pcidev.decode(raw) == pcidev.Command(pcidev.Op.MMIO_MEMSET, 0, 64, 0x100, b"\xa5")
    config_write = pcidev.HEADER.pack(pcidev.Op.CFG_WRITE, 0, 0, 2, 4) + b"\x06\x00" + bytes(6)
    assert pcidev.decode(config_write).op == pcidev.Op.CFG_WRITE


def test_interrupt_messages() -> None:
    assert pcidev.msi_message(65, msix=False) == pcidev.HEADER.pack(7, 0, 0, 2, 0) + b"\x41\x00"
    assert pcidev.msi_message(66, msix=True) == pcidev.HEADER.pack(7, 0, 0, 4, 0) + b"\x42\0\0\0"
    with pytest.raises(ProtocolError):
        pcidev.decode(b"\x09" + bytes(15))
