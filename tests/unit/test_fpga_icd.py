"""The FPGA ICD: layouts as specified, CRCs as zlib computes them, malformed input refused."""

from __future__ import annotations

import struct
import zlib

import pytest

from simulators.fpga import icd


def offsets(layout: object) -> dict[str, int]:
    result, offset = {}, 0
    for subcon in layout.subcons:  # type: ignore[attr-defined]
        if subcon.name:
            result[subcon.name] = offset
        offset += subcon.sizeof()
    return result


def test_report_header_layout() -> None:
    assert icd.HEADER.sizeof() == icd.HEADER_SIZE == 28
    assert offsets(icd.HEADER) == {
        "magic": 0,
        "version": 4,
        "type": 5,
        "flags": 6,
        "reserved0": 7,
        "sequence": 8,
        "timestamp_ns": 12,
        "payload_len": 20,
        "reserved1": 22,
        "crc32": 24,
    }


def test_command_header_layout() -> None:
    assert icd.COMMAND_HEADER.sizeof() == icd.COMMAND_HEADER_SIZE == 20
    assert offsets(icd.COMMAND_HEADER)["tag"] == 8
    assert offsets(icd.COMMAND_HEADER)["payload_len"] == 12
    assert offsets(icd.COMMAND_HEADER)["crc32"] == icd.COMMAND_CRC_OFFSET == 16


def test_report_bytes_and_crc_match_an_independent_encoding() -> None:
    payload = icd.samples_payload([1, -2, 32767, -32768], channel=3)
    data = icd.build_report(icd.ReportType.SAMPLES, 0xDEADBEEF, payload, timestamp_ns=1 << 40)
    header = struct.pack("<IBBBBIQHHI", 0x46504741, 1, 1, 0, 0, 0xDEADBEEF, 1 << 40, 12, 0, 0)
    crc = zlib.crc32(header + payload)
    assert data == header[:24] + struct.pack("<I", crc) + payload
    assert data[:4] == b"AGPF"  # 0x46504741 little-endian
    assert payload == struct.pack("<BBH4h", 3, 0, 4, 1, -2, 32767, -32768)


@pytest.mark.parametrize(
    ("report_type", "payload", "check"),
    [
        (icd.ReportType.SAMPLES, icd.samples_payload([5, 6]), lambda p: list(p.samples) == [5, 6]),
        (
            icd.ReportType.STATUS,
            icd.status_payload(temperature_mc=-1500, reports_dropped=7),
            lambda p: (p.temperature_mc, p.reports_dropped) == (-1500, 7),
        ),
        (
            icd.ReportType.EVENT,
            icd.event_payload(icd.EventCode.BAD_ARGUMENT, "café"),
            lambda p: (p.code, p.text.decode()) == (3, "café"),
        ),
        (
            icd.ReportType.ECHO,
            icd.echo_payload(42, b"hello"),
            lambda p: (p.tag, p.data) == (42, b"hello"),
        ),
    ],
)
def test_every_report_type_round_trips(report_type: icd.ReportType, payload: bytes, check) -> None:  # type: ignore[no-untyped-def]
    report = icd.parse_report(icd.build_report(report_type, 9, payload) + b"trailing")
    assert report.crc_ok and report.type == report_type and report.sequence == 9
    assert report.size == icd.HEADER_SIZE + len(payload)
    assert check(report.payload)


def test_status_payload_is_32_bytes_and_refuses_unknown_fields() -> None:
    assert len(icd.status_payload()) == 32
    with pytest.raises(icd.IcdError, match="no field"):
        icd.status_payload(voltage=1)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"magic": 0x12345678}, "bad magic"),
        ({"version": 2}, "unsupported version"),
        ({"payload_len": 100}, "runs past"),
    ],
)
def test_malformed_reports_are_refused(override: dict[str, int], message: str) -> None:
    data = icd.build_report(icd.ReportType.ECHO, 1, icd.echo_payload(1, b"x"), **override)
    with pytest.raises(icd.IcdError, match=message):
        icd.parse_report(data)


def test_a_wrong_crc_parses_but_is_flagged() -> None:
    data = icd.build_report(icd.ReportType.ECHO, 1, icd.echo_payload(1, b"x"), crc=0)
    assert not icd.parse_report(data).crc_ok
    flipped = bytearray(icd.build_report(icd.ReportType.ECHO, 1, icd.echo_payload(1, b"x")))
    flipped[10] ^= 1  # in the sequence: the CRC covers the header too
    assert not icd.parse_report(bytes(flipped)).crc_ok


def test_split_reports() -> None:
    stream = b"".join(icd.build_report(icd.ReportType.SAMPLES, s, b"\0" * 4) for s in range(5))
    assert [r.sequence for r in icd.split_reports(stream)] == [0, 1, 2, 3, 4]
    with pytest.raises(icd.IcdError):
        icd.split_reports(stream + b"\x41\x47")


def test_commands_round_trip() -> None:
    assert icd.parse_command(icd.set_rate_command(12345, tag=3)).payload.rate == 12345
    param = icd.parse_command(icd.set_param_command(icd.Param.REPORT_SIZE, 1024))
    assert (param.payload.id, param.payload.value) == (2, 1024)
    echo = icd.parse_command(icd.echo_command(b"ping", tag=77))
    assert (echo.opcode, echo.tag, echo.payload.data, echo.size) == (6, 77, b"ping", 24)
    assert icd.parse_command(icd.build_command(icd.Opcode.START)).size == 20
    assert icd.parse_command(icd.build_command(200)).payload is None  # unknown opcode


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (icd.build_command(icd.Opcode.ECHO, b"x", crc=1), "CRC"),
        (icd.build_command(icd.Opcode.ECHO, b"x", magic=1), "magic"),
        (icd.build_command(icd.Opcode.ECHO, b"x", version=0), "version"),
        (icd.build_command(icd.Opcode.SET_RATE, b"\1\2"), "takes 4"),
        (icd.build_command(icd.Opcode.ECHO, b"x", payload_len=5000), "4096"),
        (icd.build_command(icd.Opcode.ECHO, b"x", payload_len=9), "bytes in"),
    ],
)
def test_bad_commands_are_refused(command: bytes, message: str) -> None:
    with pytest.raises(icd.IcdError, match=message):
        icd.parse_command(command)


def test_command_size_finds_the_next_command_or_gives_up() -> None:
    assert icd.command_size(icd.echo_command(b"abc")[:20]) == 23
    assert icd.command_size(icd.build_command(6, b"x", magic=0)[:20]) is None


def test_every_enum_member_is_documented() -> None:
    for kind in (icd.ReportType, icd.ReportFlag, icd.Opcode, icd.Param, icd.EventCode):
        for member in kind:
            assert member.doc, f"{kind.__name__}.{member.name} has no description"
