"""The FPGA interface control document (ICD) as code: reports, commands and their encodings.

These construct definitions are the single source of truth: the simulator
builds and parses with them, `python -m simulators.fpga.icd_doc` renders
docs/icd.md from them, `python -m simulators.cheader simulators.fpga.regs`
generates the header uh_fpga includes (drivers/include/uh/fpga_regs.h), and
the guest program fpga_reader mirrors the constants. Unit tests check that
the page and the header are up to date.

Everything is little-endian. A report is a 28-byte header and `payload_len`
bytes of payload; reports follow each other in the report ring with no
padding and may wrap around the ring's end. A command is a 20-byte header
and its payload, likewise in the command ring.

CRC: `crc32` is CRC-32 as zlib computes it (IEEE 802.3, reflected, initial
value and final XOR 0xffffffff) over the header with the crc32 field set to
zero, followed by the payload. It covers the header so that a report whose
sequence number or length was damaged is caught, not only a damaged payload.

Sequence: one free-running u32 counter per FPGA across all report types. A
report the device drops because the ring is full still consumes its sequence
number, so a reader sees every drop as a gap; the first report written after
a drop carries the DROPPED_BEFORE flag.
"""

from __future__ import annotations

import enum
import zlib
from dataclasses import dataclass
from typing import Any

from construct import (
    Bytes,
    Container,
    GreedyBytes,
    Int8ul,
    Int16sl,
    Int16ul,
    Int32sl,
    Int32ul,
    Int64ul,
    Padding,
    Struct,
    this,
)

MAGIC = 0x46504741  # "FPGA" read as a big-endian word; bytes 41 47 50 46 in the ring
COMMAND_MAGIC = 0x46434D44  # "FCMD"
VERSION = 1
MAX_PAYLOAD = 0xFFFF  # payload_len is a u16
MAX_COMMAND_PAYLOAD = 4096  # the largest command payload the device (and driver) accept
CRC_OFFSET = 24  # of crc32 in the report header
COMMAND_CRC_OFFSET = 16  # of crc32 in the command header


class Described(enum.IntEnum):
    """An enum whose members carry their one-line description, for docs/icd.md."""

    doc: str

    def __new__(cls, value: int, doc: str = "") -> Described:
        member = int.__new__(cls, value)
        member._value_ = value
        member.doc = doc
        return member


class ReportType(Described):
    """What a report carries (header field `type`)."""

    SAMPLES = 1, "a block of ADC samples of one channel"
    STATUS = 2, "health: temperature, supply voltages, counters"
    EVENT = 3, "something happened: a code and a human-readable text"
    ECHO = 4, "the answer to an ECHO command"


class ReportFlag(Described):
    """Header field `flags`: bit masks."""

    DROPPED_BEFORE = 0x01, "reports were dropped (ring full) right before this one"


class Opcode(Described):
    """What a command asks for (command header field `opcode`)."""

    RESET = 1, "stop streaming; default rate and parameters; clear STATUS.ERROR"
    START = 2, "start streaming reports"
    STOP = 3, "stop streaming reports"
    SET_RATE = 4, "streamed reports per second; 0: as fast as the reader frees ring space"
    SET_PARAM = 5, "set one parameter (Param)"
    ECHO = 6, "answer with an ECHO report carrying the command's tag and bytes"


class Param(Described):
    """SET_PARAM parameter ids."""

    REPORT_TYPE = 1, "type of the streamed reports: SAMPLES, STATUS or EVENT"
    REPORT_SIZE = 2, "bytes of each streamed report, header included: 32..65563 (SAMPLES: even)"
    STATUS_PERIOD = 3, "also send a STATUS report every N streamed reports (0: never)"


class EventCode(Described):
    """EVENT report codes."""

    BAD_COMMAND = 1, "a command with a bad magic, version, length or CRC was skipped"
    UNKNOWN_OPCODE = 2, "a well-formed command with an opcode the device does not know"
    BAD_ARGUMENT = 3, "a known command with an argument out of range"
    TICK = 4, "nothing happened: what a stream of EVENT reports carries"


