"""Many reports of one kind at once: numpy rows with their sequence, timestamp and CRC filled in.

Streaming at hundreds of thousands of reports a second leaves no time for
per-report Python, so a batch is a template row copied N times, with the
fields that vary written through a structured view, and the CRCs computed
for the whole batch with a few table lookups per report.

The CRC trick: CRC-32 is affine over GF(2), so for two messages m and m0 of
the same length, crc(m) = crc(m0) ^ crc_raw(m ^ m0), where crc_raw runs the
register from 0 and skips the final XOR. A batch's reports differ from the
template (sequence and timestamp 0) only in header bytes 6 and 8..19, so
crc_raw(m ^ m0) is the XOR, over those bytes, of what each byte value alone
contributes: 256-entry tables per byte position, computed once per report
length.
"""

from __future__ import annotations

import functools
import zlib

import numpy as np
import numpy.typing as npt

from . import icd

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
Rows = npt.NDArray[np.uint8]

_POLY = 0xEDB88320  # CRC-32, reflected
_FLAGS_OFFSET = 6
_VARYING = (_FLAGS_OFFSET, *range(8, 20))  # flags, sequence (8..11), timestamp_ns (12..19)


def _byte_table() -> U32:
    """The classic table: the register after one byte, from a register of 0 and that byte."""
    values = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        values = np.where(values & 1, (values >> 1) ^ _POLY, values >> 1).astype(np.uint32)
    return values


TABLE = _byte_table()


def _after_zeros_once(values: U32) -> U32:
    """The register after one more zero byte, for each register value in `values`."""
    result: U32 = (TABLE[values & 0xFF] ^ (values >> 8)).astype(np.uint32)
    return result


def _apply(columns: U32, values: U32) -> U32:
    """A linear map of the register (its images of the 32 bits, `columns`) applied to `values`."""
    result = np.zeros_like(values)
    for bit in range(32):
        result ^= np.where((values >> bit) & 1, columns[bit], 0).astype(np.uint32)
    return result


@functools.lru_cache(maxsize=64)
def _zeros_operator(count: int) -> U32:
    """The register map 'feed `count` zero bytes', as the images of its 32 bits.

    Built by squaring, so a 64 KiB report costs 17 compositions, not 64K steps.
    """
    result = np.array([1 << bit for bit in range(32)], dtype=np.uint32)  # identity
    power = _after_zeros_once(result.copy())  # one zero byte
    while count:
        if count & 1:
            result = _apply(power, result)
        power = _apply(power, power)
        count >>= 1
    return result


@functools.lru_cache(maxsize=16)
def byte_tables(length: int) -> dict[int, U32]:
    """For each varying header byte position: the crc_raw contribution of each of its values."""
    tables = {}
    for position in _VARYING:
        tables[position] = _apply(_zeros_operator(length - position - 1), TABLE)
    return tables


def crc_delta(length: int, deltas: dict[int, npt.NDArray[np.uint8]]) -> U32:
    """crc_raw of messages of `length` bytes that are zero except at the positions given."""
    tables = byte_tables(length)
    result: U32 | None = None
    for position, values in deltas.items():
        part = tables[position][values]
        result = part if result is None else result ^ part
    assert result is not None
    return result


class ReportBatch:
    """Batches of reports like `template` (its sequence, timestamp and flags are ignored)."""

    def __init__(self, template: bytes, capacity: int) -> None:
        if len(template) < icd.HEADER_SIZE:
            raise ValueError("a report template needs at least a header")
        self.length = len(template)
        self.capacity = capacity
        self._fields = np.dtype(
            {
                "names": ["flags", "sequence", "timestamp_ns", "crc32"],
                "formats": ["u1", "<u4", "<u8", "<u4"],
                "offsets": [_FLAGS_OFFSET, 8, 12, icd.CRC_OFFSET],
                "itemsize": self.length,
            }
        )
        self._rows: Rows = np.empty((capacity, self.length), np.uint8)
        self._crc0 = 0
        self.retemplate(template)
        byte_tables(self.length)  # the one slow step, done up front

    def retemplate(self, template: bytes) -> None:
        """Batches like `template` from now on (a report of the same length: STATUS refreshes)."""
        if len(template) != self.length:
            raise ValueError(f"the template is {len(template)} bytes, not {self.length}")
        base = bytearray(template)
        base[_FLAGS_OFFSET] = 0
        base[8:20] = bytes(12)
        base[icd.CRC_OFFSET : icd.CRC_OFFSET + 4] = bytes(4)
        self._crc0 = zlib.crc32(bytes(base))
        self._rows[:] = np.frombuffer(bytes(base), np.uint8)

    def build(self, first_sequence: int, timestamps: U64, first_flags: int = 0) -> Rows:
        """`len(timestamps)` reports numbered from `first_sequence`; rows of bytes, a view."""
        count = len(timestamps)
        if count > self.capacity:
            raise ValueError(f"a batch holds {self.capacity} reports, not {count}")
        rows = self._rows[:count]
        fields = rows.reshape(-1).view(self._fields)
        sequences = (np.arange(count, dtype=np.uint64) + first_sequence).astype(np.uint32)
        fields["sequence"] = sequences
        fields["timestamp_ns"] = timestamps
        fields["flags"] = 0
        deltas = {8 + i: ((sequences >> (8 * i)) & 0xFF).astype(np.uint8) for i in range(4)}
        stamps = timestamps.astype(np.uint64)
        for i in range(8):
            deltas[12 + i] = ((stamps >> np.uint64(8 * i)) & np.uint64(0xFF)).astype(np.uint8)
        crcs = crc_delta(self.length, deltas) ^ np.uint32(self._crc0)
        if first_flags and count:
            fields["flags"][0] = first_flags
            flag = np.array([first_flags], np.uint8)
            crcs[0] ^= crc_delta(self.length, {_FLAGS_OFFSET: flag})[0]
        fields["crc32"] = crcs
        return rows
