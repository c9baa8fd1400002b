"""UDP frames with sequence numbers and checksums, the host's side of the guest's
`udpcheck` (userspace/udpcheck): which frames were lost, duplicated or corrupted.

A payload is, big-endian: "UHCK", the stream id (u32), the sequence number
(u32, 0 .. count-1), the count (u32), the zlib crc32 of what follows (u32),
then filler whose byte i is (seq + i) & 0xff. At least 20 bytes.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from ..errors import SimulatorError

MAGIC = b"UHCK"
HEADER = struct.Struct("!4sIIII")
PATTERN = bytes(range(256)) * 2 + bytes(range(256)) * 256  # filler for any seq, any size
MAX_PAYLOAD = 65507


def payload(stream: int, seq: int, count: int, size: int) -> bytes:
    """The payload of frame `seq` of `count` in `stream`, `size` bytes long."""
    if not HEADER.size <= size <= MAX_PAYLOAD:
        raise SimulatorError(
            f"a udpcheck payload is {HEADER.size} to {MAX_PAYLOAD} bytes, not {size}"
        )
    start = seq & 0xFF
    filler = PATTERN[start : start + size - HEADER.size]
    return HEADER.pack(MAGIC, stream, seq, count, zlib.crc32(filler)) + filler


@dataclass
class Checker:
    """Counts the frames of one stream as they arrive (`stream` None: the first
    valid frame's)."""

    count: int
    stream: int | None = None
    received: int = 0
    duplicated: int = 0
    corrupted: int = 0
    reordered: int = 0
    other_streams: int = 0
    octets: int = 0
    _seen: bytearray = field(default_factory=bytearray, repr=False)
    _highest: int = -1

    def __post_init__(self) -> None:
        self._seen = bytearray(self.count)

    def take(self, data: bytes) -> None:
        """One UDP payload."""
        if len(data) < HEADER.size:
            self.corrupted += 1
            return
        magic, stream, seq, count, crc = HEADER.unpack_from(data)
        if magic != MAGIC or count != self.count or seq >= self.count:
            self.corrupted += 1
            return
        if self.stream is None:
            self.stream = stream
        if stream != self.stream:
            self.other_streams += 1
            return
        if zlib.crc32(data[HEADER.size :]) != crc or data != payload(stream, seq, count, len(data)):
            self.corrupted += 1
            return
        if self._seen[seq]:
            self.duplicated += 1
            return
        self._seen[seq] = 1
        self.received += 1
        self.octets += len(data)
        if seq < self._highest:
            self.reordered += 1
        self._highest = max(self._highest, seq)

    @property
    def lost(self) -> int:
        return self.count - self.received

    def first_lost(self, limit: int = 10) -> list[int]:
        """The lowest `limit` sequence numbers not (yet) received."""
        found: list[int] = []
        at = self._seen.find(0)
        while at != -1 and len(found) < limit:
            found.append(at)
            at = self._seen.find(0, at + 1)
        return found

    @property
    def complete(self) -> bool:
        return self.received == self.count

    def report(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "received": self.received,
            "lost": self.lost,
            "first_lost": self.first_lost(),
            "duplicated": self.duplicated,
            "corrupted": self.corrupted,
            "reordered": self.reordered,
            "other_streams": self.other_streams,
            "octets": self.octets,
        }


def await_report(path: str, seconds: int = 120) -> str:
    """A guest shell command that waits (up to `seconds`) for a `udpcheck recv`
    started in the background with its output in `path` to end, then prints
    that output. Each command of a guest shell runs in a subshell of its own,
    so a later `wait` does not wait for it."""
    polls = seconds * 20
    return (
        f"for i in $(seq {polls}); do grep -q -e '^received' -e '^udpcheck:' {path} "
        f"&& break; sleep 0.05; done; cat {path}"
    )