HEADER = Struct(
    "magic" / Int32ul * "0x46504741 ('FPGA'); anything else is malformed",
    "version" / Int8ul * "ICD version, 1; anything else is malformed",
    "type" / Int8ul * "ReportType",
    "flags" / Int8ul * "ReportFlag bits",
    "reserved0" / Int8ul * "0",
    "sequence" / Int32ul * "per-FPGA report counter, +1 per report, dropped ones included",
    "timestamp_ns" / Int64ul * "device time of the report, nanoseconds",
    "payload_len" / Int16ul * "payload bytes after the header",
    "reserved1" / Int16ul * "0",
    "crc32" / Int32ul * "CRC-32 (zlib) over the header with this field 0, then the payload",
)
HEADER_SIZE = 28
assert HEADER.sizeof() == HEADER_SIZE, f"report header is {HEADER.sizeof()} bytes"
assert HEADER.subcons[-1].name == "crc32" and CRC_OFFSET == HEADER_SIZE - 4

SAMPLES = Struct(
    "channel" / Int8ul * "ADC channel",
    "reserved" / Int8ul * "0",
    "count" / Int16ul * "number of samples",
    "samples" / Int16sl[this.count] * "signed 16-bit samples",
)
SAMPLES_FIXED = 4  # bytes before the samples

STATUS = Struct(
    "temperature_mc" / Int32sl * "die temperature, milli-degrees Celsius",
    "vccint_mv" / Int16ul * "core supply, millivolts",
    "vccaux_mv" / Int16ul * "auxiliary supply, millivolts",
    "vccbram_mv" / Int16ul * "block RAM supply, millivolts",
    Padding(2),
    "reports_produced" / Int32ul * "the REPORTS_PRODUCED register",
    "reports_dropped" / Int32ul * "the REPORTS_DROPPED register",
    "commands_consumed" / Int32ul * "the COMMANDS_CONSUMED register",
    "command_errors" / Int32ul * "the COMMAND_ERRORS register",
    "uptime_ms" / Int32ul * "milliseconds since the simulator attached",
)
assert STATUS.sizeof() == 32

EVENT = Struct(
    "code" / Int16ul * "EventCode",
    "length" / Int16ul * "bytes of text",
    "text" / Bytes(this.length) * "UTF-8, not NUL-terminated",
)

ECHO = Struct(
    "tag" / Int32ul * "the tag of the ECHO command answered",
    "data" / GreedyBytes * "the command's bytes, unchanged",
)

PAYLOADS: dict[ReportType, Any] = {
    ReportType.SAMPLES: SAMPLES,
    ReportType.STATUS: STATUS,
    ReportType.EVENT: EVENT,
    ReportType.ECHO: ECHO,
}

COMMAND_HEADER = Struct(
    "magic" / Int32ul * "0x46434d44 ('FCMD')",
    "version" / Int8ul * "ICD version, 1",
    "opcode" / Int8ul * "Opcode",
    "flags" / Int8ul * "0",
    "reserved0" / Int8ul * "0",
    "tag" / Int32ul * "chosen by the sender; an ECHO report repeats it",
    "payload_len" / Int16ul * "payload bytes after the header, at most 4096",
    "reserved1" / Int16ul * "0",
    "crc32" / Int32ul * "CRC-32 (zlib) over the header with this field 0, then the payload",
)
COMMAND_HEADER_SIZE = 20
assert COMMAND_HEADER.sizeof() == COMMAND_HEADER_SIZE
assert COMMAND_HEADER.subcons[-1].name == "crc32"
assert COMMAND_CRC_OFFSET == COMMAND_HEADER_SIZE - 4
MAX_COMMAND = COMMAND_HEADER_SIZE + MAX_COMMAND_PAYLOAD

SET_RATE = Struct("rate" / Int32ul * "reports per second; 0: as fast as ring space frees up")
SET_PARAM = Struct(
    "id" / Int16ul * "Param",
    Padding(2),
    "value" / Int32ul * "the parameter's new value",
)
ECHO_COMMAND = Struct("data" / GreedyBytes * "up to 4096 bytes to echo")
EMPTY = Struct()

COMMAND_PAYLOADS: dict[Opcode, Any] = {
    Opcode.RESET: EMPTY,
    Opcode.START: EMPTY,
    Opcode.STOP: EMPTY,
    Opcode.SET_RATE: SET_RATE,
    Opcode.SET_PARAM: SET_PARAM,
    Opcode.ECHO: ECHO_COMMAND,
}


