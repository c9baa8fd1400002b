"""One FPGA as its driver sees it: it streams reports into the report ring and answers commands.

The model is single-threaded: `run()` loops over three jobs, waiting in
select() on the doorbell between them:

- commands: whenever CMD_RING_HEAD differs from CMD_RING_TAIL (the doorbell
  only wakes the loop up), each command is parsed, executed and consumed;
  CMD_DONE is raised once for the lot. Bad commands are consumed too,
  counted in COMMAND_ERRORS, flagged in STATUS.ERROR and reported in an
  EVENT report.
- streaming: while the stream runs and the driver has set CTRL.ENABLE,
  reports are due at the configured rate and written in numpy batches
  (batch.py). At rate 0 they are paced by the ring instead: as many as fit,
  whenever the driver has freed space, never dropping. At a fixed rate the
  device does what hardware does when the ring is full: it drops the
  reports that do not fit, counts them in REPORTS_DROPPED, sets
  STATUS.OVERFLOW while it drops, raises OVERFLOW once per episode and
  flags the next report written DROPPED_BEFORE. Nothing is lost silently.
- the interrupt: the level interrupt every device model has
  (simulators/irq.py) over INTR_STATUS & INTR_MASK, while CTRL.IRQ_EN is
  set. A cause is raised by setting its INTR_STATUS bit, which sends a
  datagram if the bit was clear and is unmasked; while an unmasked bit
  stays set the datagram is re-sent every RESEND_INTERVAL, as a
  level-triggered line stays asserted. That also covers the rare case of
  the model's setting of a bit undoing an acknowledgement that landed in
  between.

Counters and the sequence live in the registers, not in the model, so a
new simulator process (or `inject`) continues where the last one stopped:
the next report's sequence number is REPORTS_PRODUCED + REPORTS_DROPPED.
Answers to commands (ECHO, EVENT) are written even while CTRL.ENABLE is
clear; only the stream waits for it.
"""

from __future__ import annotations

import dataclasses
import select
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..device import DeviceModel
from ..errors import DriverNotListening, GuestGone, SimulatorError
from ..irq import InterruptLine, InterruptRegisters
from ..peer import GuestWatch
from ..regfile import Buffer, RegisterFile
from . import icd
from .batch import ReportBatch
from .doorbell import Doorbell
from .regs import FPGA, FPGA_ID, HW_MAJOR, HW_MINOR, Ctrl, Intr, Status
from .ring import MASK32, Ring, RingRegisters
from .stream import Stats, StreamConfig, event_template, samples_template

MAX_BATCH_BYTES = 1 << 20  # a batch in flight is at most this, so readers start early
MAX_BATCH_REPORTS = 8192
RESEND_INTERVAL = 0.005
IDLE_WAIT = 0.005  # nothing to do: how long select() waits for the doorbell
# Each pass of the loop costs tens of microseconds of Python whatever it
# writes, so the device works in batches: at a fixed rate, of at least this
# much time; paced by the ring, of at least RING_BATCH of the ring's space.
MIN_WAIT = 0.001
RING_BATCH = 8
# A simulator that falls further behind its rate than this (a GC pause, the
# host scheduler) skips ahead instead of bursting: a burst could overflow a
# ring that real hardware, producing on time, would not have. The skipped
# time shows in Stats.late_seconds and in the achieved rate.
MAX_LAG = 0.02
POLL_MIN = 100e-6  # ring full at rate 0: first poll of the tail, then doubling
POLL_MAX = 0.002


