"""The host end of a simulated NIC's cable: what tests and `sim net` send and expect.

Frames the guest transmits are numbered and kept (the last KEPT_FRAMES),
so that `expect` can wait for one sent after a point; each also goes to
the udp sinks, the capture, the wire and the responder, if there are any.
That work is done as the chip hands the frame over, in the thread serving
the driver's doorbell: it takes microseconds per frame (the responder
looks at fixed offsets before it parses anything), and handing frames to
another thread cost more, in waits for Python's GIL, than the work itself.
Frames sent to the guest are padded to the Ethernet minimum, as a MAC
does, unless a test wants a runt.
"""

from __future__ import annotations

import collections
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import SimulatorError
from . import checksums
from .capture import Capture
from .responder import Responder
from .udpcheck import Checker
from .udpcheck import payload as udpcheck_payload
from .wire import WirePort

KEPT_FRAMES = 4096
MIN_FRAME = 60  # without the FCS


class HostEnd:
    """`to_nic(frame, fcs_ok, flow_control)` puts a frame on the NIC's receive side
    (True if the driver's ring took it)."""

    def __init__(
        self, to_nic: Callable[[bytes, bool, bool], bool], responder: Responder | None = None
    ) -> None:
        self._to_nic = to_nic
        self.responder = responder
        self._lock = threading.Lock()
        self._kept: collections.deque[tuple[int, bytes]] = collections.deque(maxlen=KEPT_FRAMES)
        self._seen = 0
        self._capture: Capture | None = None
        self.counters: collections.Counter[str] = collections.Counter()
        self._sinks: dict[int, Checker] = {}
        self.wire: WirePort | None = None
        self._sink_times: dict[int, list[float]] = {}

    # --- from the guest ----------------------------------------------------------

    def from_nic(self, frame: bytes) -> None:
        """A frame the guest transmitted."""
        if self._sinks:
            self._to_sink(frame)
        with self._lock:
            self._seen += 1
            self._kept.append((self._seen, frame))
            self.counters["from_guest"] += 1
            self.counters["from_guest_bytes"] += len(frame)
            capture = self._capture
        if capture is not None:
            capture.write(frame)
        if self.wire is not None:
            self.wire.send(frame)
        if self.responder is not None:
            reply = self.responder.answer(frame)
            if reply is not None:
                self.send(reply)

    def frames_seen(self) -> int:
        """The number of the last frame from the guest (0: none yet)."""
        with self._lock:
            return self._seen

    def frames_since(self, seen: int = 0) -> tuple[int, list[bytes]]:
        """The kept frames numbered above `seen`, and the number of the last one
        (pass it back to get only newer frames)."""
        with self._lock:
            return self._seen, [frame for number, frame in self._kept if number > seen]

    # --- to the guest ------------------------------------------------------------

    def send(
        self, frame: bytes, *, pad: bool = True, fcs_ok: bool = True, flow_control: bool = False
    ) -> bool:
        """Put `frame` (without FCS) on the wire to the guest; whether the NIC took it
        into the driver's ring (False: link down, receive off, filtered or no buffer)."""
        frame = bytes(frame)
        if pad and len(frame) < MIN_FRAME:
            frame = frame.ljust(MIN_FRAME, b"\0")
        capture = self._capture
        if capture is not None:
            capture.write(frame)
        taken = self._to_nic(frame, fcs_ok, flow_control)
        with self._lock:
            self.counters["to_guest" if taken else "to_guest_dropped"] += 1
        return taken

    def send_burst(self, frames: list[bytes], *, pad: bool = True) -> int:
        """Send `frames` back to back, as fast as the NIC takes them; how many it took
        (a burst longer than the driver's free buffers overruns its ring)."""
        return sum(self.send(frame, pad=pad) for frame in frames)

    # --- udpcheck streams (simulators/net/udpcheck.py) -----------------------------

    def udp_sink(self, port: int, count: int, stream: int | None = None) -> None:
        """Check the udpcheck frames the guest sends to UDP `port` from now on."""
        with self._lock:
            self._sinks[port] = Checker(count, stream)
            self._sink_times[port] = []

    def udp_sink_report(self, port: int) -> dict[str, Any]:
        """What arrived at `port`'s sink so far, with the seconds from the first
        frame to the last."""
        with self._lock:
            if port not in self._sinks:
                raise SimulatorError(f"no udp sink at port {port}")
            times = self._sink_times[port]
            seconds = times[1] - times[0] if len(times) == 2 else 0.0
            return {**self._sinks[port].report(), "seconds": seconds}

    def _to_sink(self, frame: bytes) -> None:
        l3 = checksums.locate(frame)
        if l3 is None or l3.protocol != checksums.IPPROTO_UDP or l3.end < l3.l4_at + 8:
            return
        port = int.from_bytes(frame[l3.l4_at + 2 : l3.l4_at + 4], "big")
        checker = self._sinks.get(port)
        if checker is None:
            return
        now = time.monotonic()
        with self._lock:
            checker.take(frame[l3.l4_at + 8 : l3.end])
            times = self._sink_times[port]
            times[1:] = [now]
            if len(times) == 1:
                times.insert(0, now)

    def udp_source(
        self,
        template: bytes,
        count: int,
        size: int,
        *,
        stream: int = 1,
        rate: float | None = None,
        stall_s: float = 2.0,
    ) -> dict[str, Any]:
        """Send `count` udpcheck frames of `size` payload bytes to the guest, built on
        `template` (an Ethernet/IPv4/UDP frame whose payload is replaced), at `rate`
        frames per second or as fast as the driver takes them. A full ring makes the
        source wait (flow control), so nothing is lost on the way in; after
        `stall_s` seconds without a frame taken it gives up."""
        l3 = checksums.locate(template)
        if l3 is None or l3.protocol != checksums.IPPROTO_UDP or l3.version != 4:
            raise SimulatorError("a udp source's template is an Ethernet/IPv4/UDP frame")
        header = bytearray(template[: l3.l4_at + 8])
        ip, udp = l3.ip_at, l3.l4_at
        struct.pack_into("!H", header, ip + 2, udp - ip + 8 + size)
        struct.pack_into("!HH", header, udp + 4, 8 + size, 0)  # no UDP checksum
        header[ip + 10 : ip + 12] = b"\0\0"
        checksums.fill_ipv4_header(header, l3)
        start = time.monotonic()
        waits = 0
        for seq in range(count):
            frame = bytes(header) + udpcheck_payload(stream, seq, count, size)
            if rate:
                delay = start + seq / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            stalled = time.monotonic()
            # The GIL and the register lock to the thread serving the guest's
            # accesses, which would otherwise wait for them behind this loop.
            time.sleep(0)
            while not self.send(frame, flow_control=True):
                waits += 1
                if time.monotonic() - stalled > stall_s:
                    raise SimulatorError(
                        f"the NIC took no frame for {stall_s:g}s after {seq} of {count} "
                        "(link down, receive off, or the driver no longer takes frames)"
                    )
                time.sleep(0.0001)
        seconds = time.monotonic() - start
        return {"sent": count, "size": size, "seconds": seconds, "waits": waits}

    # --- captures and status -----------------------------------------------------

    def capture_start(self, path: str | Path) -> None:
        """Write every frame that passes, both ways, to the pcap file `path`."""
        capture = Capture(Path(path))
        with self._lock:
            previous, self._capture = self._capture, capture
        if previous is not None:
            previous.close()

    def capture_stop(self) -> int:
        """Close the capture; how many frames it holds."""
        with self._lock:
            capture, self._capture = self._capture, None
        if capture is None:
            return 0
        capture.close()
        return capture.frames

    def status(self) -> dict[str, Any]:
        with self._lock:
            found: dict[str, Any] = dict(self.counters)
            found["capture"] = str(self._capture.path) if self._capture else None
        if self.responder is not None:
            found["host"] = str(self.responder.interface)
            found["answered"] = self.responder.answered
        if self.wire is not None:
            found["wire"] = self.wire.name
            found["wire_dropped"] = self.wire.dropped
        return found

    def join_wire(self, name: str) -> None:
        """Put the NIC on wire `name` (simulators/net/wire.py): what the guest sends
        goes onto it, what comes over it is sent to the guest."""
        self.wire = WirePort(name, self.send)

    def close(self) -> None:
        self.capture_stop()
        if self.wire is not None:
            self.wire.close()