# construct compiles a Struct into Python code that parses and builds the
# same bytes four to five times faster; the command path (ECHO round trips)
# goes through these. Same definitions, so still one source of truth.
_HEADER = HEADER.compile()
_COMMAND_HEADER = COMMAND_HEADER.compile()
_PAYLOADS = {kind: layout.compile() for kind, layout in PAYLOADS.items()}
_COMMAND_PAYLOADS = {opcode: layout.compile() for opcode, layout in COMMAND_PAYLOADS.items()}


class IcdError(ValueError):
    """Bytes that are not a well-formed report or command; the message says why."""


# --- reports -----------------------------------------------------------------


def crc32(header: bytes, payload: bytes, crc_offset: int = CRC_OFFSET) -> int:
    """The ICD CRC: zlib's CRC-32 over `header` with its crc32 field zeroed, then `payload`."""
    zeroed = header[:crc_offset] + bytes(4) + header[crc_offset + 4 :]
    return zlib.crc32(payload, zlib.crc32(zeroed))


def build_report(
    type_: int,
    sequence: int,
    payload: bytes,
    *,
    timestamp_ns: int = 0,
    flags: int = 0,
    magic: int = MAGIC,
    version: int = VERSION,
    payload_len: int | None = None,
    crc: int | None = None,
) -> bytes:
    """One report's bytes. The keyword overrides exist to craft malformed reports for tests."""
    header: bytes = _HEADER.build(
        {
            "magic": magic,
            "version": version,
            "type": type_,
            "flags": flags,
            "reserved0": 0,
            "sequence": sequence & 0xFFFFFFFF,
            "timestamp_ns": timestamp_ns,
            "payload_len": len(payload) if payload_len is None else payload_len,
            "reserved1": 0,
            "crc32": 0,
        }
    )
    value = crc32(header, payload) if crc is None else crc
    return header[:CRC_OFFSET] + value.to_bytes(4, "little") + payload


def samples_payload(samples: list[int] | tuple[int, ...], channel: int = 0) -> bytes:
    fields = {"channel": channel, "reserved": 0, "count": len(samples), "samples": samples}
    return bytes(_PAYLOADS[ReportType.SAMPLES].build(fields))


def status_payload(**values: int) -> bytes:
    """A STATUS payload; fields not given are 0."""
    fields = {sub.name: 0 for sub in STATUS.subcons if sub.name}
    unknown = set(values) - set(fields)
    if unknown:
        raise IcdError(f"STATUS has no field(s) {', '.join(sorted(unknown))}")
    return bytes(_PAYLOADS[ReportType.STATUS].build({**fields, **values}))


def event_payload(code: int, text: str) -> bytes:
    data = text.encode()
    return bytes(
        _PAYLOADS[ReportType.EVENT].build({"code": code, "length": len(data), "text": data})
    )


def echo_payload(tag: int, data: bytes) -> bytes:
    return bytes(_PAYLOADS[ReportType.ECHO].build({"tag": tag, "data": data}))


@dataclass(frozen=True)
class Report:
    """A parsed, well-formed report."""

    header: Container
    payload: Any  # the parsed payload, or the raw bytes of an unknown type
    crc_ok: bool
    size: int  # bytes in the ring: header and payload

    @property
    def type(self) -> int:
        return int(self.header.type)

    @property
    def sequence(self) -> int:
        return int(self.header.sequence)


def check_header(header: Container, available: int) -> str | None:
    """Why `header` is malformed (as the driver judges it), or None when it is not."""
    if header.magic != MAGIC:
        return f"bad magic {header.magic:#010x}"
    if header.version != VERSION:
        return f"unsupported version {header.version}"
    if HEADER_SIZE + header.payload_len > available:
        return f"payload_len {header.payload_len} runs past the {available} bytes there are"
    return None


def parse_report(data: bytes) -> Report:
    """The report at the start of `data`; IcdError if it is malformed."""
    if len(data) < HEADER_SIZE:
        raise IcdError(f"{len(data)} bytes are too few for a report header ({HEADER_SIZE})")
    header = _HEADER.parse(data[:HEADER_SIZE])
    problem = check_header(header, len(data))
    if problem:
        raise IcdError(problem)
    size = HEADER_SIZE + header.payload_len
    raw = bytes(data[HEADER_SIZE:size])
    crc_ok = crc32(bytes(data[:HEADER_SIZE]), raw) == header.crc32
    try:
        payload = _PAYLOADS[ReportType(header.type)].parse(raw)
    except (ValueError, KeyError):
        payload = raw
    except Exception as error:  # construct's own errors: a payload that does not parse
        raise IcdError(f"{ReportType(header.type).name} payload does not parse: {error}") from None
    return Report(header, payload, crc_ok, size)


