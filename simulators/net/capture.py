"""Captures: frames written to a pcap file as they pass, readable by any tool
(tcpdump, wireshark, scapy's rdpcap)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from scapy.utils import RawPcapWriter

from ..errors import SimulatorError

LINKTYPE_ETHERNET = 1


class Capture:
    """A pcap file being written; frames are flushed as they come, so a reader
    sees them while the capture runs."""

    def __init__(self, path: Path) -> None:
        path = Path(path)
        if not path.parent.is_dir():
            raise SimulatorError(f"cannot capture to {path}: {path.parent} is not a directory")
        self.path = path
        self.frames = 0
        self._lock = threading.Lock()
        self._writer: RawPcapWriter | None
        try:
            self._writer = RawPcapWriter(str(path), linktype=LINKTYPE_ETHERNET, sync=True)
            self._writer.write_header(None)  # an empty capture is a valid file too
        except OSError as error:
            raise SimulatorError(f"cannot capture to {path}: {error.strerror}") from None

    def write(self, frame: bytes) -> None:
        now = time.time()
        with self._lock:
            if self._writer is None:
                return
            self._writer.write_packet(frame, sec=int(now), usec=int(now % 1 * 1e6))
            self.frames += 1

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
