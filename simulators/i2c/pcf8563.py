"""NXP PCF8563 real-time clock: 16 byte registers, BCD time running from the host clock.

The address pointer is a byte offset that auto-increments and wraps after
0x0F. The time counters (0x02-0x08) hold BCD seconds (bit 7: VL, low
voltage), minutes, hours (24 h), days, weekdays (0-6, not checked against
the date), century_months (bit 7: C) and years. The clock is the counters
plus the host time since they last ticked: each message first brings the
counters up to date from `clock` (`time.time`), once, so that all the bytes of one
read are of the same second (the chip freezes its counters during an
access). A write to any time counter restarts the second there, and
rtc-pcf8563 writes them one message per byte: a counter set that is no
date yet (day 31 written before the month) stops the clock until the
counters form a date again, as the chip's behaviour for impossible dates
is not specified.

Century: C = 0 for 20xx, 1 for 19xx (and toggles when years roll over
from 99, so 2099 rolls over to 1900, as the chip would). rtc-pcf8563
guesses C's polarity from what it reads; with C = 0 at 20xx it reads and
writes 2000-2099 dates, its range.

VL is clear at start (rtc-pcf8563 refuses to read the time while it is
set); `report_low_voltage` sets it, and a write of the seconds clears it,
as on the chip. STOP (control_status_1 bit 5) stops the clock.

Alarm and timer: their registers are stored; AF and TF can only be cleared
(a written 0 clears, a 1 keeps), and the INT pin (open drain, active low)
is active while AF and AIE, or TF and TIE, are set. The chip's own alarm
matching and countdown are not run: `trigger_alarm` sets AF as a matching
alarm does. CLKOUT and TI_TP pulses are not modelled.

The model's time is UTC by convention (the RTC holds no time zone; Linux
keeps UTC in it): `time()` returns a naive datetime; `set_time` takes a
naive one as is and converts an aware one to UTC.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import ClassVar

from construct import BitsInteger, BitStruct, Flag, Int8ub, Struct

from ..errors import SimulatorError
from .model import I2cModel

CONTROL_STATUS_1_BITS = BitStruct(
    "TEST1" / Flag,  # bit 7
    "Reserved7" / BitsInteger(1),
    "STOP" / Flag,  # bit 5: the clock stops
    "Reserved4" / BitsInteger(1),
    "TESTC" / Flag,  # bit 3: power-on reset override
    "Reserved2" / BitsInteger(3),
)

CONTROL_STATUS_2_BITS = BitStruct(
    "Reserved" / BitsInteger(3),
    "TI_TP" / Flag,  # bit 4: INT pulses for the timer
    "AF" / Flag,  # bit 3: alarm flag
    "TF" / Flag,  # bit 2: timer flag
    "AIE" / Flag,  # bit 1: alarm interrupt enable
    "TIE" / Flag,  # bit 0: timer interrupt enable
)

PCF8563 = Struct(
    "control_status_1" / CONTROL_STATUS_1_BITS,  # 0x00
    "control_status_2" / CONTROL_STATUS_2_BITS,  # 0x01
    "vl_seconds" / Int8ub,  # 0x02
    "minutes" / Int8ub,
    "hours" / Int8ub,
    "days" / Int8ub,
    "weekdays" / Int8ub,
    "century_months" / Int8ub,
    "years" / Int8ub,  # 0x08
    "minute_alarm" / Int8ub,  # 0x09
    "hour_alarm" / Int8ub,
    "day_alarm" / Int8ub,
    "weekday_alarm" / Int8ub,
    "clkout_control" / Int8ub,  # 0x0d
    "timer_control" / Int8ub,  # 0x0e
    "timer" / Int8ub,  # 0x0f
)

STOP = 0x20
AF, TF, AIE, TIE = 0x08, 0x04, 0x02, 0x01
VL = 0x80
CENTURY = 0x80

#: The bits each register keeps of what is written (the others read 0).
WRITABLE = {
    "control_status_1": 0xA8,
    "control_status_2": 0x1F,
    "vl_seconds": 0xFF,
    "minutes": 0x7F,
    "hours": 0x3F,
    "days": 0x3F,
    "weekdays": 0x07,
    "century_months": 0x9F,
    "years": 0xFF,
    "minute_alarm": 0xFF,
    "hour_alarm": 0xBF,
    "day_alarm": 0xBF,
    "weekday_alarm": 0x87,
    "clkout_control": 0x83,
    "timer_control": 0x83,
    "timer": 0xFF,
}
TIME_REGISTERS = ("vl_seconds", "minutes", "hours", "days", "weekdays", "century_months", "years")

#: Power-on values (datasheet table 4; undefined bits chosen so that alarms read as a date).
RESET = {
    "control_status_1": 0x08,
    "minute_alarm": 0x80,
    "hour_alarm": 0x80,
    "day_alarm": 0x81,
    "weekday_alarm": 0x80,
    "clkout_control": 0x80,
    "timer_control": 0x03,
}


def bcd(value: int) -> int:
    return (value // 10) << 4 | value % 10


def from_bcd(value: int) -> int | None:
    """The number a BCD byte holds, or None if a digit is above 9."""
    high, low = value >> 4, value & 0x0F
    return None if high > 9 or low > 9 else high * 10 + low


def utc_naive(moment: datetime) -> datetime:
    """A naive datetime in UTC: aware ones converted, naive ones taken as UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def parse_time(value: str, device: str) -> datetime:
    """The `time` option: 'now' or an ISO 8601 date and time ('Z' or an offset allowed)."""
    if value == "now":
        return datetime.now(timezone.utc).replace(tzinfo=None)
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        return utc_naive(datetime.fromisoformat(text))
    except ValueError:
        raise SimulatorError(
            f"{device} option time={value!r} is neither 'now' nor an ISO 8601 time "
            "(2024-02-29T12:00:00Z)"
        ) from None


