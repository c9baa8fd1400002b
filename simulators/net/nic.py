"""Packets to and from a simulated NIC as scapy packets: what tests and `sim net` use.

    nic.send(Ether(dst=nic.mac) / IP(dst="192.0.2.2") / ICMP())
    reply = nic.expect(ICMP(type=0), timeout=2)
    with nic.capture("out.pcap"): ...

`expect` waits for a frame the guest sends and consumes the frames up to
the one that matched, as pexpect does with output: a later `expect` sees
only what came after. A match is a scapy packet used as a template (each
layer it has must be in the frame, with every field it sets equal), bytes
the frame starts with, or a callable taking the frame as an `Ether`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import NoPayload, Packet, Raw

from ..errors import SimulatorError
from .responder import HOST_MAC

Match = Packet | bytes | Callable[[Ether], bool]
POLL_S = 0.002


class NoFrame(SimulatorError):
    """No frame the guest sent matched before the timeout."""


class Nic:
    """The host end of `model`'s cable (a device model with the NIC calls, in this
    process or its backend's)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self._seen = int(model.frames_seen())

    @property
    def mac(self) -> str:
        """The NIC's station address, as the guest's driver sees it."""
        return ":".join(f"{byte:02x}" for byte in self.model.mac())

    def send(self, frame: Packet | bytes, *, pad: bool = True, fcs_ok: bool = True) -> bool:
        """Put `frame` on the wire to the guest; whether the NIC took it into the
        driver's ring (False: link down, receive off, filtered, or no buffer posted).
        Frames are padded to 60 bytes unless `pad=False` (a runt); `fcs_ok=False`
        sends it with a bad frame check sequence."""
        return bool(self.model.send(bytes(frame), pad=pad, fcs_ok=fcs_ok))

    def send_burst(self, frames: list[Packet | bytes], *, pad: bool = True) -> int:
        """Send `frames` back to back in one call; how many the NIC took (a burst
        longer than the driver's free buffers overruns its ring: rx_missed)."""
        return int(self.model.send_burst([bytes(frame) for frame in frames], pad=pad))

    def expect(self, match: Match, timeout: float = 5.0) -> Ether:
        """The first frame the guest sends (from now, or after the last match) that
        `match`es; NoFrame after `timeout` seconds, naming the frames it passed over."""
        deadline = time.monotonic() + timeout
        passed: list[Ether] = []
        while True:
            last, frames = self.model.frames_since(self._seen)
            first = last - len(frames) + 1
            for offset, raw in enumerate(frames):
                frame = Ether(raw)
                if _matches(frame, raw, match):
                    self._seen = first + offset
                    return frame
                passed.append(frame)
            self._seen = last
            if time.monotonic() >= deadline:
                raise NoFrame(
                    f"no frame matching {_describe(match)} from the guest in {timeout:g}s; "
                    f"it sent {len(passed)} other(s)"
                    + "".join(f"\n  {frame.summary()}" for frame in passed[-5:])
                )
            time.sleep(POLL_S)

    def frames(self) -> list[Ether]:
        """Every frame the guest sent since the last `expect` (or since this `Nic`),
        consumed as `expect` does."""
        self._seen, frames = self.model.frames_since(self._seen)
        return [Ether(raw) for raw in frames]

    def udp_source(
        self,
        count: int,
        size: int,
        *,
        dst: str,
        dport: int,
        src: str = "192.0.2.1",
        rate: float | None = None,
        stream: int = 1,
    ) -> dict[str, Any]:
        """Send `count` udpcheck frames of `size` payload bytes to the guest's `dst`:`dport`
        (simulators/net/udpcheck.py; the guest runs `udpcheck recv`), at `rate` frames
        per second or as fast as its driver takes them, none lost on the way in.
        Returns what was sent and the seconds it took."""
        template = (
            Ether(dst=self.mac, src=HOST_MAC) / IP(src=src, dst=dst) / UDP(sport=4000, dport=dport)
        )
        return dict(self.model.udp_source(bytes(template), count, size, stream=stream, rate=rate))

    def udp_sink(self, port: int, count: int, stream: int | None = None) -> None:
        """Check the udpcheck frames the guest sends to UDP `port` from now on
        (`udpcheck send`); `udp_sink_report(port)` says what arrived."""
        self.model.udp_sink(port, count, stream)

    def udp_sink_report(self, port: int) -> dict[str, Any]:
        return dict(self.model.udp_sink_report(port))

    @contextmanager
    def capture(self, path: str | Path) -> Iterator[Path]:
        """Write every frame that passes, both ways, to the pcap file `path` while
        the block runs."""
        target = Path(path).resolve()
        self.model.capture_start(str(target))
        try:
            yield target
        finally:
            self.model.capture_stop()

    def counters(self) -> dict[str, Any]:
        """The host end's counters and the chip's tally."""
        return dict(self.model.net_status())


def _matches(frame: Ether, raw: bytes, match: Match) -> bool:
    if isinstance(match, bytes | bytearray):
        return raw.startswith(bytes(match))
    if isinstance(match, Packet):
        return _fits(frame, match)
    return bool(match(frame))


def _fits(frame: Packet, template: Packet) -> bool:
    """Whether every layer of `template` is in `frame` with the fields it sets."""
    layer = template
    while not isinstance(layer, NoPayload):
        if isinstance(layer, Raw):
            if layer.load not in bytes(frame):  # a payload template: the frame carries it
                return False
        else:
            if not frame.haslayer(type(layer)):
                return False
            theirs = frame[type(layer)]
            for name, value in layer.fields.items():
                if theirs.getfieldval(name) != value:
                    return False
        layer = layer.payload
    return True


def _describe(match: Match) -> str:
    if isinstance(match, Packet):
        return repr(match)
    if isinstance(match, bytes | bytearray):
        return f"bytes {bytes(match[:16]).hex()}..."
    return getattr(match, "__name__", repr(match))
