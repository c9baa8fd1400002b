"""What an FPGA's stream sends, and what a run of it did: plain data, no device.

`StreamConfig` is the state SET_PARAM, SET_RATE and RESET change; `Stats`
counts one `Fpga.run()`; the templates are the reports the stream repeats,
which `batch.py` stamps with sequence numbers and times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import SimulatorError
from . import icd

DEFAULT_RATE = 1000
DEFAULT_SIZE = 64
MIN_SIZE = icd.HEADER_SIZE + icd.SAMPLES_FIXED
MAX_SIZE = icd.HEADER_SIZE + icd.MAX_PAYLOAD
STATUS_SIZE = icd.HEADER_SIZE + icd.STATUS.sizeof()
STREAM_TYPES = (icd.ReportType.SAMPLES, icd.ReportType.STATUS, icd.ReportType.EVENT)


@dataclass
class StreamConfig:
    """What the stream sends: SET_PARAM and SET_RATE change it, RESET restores it."""

    report_type: icd.ReportType = icd.ReportType.SAMPLES
    report_size: int = DEFAULT_SIZE
    rate: int = DEFAULT_RATE  # reports/s; 0: paced by the ring
    status_period: int = 0  # a STATUS report every N streamed reports; 0: never

    @property
    def report_length(self) -> int:
        """The bytes of each streamed report: STATUS reports have a fixed size."""
        return STATUS_SIZE if self.report_type == icd.ReportType.STATUS else self.report_size

    def check(self) -> None:
        if self.report_type not in STREAM_TYPES:
            raise SimulatorError(f"cannot stream {self.report_type.name} reports")
        if not MIN_SIZE <= self.report_size <= MAX_SIZE:
            raise SimulatorError(f"report size {self.report_size}: {MIN_SIZE}..{MAX_SIZE} bytes")
        if self.report_type == icd.ReportType.SAMPLES and self.report_size % 2:
            raise SimulatorError(f"SAMPLES reports are an even size, not {self.report_size}")
        if self.rate < 0 or self.status_period < 0:
            raise SimulatorError("rate and status period are 0 or more")


@dataclass
class Stats:
    """What one `run()` did."""

    streamed: int = 0  # reports the stream produced: written and dropped
    written: int = 0  # reports written to the ring, answers included
    dropped: int = 0
    nbytes: int = 0
    commands: int = 0
    command_errors: int = 0
    interrupts: int = 0
    seconds: float = 0.0  # the whole run
    stream_seconds: float = 0.0  # from the first streamed report to the last
    late_seconds: float = 0.0  # time skipped because the simulator fell behind its rate
    echoes: list[bytes] = field(default_factory=list)

    def summary(self, name: str) -> str:
        """One parseable line, like fpga_reader's; rates over the streaming time."""
        seconds = self.stream_seconds
        rate = self.written / seconds if seconds else 0.0
        mb = self.nbytes / seconds / 1e6 if seconds else 0.0
        return (
            f"{name} streamed={self.streamed} written={self.written} dropped={self.dropped} "
            f"bytes={self.nbytes} commands={self.commands} command_errors={self.command_errors} "
            f"interrupts={self.interrupts} seconds={seconds:.3f} reports_per_s={rate:.0f} "
            f"MB_per_s={mb:.1f} late_seconds={self.late_seconds:.3f}"
        )


def samples_template(size: int, channel: int) -> bytes:
    count = (size - MIN_SIZE) // 2
    wave = [round(20000 * math.sin(2 * math.pi * i / 64)) for i in range(count)]
    return icd.build_report(icd.ReportType.SAMPLES, 0, icd.samples_payload(wave, channel))


def event_template(size: int) -> bytes:
    text = ("tick " * (size // 5 + 1))[: size - MIN_SIZE]
    return icd.build_report(icd.ReportType.EVENT, 0, icd.event_payload(icd.EventCode.TICK, text))