class Fpga(DeviceModel):
    """The FPGA whose registers and rings are `mem` (the iomem region, mapped)."""

    interrupt_registers = InterruptRegisters(
        "INTR_STATUS", "INTR_MASK", enable=("CTRL", Ctrl.IRQ_EN)
    )
    irq: InterruptLine | None

    def __init__(
        self,
        mem: Buffer,
        *,
        index: int = 0,
        irq: InterruptLine | None = None,
        doorbell: Doorbell | None = None,
        watch: GuestWatch | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mem = mem
        self.index = index
        self.name = f"fpga{index}"
        regs = RegisterFile(FPGA, mem, device=self.name)
        super().__init__(regs, irq, resend_interval=RESEND_INTERVAL)
        self._report_ring = RingRegisters.named(regs, "REPORT_RING")
        self._command_ring = RingRegisters.named(regs, "CMD_RING")
        self.doorbell = doorbell
        self.watch = watch or GuestWatch()  # whatever waits asks it whether the guest is gone
        self.clock = clock
        self.config = StreamConfig()
        self.running = False
        self.remaining: int | None = None  # streamed reports left; None: no limit
        self._batches: dict[tuple[int, int], ReportBatch] = {}
        self._started = clock()
        self._anchor = (self._started, 0)  # (time, streamed): where the pacing counts from
        self._since_status = 0
        self._overflowing = False
        self._poll = POLL_MIN
        self._first_streamed = 0.0
        self.stats = Stats()
        self._power_on()

    # --- registers -------------------------------------------------------------

    def _power_on(self) -> None:
        """ID and VERSION, as the device has them from reset; the rest is left as it is.

        (A second process, `sim fpga status` say, must not reset a running stream's state.)
        """
        self.regs.write("ID", FPGA_ID)
        self.regs.write("VERSION", (HW_MAJOR << 24) | (HW_MINOR << 16) | icd.VERSION)

    def _set_status(self, bit: Status, on: bool) -> None:
        if on:
            self.regs.set_bits("STATUS", bit)
        else:
            self.regs.clear_bits("STATUS", bit)

    def _count(self, name: str, amount: int = 1) -> None:
        # Counters have one writer, the device: a load and a store.
        word = self.regs.word(name)
        word.set(word.get() + amount)

    def _reg(self, name: str) -> int:
        """A register's value, one load."""
        return self.regs.word(name).get()

    def next_sequence(self) -> int:
        return (self._reg("REPORTS_PRODUCED") + self._reg("REPORTS_DROPPED")) & MASK32

    @property
    def enabled(self) -> bool:
        return bool(self._reg("CTRL") & Ctrl.ENABLE)

    def report_ring(self) -> Ring | None:
        """The report ring as the driver set it up; None while it has not."""
        return Ring.from_registers(self.mem, self._report_ring, what="report")

    def command_ring(self) -> Ring | None:
        return Ring.from_registers(self.mem, self._command_ring, what="command")

    # --- interrupts --------------------------------------------------------------

    def raise_irq(self, cause: Intr) -> None:
        """Set `cause` in INTR_STATUS: a datagram if that asserts the interrupt anew."""
        self._signal(lambda: self.interrupt.raise_cause(cause))

    def _signal(self, send: Callable[[], bool]) -> None:
        try:
            if send():
                self.stats.interrupts += 1
        except DriverNotListening:
            pass  # unloaded: it clears CTRL first, and the next load starts afresh

    # --- writing reports ---------------------------------------------------------

    def _publish(self, ring: Ring, head: int, count: int, size: int) -> None:
        """Move HEAD past `count` reports of `size` bytes in all, already in the ring."""
        ring.head.set(head + size)  # after the data: x86 keeps stores in order
        self._count("REPORTS_PRODUCED", count)
        self._count("BYTES_PRODUCED", size)
        self.stats.written += count
        self.stats.nbytes += size
        if self._overflowing:
            self._overflowing = False
            self._set_status(Status.OVERFLOW, False)
        self.raise_irq(Intr.REPORT_READY)

    def _drop(self, count: int) -> None:
        self._count("REPORTS_DROPPED", count)
        self.stats.dropped += count
        if not self._overflowing:
            self._overflowing = True
            self._set_status(Status.OVERFLOW, True)
            self.raise_irq(Intr.OVERFLOW)

    def _flags(self) -> int:
        return icd.ReportFlag.DROPPED_BEFORE if self._overflowing else 0

    def emit(self, report_type: icd.ReportType, payload: bytes) -> bool:
        """Write one report now (answers, STATUS); False if the ring was full and it was dropped."""
        ring = self.report_ring()
        sequence = self.next_sequence()
        if ring is None:
            return False
        data = icd.build_report(
            report_type,
            sequence,
            payload,
            timestamp_ns=time.monotonic_ns(),
            flags=self._flags(),
        )
        if ring.free() < len(data):
            self._drop(1)
            return False
        head = ring.head.get()
        ring.write(head, np.frombuffer(data, np.uint8))
        self._publish(ring, head, 1, len(data))
        return True

    def status_payload(self) -> bytes:
        reg = self._reg
        return icd.status_payload(
            temperature_mc=45000 + 250 * self.index,
            vccint_mv=850,
            vccaux_mv=1800,
            vccbram_mv=850,
            reports_produced=reg("REPORTS_PRODUCED"),
            reports_dropped=reg("REPORTS_DROPPED"),
            commands_consumed=reg("COMMANDS_CONSUMED"),
            command_errors=reg("COMMAND_ERRORS"),
            uptime_ms=int((self.clock() - self._started) * 1000) & MASK32,
        )

    def _batch(self) -> ReportBatch:
        config = self.config
        size = config.report_length
        key = (int(config.report_type), size)
        batch = self._batches.get(key)
        if batch is None:
            if config.report_type == icd.ReportType.SAMPLES:
                template = samples_template(size, self.index)
            elif config.report_type == icd.ReportType.EVENT:
                template = event_template(size)
            else:
                template = icd.build_report(icd.ReportType.STATUS, 0, self.status_payload())
            capacity = max(1, min(MAX_BATCH_REPORTS, MAX_BATCH_BYTES // size))
            batch = self._batches[key] = ReportBatch(template, capacity)
        if config.report_type == icd.ReportType.STATUS:
            batch.retemplate(icd.build_report(icd.ReportType.STATUS, 0, self.status_payload()))
        return batch

    def stream(self, count: int) -> int:
        """Produce `count` streamed reports now: write those that fit, drop the rest.

        Returns how many were produced (written or dropped), at most one batch.
        """
        ring = self.report_ring()
        if ring is None or count <= 0:
            return 0
        batch = self._batch()
        count = min(count, batch.capacity)
        if self.config.status_period:
            count = min(count, self.config.status_period - self._since_status)
        fit = min(count, ring.free() // batch.length)
        if fit:
            now = time.monotonic_ns()
            spacing = 1e9 / self.config.rate if self.config.rate else 0.0
            stamps = now - (np.arange(fit - 1, -1, -1, dtype=np.float64) * spacing)
            rows = batch.build(self.next_sequence(), stamps.astype(np.uint64), self._flags())
            head = ring.head.get()
            ring.write(head, rows.reshape(-1))
            self._publish(ring, head, fit, fit * batch.length)
        if count > fit:
            self._drop(count - fit)
        if not self.stats.streamed:
            self._first_streamed = self.clock()
        self.stats.streamed += count
        self.stats.stream_seconds = self.clock() - self._first_streamed
        self._since_status += count
        if self.config.status_period and self._since_status >= self.config.status_period:
            self._since_status = 0
            self.emit(icd.ReportType.STATUS, self.status_payload())
        return count

    def inject(self, data: bytes) -> None:
        """Put raw bytes (crafted, malformed...) into the report ring as they are, and raise it.

        They are not the device's reports: no counter or sequence number moves.
        """
        ring = self.report_ring()
        if ring is None:
            raise SimulatorError(f"{self.name}: the driver has not set up the report ring")
        if len(data) > ring.free():
            raise SimulatorError(
                f"{self.name}: {len(data)} bytes do not fit the {ring.free()} free in the ring"
            )
        head = ring.head.get()
        ring.write(head, np.frombuffer(data, np.uint8))
        ring.head.set(head + len(data))
        self.raise_irq(Intr.REPORT_READY)

    # --- commands ----------------------------------------------------------------

    def service_commands(self) -> int:
        """Execute every command in the ring; how many there were."""
        ring = self.command_ring()
        if ring is None:
            return 0
        done = 0
        while True:
            tail = ring.tail.get()
            waiting = ring.used()
            if not waiting:
                break
            size = self._command_at(ring, tail, waiting)
            ring.tail.set(tail + size)  # consumed: the driver may reuse the bytes
            self._count("COMMANDS_CONSUMED")
            self.stats.commands += 1
            done += 1
        if done:
            self.raise_irq(Intr.CMD_DONE)
        return done

    def _command_at(self, ring: Ring, position: int, waiting: int) -> int:
        """Execute the command at `position`; the bytes it takes (all `waiting`, if broken)."""
        if waiting > ring.size or waiting < icd.COMMAND_HEADER_SIZE:
            self._reject(icd.EventCode.BAD_COMMAND, f"{waiting} bytes in the command ring")
            return waiting
        size = icd.command_size(ring.read(position, icd.COMMAND_HEADER_SIZE))
        if size is None or size > waiting:
            # Without a trustworthy length there is no next command to find.
            self._reject(icd.EventCode.BAD_COMMAND, "bad command header")
            return waiting
        try:
            command = icd.parse_command(ring.read(position, size))
        except icd.IcdError as error:
            self._reject(icd.EventCode.BAD_COMMAND, str(error))
            return size
        self.execute(command)
        return size

    def _reject(self, code: icd.EventCode, text: str) -> None:
        self._count("COMMAND_ERRORS")
        self.stats.command_errors += 1
        self._set_status(Status.ERROR, True)
        self.emit(icd.ReportType.EVENT, icd.event_payload(code, text))

    def execute(self, command: icd.Command) -> None:
        try:
            opcode = icd.Opcode(command.opcode)
        except ValueError:
            self._reject(icd.EventCode.UNKNOWN_OPCODE, f"opcode {command.opcode}")
            return
        args: Any = command.payload
        if opcode == icd.Opcode.RESET:
            self.config = StreamConfig()
            self.resume(False)
            self._set_status(Status.ERROR, False)
            self.regs.word("RATE").set(self.config.rate)
        elif opcode == icd.Opcode.START:
            self.resume(True)
        elif opcode == icd.Opcode.STOP:
            self.resume(False)
        elif opcode == icd.Opcode.SET_RATE:
            self.set_rate(int(args.rate))
        elif opcode == icd.Opcode.SET_PARAM:
            self._set_param(int(args.id), int(args.value))
        elif opcode == icd.Opcode.ECHO:
            self.stats.echoes.append(bytes(args.data))
            self.emit(icd.ReportType.ECHO, icd.echo_payload(command.tag, bytes(args.data)))

    def _set_param(self, param: int, value: int) -> None:
        new = dataclasses.replace(self.config)
        try:
            if param == icd.Param.REPORT_TYPE:
                new.report_type = icd.ReportType(value)
            elif param == icd.Param.REPORT_SIZE:
                new.report_size = value
            elif param == icd.Param.STATUS_PERIOD:
                new.status_period = value
            else:
                self._reject(icd.EventCode.BAD_ARGUMENT, f"no parameter {param}")
                return
            new.check()
        except (ValueError, SimulatorError) as error:
            self._reject(icd.EventCode.BAD_ARGUMENT, f"parameter {param} = {value}: {error}")
            return
        self.config = new
        self._since_status = 0
        self._batch()
        self._anchor = (self.clock(), self.stats.streamed)

    # --- the stream ----------------------------------------------------------------

    def set_rate(self, rate: int) -> None:
        self.config.rate = rate
        self.regs.word("RATE").set(rate)
        self._anchor = (self.clock(), self.stats.streamed)

    def start_stream(self, on: bool = True, count: int | None = None) -> None:
        """Start a stream of `count` reports (None: without end), or stop streaming."""
        if on:
            self.remaining = count
        self.resume(on)

    def resume(self, on: bool = True) -> None:
        """START and STOP: run or pause the stream, keeping what is left of its count."""
        if on:
            self._batch()  # the tables for a new report length take a while: not on the clock
            self._anchor = (self.clock(), self.stats.streamed)
        self.running = on and self.remaining != 0
        self._set_status(Status.RUNNING, self.running)

    def _due(self, now: float, ring: Ring) -> int:
        """How many streamed reports are due now."""
        if self.config.rate:
            since, streamed = self._anchor
            due = streamed + int((now - since) * self.config.rate) - self.stats.streamed
            if due > MAX_LAG * self.config.rate:
                late = due / self.config.rate - MIN_WAIT
                self.stats.late_seconds += late
                self._anchor = (since + late, streamed)
                due = int(MIN_WAIT * self.config.rate)
        else:
            free = ring.free()
            due = free // self.config.report_length
            wanted = min(ring.size // RING_BATCH, MAX_BATCH_BYTES)
            if free < wanted and (self.remaining is None or due < self.remaining):
                due = 0  # wait for a worthwhile batch rather than trickle
        if self.remaining is not None:
            due = min(due, self.remaining)
        return max(0, due)

    def step(self) -> float:
        """Do what is due now; the seconds until something else will be (at most IDLE_WAIT)."""
        now = self.clock()
        if self.doorbell is not None:
            self.doorbell.drain()
        self.service_commands()
        wait = IDLE_WAIT
        ring = self.report_ring() if self.running else None
        if ring is not None and not self.enabled:
            # No reader: the stream waits, and does not catch up afterwards.
            self._anchor = (now, self.stats.streamed)
        elif ring is not None:
            due = self._due(now, ring)
            produced = self.stream(due) if due else 0
            if self.remaining is not None:
                self.remaining -= produced
                if self.remaining <= 0:
                    self.resume(False)
            if produced < due:
                wait = 0.0  # more to do right away
            elif self.config.rate:
                wait = max(MIN_WAIT, 1 / self.config.rate)
            else:
                # Paced by the ring and it is full: poll the tail, backing off.
                wait = self._poll
                self._poll = min(2 * self._poll, POLL_MAX)
            if produced:
                self._poll = POLL_MIN
        self._signal(self.interrupt.update)  # the level stays up: re-sent while it does
        return min(wait, IDLE_WAIT)

    def run(
        self,
        *,
        count: int | None = None,
        duration: float | None = None,
        linger: float = 0.0,
        stop: threading.Event | None = None,
        stream: bool = True,
    ) -> Stats:
        """Stream `count` reports (None: without end), then serve commands `linger` seconds.

        `duration` bounds the whole run; `stop` ends it from another thread.
        With `stream` False the device only answers commands until START.
        STOP pauses the stream and START resumes it, with what is left of
        `count`; the run ends only when all of it has been produced, or
        with GuestGone when the guest has gone.
        """
        started = self.clock()
        self.stats = Stats()
        self._anchor = (started, 0)
        self.regs.word("RATE").set(self.config.rate)
        self.start_stream(stream, count)
        idle_since: float | None = None
        while stop is None or not stop.is_set():
            self._check_guest()
            wait = self.step()
            now = self.clock()
            if duration is not None and now - started >= duration:
                break
            if count is not None and self.remaining is not None and self.remaining <= 0:
                idle_since = now if idle_since is None else idle_since
                if now - idle_since >= linger:
                    break
            else:
                idle_since = None
            if wait > 0:
                self._sleep(wait)
        self.stats.seconds = self.clock() - started
        return self.stats

    def _check_guest(self) -> None:
        try:
            self.watch.check()
        except GuestGone as gone:
            stats = self.stats
            raise gone.after(
                f"{self.name} stopped after {stats.streamed} reports ({stats.dropped} dropped) "
                f"and {stats.commands} commands"
            ) from None

    def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once when the doorbell rings."""
        if self.doorbell is None:
            time.sleep(seconds)
            return
        select.select([self.doorbell], [], [], seconds)

    def wait_drained(self, timeout: float = 10.0) -> bool:
        """Wait until the driver has consumed everything in the report ring.

        False if it has not within `timeout`; GuestGone if it never will.
        """
        deadline = self.clock() + timeout
        while self.clock() < deadline:
            ring = self.report_ring()
            if ring is not None and ring.used() == 0:
                return True
            try:
                self.watch.check()
            except GuestGone as gone:
                unread = ring.used() if ring is not None else 0
                raise gone.after(f"{unread} bytes are left unread in the report ring") from None
            self._signal(self.interrupt.update)
            time.sleep(0.001)
        return False

    # --- inspection ------------------------------------------------------------------

    def describe(self) -> str:
        """A one-screen summary: state, rings and counters."""
        reg = self._reg
        lines = [
            f"{self.name}: ID {reg('ID'):#010x}, CTRL {_flags(Ctrl, reg('CTRL'))}, "
            f"STATUS {_flags(Status, reg('STATUS'))}, rate {reg('RATE')} reports/s",
        ]
        for what, ring in (("report", self.report_ring()), ("command", self.command_ring())):
            if ring is None:
                lines.append(f"{what} ring: not set up (is the driver loaded?)")
            else:
                lines.append(
                    f"{what} ring: {ring.size} bytes at {ring.base:#x}, {ring.used()} in use"
                )
        lines.append(
            f"reports produced {reg('REPORTS_PRODUCED')}, dropped "
            f"{reg('REPORTS_DROPPED')}, bytes {reg('BYTES_PRODUCED')}; commands "
            f"consumed {reg('COMMANDS_CONSUMED')}, rejected {reg('COMMAND_ERRORS')}"
        )
        return "\n".join(lines)


def _flags(kind: type[Ctrl] | type[Status], value: int) -> str:
    """'IRQ_EN|ENABLE', or '-' when no bit is set."""
    return "|".join(str(member.name) for member in kind if member & value) or "-"