class Pcf8563(I2cModel):
    """A PCF8563 whose clock starts at `time` (option: ISO 8601 or 'now', the default)."""

    layout = PCF8563
    compatible = "nxp,pcf8563"
    irq_trigger = "low"
    registers_by_pointer = None
    option_defaults: ClassVar[Mapping[str, str]] = {"time": "now"}

    def setup(self) -> None:
        start = parse_time(self.options["time"], self.regs.device)
        #: The host clock the chip's time runs from (a test may put a fake one here).
        self.clock: Callable[[], float] = time.time
        self._now = self.clock()  # the host time of the current message
        self._ticked = self._now  # host time at which the counters took their value
        for name, value in RESET.items():
            self.regs.write(name, value)
        self._store_time(start)
        for name, writable in WRITABLE.items():
            self.regs.on_write(name, self._keeper(writable))
        self.regs.on_write("control_status_2", self._write_control_status_2)

    # --- the model's API ---------------------------------------------------

    def time(self) -> datetime:
        """The clock's current time (naive, UTC by convention)."""
        with self.locked():
            self._advance(self.clock())
            current = self._counters()
        if current is None:
            raise SimulatorError(f"{self.regs.device}'s counters hold no date: {self._raw()}")
        return current

    def set_time(self, moment: datetime) -> None:
        """Set the clock to `moment` (naive: UTC; aware: converted), 1900-2099."""
        with self.locked():
            self._store_time(utc_naive(moment))

    def report_low_voltage(self) -> None:
        """Set VL, as the chip does after its supply dropped: the time is not trusted."""
        with self.locked():
            self.regs.write("vl_seconds", self.regs.read("vl_seconds") | VL)

    def trigger_alarm(self) -> None:
        """Set AF, as a matching alarm does; INT follows if AIE is set."""
        with self.locked():
            self.regs.write("control_status_2", self.regs.read("control_status_2") | AF)
            self._drive()

    # --- the driver's accesses ---------------------------------------------

    def begin_message(self) -> None:
        self._now = self.clock()
        self._advance(self._now)

    def after_write(self, names: Sequence[str]) -> None:
        if any(name in TIME_REGISTERS for name in names):
            self._ticked = self._now  # a written second starts now
        self._drive()

    # --- the clock ---------------------------------------------------------------

    def _advance(self, now: float) -> None:
        """Tick the counters by the whole seconds since they last ticked (lock held)."""
        if self.regs.read("control_status_1") & STOP:
            self._ticked = now
            return
        elapsed = int(now - self._ticked)
        if elapsed <= 0:
            return
        self._ticked += elapsed
        current = self._counters()
        if current is None:
            return
        later = current + timedelta(seconds=elapsed)
        weekday = (self.regs.read("weekdays") + (later.date() - current.date()).days) % 7
        self._write_counters(later, weekday)

    def _store_time(self, moment: datetime) -> None:
        if not 1900 <= moment.year <= 2099:
            raise SimulatorError(f"{self.regs.device} holds 1900 to 2099, not {moment.year}")
        weekday = (moment.weekday() + 1) % 7  # Linux's tm_wday: Sunday is 0
        self._write_counters(moment.replace(microsecond=0), weekday)
        self._ticked = self.clock() - moment.microsecond / 1e6

    def _write_counters(self, moment: datetime, weekday: int) -> None:
        vl = self.regs.read("vl_seconds") & VL
        century = CENTURY if (moment.year // 100) % 2 else 0
        self.regs.write("vl_seconds", vl | bcd(moment.second))
        self.regs.write("minutes", bcd(moment.minute))
        self.regs.write("hours", bcd(moment.hour))
        self.regs.write("days", bcd(moment.day))
        self.regs.write("weekdays", weekday)
        self.regs.write("century_months", century | bcd(moment.month))
        self.regs.write("years", bcd(moment.year % 100))

    def _counters(self) -> datetime | None:
        """The date the counters hold, or None if they hold none."""
        months = self.regs.read("century_months")
        fields = [
            from_bcd(self.regs.read("years")),
            from_bcd(months & 0x1F),
            from_bcd(self.regs.read("days") & 0x3F),
            from_bcd(self.regs.read("hours") & 0x3F),
            from_bcd(self.regs.read("minutes") & 0x7F),
            from_bcd(self.regs.read("vl_seconds") & 0x7F),
        ]
        if any(field is None for field in fields):
            return None
        year, month, day, hour, minute, second = (int(field or 0) for field in fields)
        try:
            return datetime(
                (1900 if months & CENTURY else 2000) + year, month, day, hour, minute, second
            )
        except ValueError:
            return None

    def _raw(self) -> str:
        return " ".join(f"{name}={self.regs.read(name):#04x}" for name in TIME_REGISTERS)

    # --- flags and INT -------------------------------------------------------------

    @staticmethod
    def _keeper(writable: int) -> Callable[[int, int, int], int]:
        """A write hook that stores only the register's writable bits."""

        def keep(old: int, written: int, mask: int) -> int:
            return ((old & ~mask) | (written & mask)) & writable

        return keep

    @staticmethod
    def _write_control_status_2(old: int, written: int, mask: int) -> int:
        """AF and TF clear on a written 0 and stay on a written 1."""
        flags = old & written & (AF | TF)
        return (written & WRITABLE["control_status_2"] & ~(AF | TF)) | flags

    def _drive(self) -> None:
        status = self.regs.read("control_status_2")
        asserted = bool(status & AF and status & AIE) or bool(status & TF and status & TIE)
        self._set_irq(asserted, active_high=False)
