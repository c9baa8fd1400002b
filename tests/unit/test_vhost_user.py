"""The vhost-user codec against the byte stream UML's frontend sent in a real session."""

from __future__ import annotations

import array
import json
import os
import socket
from pathlib import Path

import pytest

from simulators.pci import vhost_user as vu

RECORDING = Path(__file__).parents[1] / "recordings" / "vhost_user_session.json"


def recorded() -> list[vu.Message]:
    setup = json.loads(RECORDING.read_text())["setup"]
    messages = []
    for entry in setup:
        raw = bytes.fromhex(entry["bytes"])
        request, flags, size = vu.HEADER.unpack_from(raw)
        assert size == len(raw) - vu.HEADER.size
        messages.append(vu.Message(request, flags, raw[vu.HEADER.size :], [-1] * entry["fds"]))
    return messages


def test_the_frontend_sets_up_in_the_documented_order() -> None:
    names = [message.name for message in recorded()]
    assert names == [
        "SET_OWNER",
        "GET_FEATURES",
        "GET_PROTOCOL_FEATURES",
        "SET_PROTOCOL_FEATURES",
        "SET_SLAVE_REQ_FD",
        "SET_FEATURES",
        "SET_MEM_TABLE",
        *["SET_VRING_NUM", "SET_VRING_BASE", "SET_VRING_ADDR"] * 2,
        "SET_VRING_ENABLE",
        "SET_VRING_ENABLE",
        # teardown: queues disabled, then GET_FEATURES as a barrier
        "SET_VRING_ENABLE",
        "SET_VRING_ENABLE",
        "GET_FEATURES",
    ]


def test_acks_are_requested_on_everything_but_gets_once_reply_ack_is_on() -> None:
    messages = recorded()
    protocol = next(m for m in messages if m.request == vu.Request.SET_PROTOCOL_FEATURES)
    assert protocol.flags == vu.VERSION | vu.FLAG_NEED_REPLY
    assert protocol.u64() == int(vu.PROTOCOL_FEATURES) == 0x4028
    after = messages[messages.index(protocol) :]
    for message in after:
        wants_ack = message.request not in (vu.Request.GET_FEATURES,)
        assert message.needs_reply == wants_ack, message.name
    assert all(not m.needs_reply for m in messages[: messages.index(protocol)])


def test_features_acked_are_what_was_offered() -> None:
    features = next(m for m in recorded() if m.request == vu.Request.SET_FEATURES)
    assert features.u64() == int(vu.FEATURES)


def test_mem_table_and_rings_decode() -> None:
    messages = recorded()
    table = next(m for m in messages if m.request == vu.Request.SET_MEM_TABLE)
    assert len(table.payload) == 72 and len(table.fds) == 1
    (region,) = vu.decode_mem_table(table.payload)
    assert region.guest_addr == region.user_addr == region.mmap_offset
    assert region.size > 64 << 20
    rings = [
        vu.VringAddr.decode(m.payload) for m in messages if m.request == vu.Request.SET_VRING_ADDR
    ]
    assert [ring.index for ring in rings] == [0, 1]
    for ring in rings:
        for addr in (ring.desc, ring.avail, ring.used):
            assert region.guest_addr <= addr < region.guest_addr + region.size
        assert ring.log == 2**64 - 1
    assert [m.vring_state() for m in messages if m.request == vu.Request.SET_VRING_NUM] == [
        (0, 256),
        (1, 256),
    ]


def test_replies_carry_exactly_reply_and_version() -> None:
    message = vu.Message(vu.Request.GET_FEATURES, vu.VERSION)
    reply = vu.reply_u64(message, int(vu.FEATURES))
    assert vu.HEADER.unpack_from(reply) == (vu.Request.GET_FEATURES, 0x5, 8)
    assert int.from_bytes(reply[12:], "little") == (1 << 30) | (1 << 32)


def test_vring_call_is_a_slave_request_without_need_reply() -> None:
    assert vu.vring_call(1) == bytes.fromhex("0400000001000000080000000100000000000000")


def test_read_message_takes_fds_and_split_reads() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    read_end, write_end = os.pipe()
    with ours, theirs:
        payload = vu.U64.pack(7)
        header = vu.HEADER.pack(vu.Request.SET_VRING_CALL, 0x9, len(payload))
        theirs.sendmsg(
            [header[:5]],
            [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [write_end]).tobytes())],
        )
        theirs.sendall(header[5:] + payload)
        message = vu.read_message(ours)
        assert message.name == "SET_VRING_CALL" and message.needs_reply
        assert message.vring_index() == 7
        assert len(message.fds) == 1
        os.write(message.fds[0], b"x")
        assert os.read(read_end, 1) == b"x"
        for fd in (*message.fds, read_end, write_end):
            os.close(fd)


def test_a_closed_connection_and_a_huge_payload_are_errors() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours:
        theirs.sendall(vu.HEADER.pack(vu.Request.SET_FEATURES, 1, 1 << 20))
        with pytest.raises(vu.ProtocolError):
            vu.read_message(ours)
        theirs.close()
        with pytest.raises(vu.Disconnected):
            vu.read_message(ours)


def test_short_payloads_are_protocol_errors() -> None:
    with pytest.raises(vu.ProtocolError, match="SET_VRING_NUM"):
        vu.Message(vu.Request.SET_VRING_NUM, 1, b"\0\0\0").vring_state()
    with pytest.raises(vu.ProtocolError):
        vu.decode_mem_table(vu.MEM_TABLE_HEAD.pack(2, 0))