def split_reports(data: bytes) -> list[Report]:
    """Every report in `data`, which must hold whole, well-formed reports back to back."""
    reports = []
    offset = 0
    while offset < len(data):
        report = parse_report(data[offset:])
        reports.append(report)
        offset += report.size
    return reports


# --- commands ----------------------------------------------------------------


def build_command(
    opcode: int,
    payload: bytes = b"",
    *,
    tag: int = 0,
    magic: int = COMMAND_MAGIC,
    version: int = VERSION,
    payload_len: int | None = None,
    crc: int | None = None,
) -> bytes:
    """One command's bytes; the keyword overrides craft malformed ones."""
    header: bytes = _COMMAND_HEADER.build(
        {
            "magic": magic,
            "version": version,
            "opcode": opcode,
            "flags": 0,
            "reserved0": 0,
            "tag": tag,
            "payload_len": len(payload) if payload_len is None else payload_len,
            "reserved1": 0,
            "crc32": 0,
        }
    )
    value = crc32(header, payload, COMMAND_CRC_OFFSET) if crc is None else crc
    return header[:COMMAND_CRC_OFFSET] + value.to_bytes(4, "little") + payload


def set_rate_command(rate: int, tag: int = 0) -> bytes:
    return build_command(Opcode.SET_RATE, SET_RATE.build({"rate": rate}), tag=tag)


def set_param_command(param: int, value: int, tag: int = 0) -> bytes:
    return build_command(Opcode.SET_PARAM, SET_PARAM.build({"id": param, "value": value}), tag=tag)


def echo_command(data: bytes, tag: int = 0) -> bytes:
    return build_command(Opcode.ECHO, data, tag=tag)


@dataclass(frozen=True)
class Command:
    """A parsed command: its header and parsed payload (None for an unknown opcode)."""

    header: Container
    payload: Any
    size: int

    @property
    def opcode(self) -> int:
        return int(self.header.opcode)

    @property
    def tag(self) -> int:
        return int(self.header.tag)


def command_size(header_bytes: bytes) -> int | None:
    """The whole command's size from its header, or None if the header is malformed.

    The device uses this to find the next command even after one it rejects.
    """
    header = _COMMAND_HEADER.parse(header_bytes)
    if header.magic != COMMAND_MAGIC or header.payload_len > MAX_COMMAND_PAYLOAD:
        return None
    return COMMAND_HEADER_SIZE + int(header.payload_len)


def parse_command(data: bytes) -> Command:
    """The command at the start of `data`; IcdError if it is malformed or its CRC is wrong."""
    if len(data) < COMMAND_HEADER_SIZE:
        raise IcdError(f"{len(data)} bytes are too few for a command header")
    header = _COMMAND_HEADER.parse(data[:COMMAND_HEADER_SIZE])
    if header.magic != COMMAND_MAGIC:
        raise IcdError(f"bad command magic {header.magic:#010x}")
    if header.version != VERSION:
        raise IcdError(f"unsupported command version {header.version}")
    if header.payload_len > MAX_COMMAND_PAYLOAD:
        raise IcdError(f"command payload_len {header.payload_len} > {MAX_COMMAND_PAYLOAD}")
    size = COMMAND_HEADER_SIZE + header.payload_len
    if size > len(data):
        raise IcdError(f"command of {size} bytes in {len(data)}")
    payload = bytes(data[COMMAND_HEADER_SIZE:size])
    if crc32(bytes(data[:COMMAND_HEADER_SIZE]), payload, COMMAND_CRC_OFFSET) != header.crc32:
        raise IcdError("command CRC mismatch")
    try:
        layout = COMMAND_PAYLOADS[Opcode(header.opcode)]
    except ValueError:
        return Command(header, None, size)
    expected = layout.sizeof() if layout is not ECHO_COMMAND else None
    if expected is not None and len(payload) != expected:
        raise IcdError(
            f"{Opcode(header.opcode).name} takes {expected} payload bytes, not {len(payload)}"
        )
    return Command(header, _COMMAND_PAYLOADS[Opcode(header.opcode)].parse(payload), size)
