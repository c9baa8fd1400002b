"""The I2C chip models, driven only through i2c_write/i2c_read as lm75, rtc-pcf8563 and
opt3001 drive them (their SMBus byte, word and block accesses, in their order)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from simulators.errors import SimulatorError
from simulators.i2c import I2cModel, I2cNak, Lm75, Opt3001, Pcf8563, UnconnectedPin

# --- SMBus accesses as the kernel's i2c core emulates them -------------------------


def read_byte(model: I2cModel, pointer: int) -> int:
    """i2c_smbus_read_byte_data: write the pointer, read one byte."""
    model.i2c_write(bytes([pointer]))
    return model.i2c_read(1)[0]


def write_byte(model: I2cModel, pointer: int, value: int) -> None:
    model.i2c_write(bytes([pointer, value]))


def read_word(model: I2cModel, pointer: int) -> int:
    """i2c_smbus_read_word_swapped / regmap with 16-bit big-endian values."""
    model.i2c_write(bytes([pointer]))
    return int.from_bytes(model.i2c_read(2), "big")


def write_word(model: I2cModel, pointer: int, value: int) -> None:
    model.i2c_write(bytes([pointer]) + value.to_bytes(2, "big"))


class RecordingPin:
    """An output pin that keeps every level it was driven to."""

    def __init__(self) -> None:
        self.levels: list[bool] = []

    def set(self, level: bool) -> None:
        self.levels.append(level)

    @property
    def level(self) -> bool:
        return self.levels[-1]


def wire(model: I2cModel) -> RecordingPin:
    pin = RecordingPin()
    model.irq_pin = pin
    return pin


# --- the bus ---------------------------------------------------------------------------


def test_quick_and_empty_messages_are_acknowledged_and_change_nothing() -> None:
    sensor = Lm75()
    read_word(sensor, 3)
    sensor.i2c_write(b"")
    assert sensor.i2c_read(0) == b""
    assert sensor.pointer == 3
    assert sensor.i2c_read(2) == bytes([80, 0])


def test_a_pointer_without_a_register_naks() -> None:
    sensor = Opt3001()
    with pytest.raises(I2cNak, match="0x10"):
        sensor.i2c_write(b"\x10")
    with pytest.raises(I2cNak):
        Lm75().i2c_write(b"\x04\x00")
    assert sensor.transfers[-1][0] == "nak"


def test_an_absent_chip_naks_even_the_quick_probe() -> None:
    sensor = Lm75()
    sensor.regs.absent = True
    with pytest.raises(I2cNak, match="absent"):
        sensor.i2c_write(b"")


def test_a_read_longer_than_the_register_repeats_it_and_extra_written_bytes_drop() -> None:
    sensor = Lm75(temperature="30")
    sensor.i2c_write(b"\x00")
    assert sensor.i2c_read(5) == bytes([30, 0, 30, 0, 30])
    sensor.i2c_write(b"\x01\x18\xff\xff")  # conf is one byte
    assert read_byte(sensor, 1) == 0x18
    assert read_word(sensor, 2) == 75 << 8


def test_unknown_and_malformed_options_are_one_line_errors() -> None:
    with pytest.raises(SimulatorError, match="options it takes are temperature"):
        Lm75(temp="3")
    with pytest.raises(SimulatorError, match="not a number"):
        Opt3001(lux="bright")
    with pytest.raises(SimulatorError, match="ISO 8601"):
        Pcf8563(time="yesterday")


def test_the_transfer_log_records_messages_in_order() -> None:
    sensor = Lm75()
    write_word(sensor, 3, 0x5000)
    read_word(sensor, 0)
    assert list(sensor.transfers) == [
        ("write", 3, b"\x50\x00"),
        ("write", 0, b""),
        ("read", 0, bytes([25, 0])),
    ]


def test_the_pin_is_driven_outside_the_register_lock() -> None:
    """A pin that calls the guest must not hold up the guest's next I2C message."""
    sensor = Lm75()
    lockable: list[bool] = []

    class Probe:
        def set(self, level: bool) -> None:
            def other() -> None:
                got = sensor.regs.lock.acquire(timeout=1)
                lockable.append(got)
                if got:
                    sensor.regs.lock.release()

            thread = threading.Thread(target=other)
            thread.start()
            thread.join()

    sensor.irq_pin = Probe()
    sensor.set_temperature(90)
    write_byte(sensor, 1, 0x04)
    assert lockable == [True, True, True]


def test_a_busy_pin_delays_no_other_caller_and_gets_every_level_in_order() -> None:
    sensor = Lm75(temperature="25")
    levels: list[bool] = []
    inside, release = threading.Event(), threading.Event()

    class SlowPin:
        def set(self, level: bool) -> None:
            levels.append(level)
            if len(levels) == 2:  # the first change after wiring waits
                inside.set()
                release.wait(5)

    sensor.irq_pin = SlowPin()
    heating = threading.Thread(target=sensor.set_temperature, args=(90,))
    heating.start()
    assert inside.wait(5)
    sensor.set_temperature(20)  # returns although the pin is busy
    assert levels == [True, False]
    release.set()
    heating.join(5)
    assert levels == [True, False, True]


# --- LM75 ----------------------------------------------------------------------------


def lm75_millicelsius(value: int) -> int:
    """lm75_reg_to_mc() at the LM75's 9-bit resolution."""
    signed = value - 0x10000 if value & 0x8000 else value
    return ((signed >> 7) * 1000) >> 1


def lm75_limit(millicelsius: int) -> int:
    """What lm75_write_temp() writes for a limit at 9-bit resolution."""
    return ((round(millicelsius * 2 / 1000)) << 7) & 0xFFFF


@pytest.mark.parametrize(("celsius", "expected"), [(25.5, 25500), (-10.5, -10500), (0, 0)])
def test_lm75_reads_the_temperature_as_the_driver_converts_it(
    celsius: float, expected: int
) -> None:
    sensor = Lm75()
    sensor.set_temperature(celsius)
    assert lm75_millicelsius(read_word(sensor, 0)) == expected


def test_lm75_probe_finds_it_running_and_limits_at_their_defaults() -> None:
    sensor = Lm75(temperature="21")
    assert read_byte(sensor, 1) == 0  # not shut down: lm75_write_config writes nothing
    assert lm75_millicelsius(read_word(sensor, 2)) == 75000
    assert lm75_millicelsius(read_word(sensor, 3)) == 80000
    write_word(sensor, 3, lm75_limit(42500))
    assert lm75_millicelsius(read_word(sensor, 3)) == 42500
    write_word(sensor, 0, 0x7F80)  # temp is read-only
    assert lm75_millicelsius(read_word(sensor, 0)) == 21000


def test_lm75_out_of_range_temperatures_are_refused() -> None:
    with pytest.raises(SimulatorError, match="-55 to 125"):
        Lm75().set_temperature(130)


def test_lm75_in_shutdown_keeps_its_last_reading() -> None:
    sensor = Lm75(temperature="20")
    write_byte(sensor, 1, 0x01)
    sensor.set_temperature(30)
    assert lm75_millicelsius(read_word(sensor, 0)) == 20000
    write_byte(sensor, 1, 0x00)
    assert lm75_millicelsius(read_word(sensor, 0)) == 30000


def test_lm75_comparator_mode_os_follows_tos_and_thyst() -> None:
    sensor = Lm75(temperature="25")
    pin = wire(sensor)
    assert pin.levels == [True]
    sensor.set_temperature(80)  # not above Tos
    assert pin.level is True
    sensor.set_temperature(80.5)
    assert pin.level is False  # active low
    sensor.set_temperature(75)  # between: stays active
    assert pin.level is False
    read_word(sensor, 0)  # reads do not release comparator mode
    assert pin.level is False
    sensor.set_temperature(74.5)
    assert pin.levels == [True, False, True]


def test_lm75_limit_write_reevaluates_os() -> None:
    sensor = Lm75(temperature="50")
    pin = wire(sensor)
    write_word(sensor, 3, lm75_limit(45000))
    assert pin.level is False


def test_lm75_polarity_bit_makes_os_active_high() -> None:
    sensor = Lm75(temperature="90")
    pin = wire(sensor)
    assert pin.level is False
    write_byte(sensor, 1, 0x04)
    assert pin.level is True
    sensor.set_temperature(20)
    assert pin.level is False


def test_lm75_interrupt_mode_asserts_on_crossings_and_a_read_releases() -> None:
    sensor = Lm75(temperature="25")
    pin = wire(sensor)
    write_byte(sensor, 1, 0x02)
    sensor.set_temperature(81)
    assert pin.level is False
    sensor.set_temperature(85)
    assert pin.levels == [True, False]  # no second event above Tos
    read_word(sensor, 2)  # any register
    assert pin.level is True
    sensor.set_temperature(76)
    assert pin.level is True
    sensor.set_temperature(74)
    assert pin.level is False
    read_byte(sensor, 1)
    assert pin.levels == [True, False, True, False, True]


def test_lm75_interrupt_mode_shutdown_releases_os() -> None:
    sensor = Lm75(temperature="25")
    pin = wire(sensor)
    write_byte(sensor, 1, 0x02)
    sensor.set_temperature(90)
    assert pin.level is False
    write_byte(sensor, 1, 0x03)
    assert pin.level is True


# --- PCF8563 -------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def rtc(start: str) -> tuple[Pcf8563, FakeClock]:
    chip = Pcf8563(time=start)
    clock = FakeClock()
    chip.clock = clock
    chip.set_time(datetime.fromisoformat(start))
    return chip, clock


def bcd(value: int) -> int:
    return (value // 10) << 4 | value % 10


def unbcd(value: int) -> int:
    return (value >> 4) * 10 + (value & 0x0F)


def read_rtc_time(chip: Pcf8563) -> tuple[datetime, int, bool]:
    """pcf8563_rtc_read_time: one transfer of 9 bytes from 0; (time, wday, C)."""
    chip.i2c_write(b"\x00")
    buf = chip.i2c_read(9)
    assert not buf[2] & 0x80, "VL set: the driver refuses the time"
    moment = datetime(
        2000 + unbcd(buf[8]),
        unbcd(buf[7] & 0x1F),
        unbcd(buf[5] & 0x3F),
        unbcd(buf[4] & 0x3F),
        unbcd(buf[3] & 0x7F),
        unbcd(buf[2] & 0x7F),
    )
    return moment, buf[6] & 0x07, bool(buf[7] & 0x80)


def write_rtc_time(chip: Pcf8563, moment: datetime) -> None:
    """pcf8563_rtc_set_time: seconds..years, one two-byte message per register."""
    wday = (moment.weekday() + 1) % 7
    values = [
        bcd(moment.second),
        bcd(moment.minute),
        bcd(moment.hour),
        bcd(moment.day),
        wday,
        bcd(moment.month),
        bcd(moment.year - 2000),
    ]
    for offset, value in enumerate(values):
        chip.i2c_write(bytes([2 + offset, value]))


def test_pcf8563_reads_its_start_time_with_vl_clear() -> None:
    chip, _ = rtc("2024-05-17T08:30:15")
    moment, wday, century = read_rtc_time(chip)
    assert moment == datetime(2024, 5, 17, 8, 30, 15)
    assert wday == 5  # a Friday
    assert century is False


def test_pcf8563_now_option_starts_at_the_host_time() -> None:
    chip = Pcf8563()
    expected = datetime.now(timezone.utc).replace(tzinfo=None)
    assert abs(chip.time() - expected) < timedelta(seconds=2)


def test_pcf8563_time_runs_from_the_host_clock() -> None:
    chip, clock = rtc("2023-02-28T23:59:59")
    clock.now += 0.6
    assert read_rtc_time(chip)[0] == datetime(2023, 2, 28, 23, 59, 59)
    clock.now += 0.6
    moment, wday, _ = read_rtc_time(chip)
    assert moment == datetime(2023, 3, 1, 0, 0, 0)
    assert wday == 3  # Tuesday's counter went on to Wednesday
    clock.now += 3600
    assert chip.time() == datetime(2023, 3, 1, 1, 0, 0)


def test_pcf8563_driver_write_byte_by_byte_sets_the_time() -> None:
    chip, clock = rtc("2024-02-10T12:00:00")
    target = datetime(2024, 3, 31, 22, 15, 40)  # day 31 lands while the month is still 2
    write_rtc_time(chip, target)
    assert read_rtc_time(chip)[:2] == (target, 0)
    clock.now += 1.0
    assert read_rtc_time(chip)[0] == target + timedelta(seconds=1)


def test_pcf8563_century_bit_toggles_when_years_roll_over() -> None:
    chip, clock = rtc("1999-12-31T23:59:59")
    chip.i2c_write(b"\x07")
    assert chip.i2c_read(1)[0] & 0x80
    clock.now += 1.0
    moment, _, century = read_rtc_time(chip)
    assert (moment, century) == (datetime(2000, 1, 1), False)


def test_pcf8563_probe_writes_and_alarm_flags() -> None:
    chip, _ = rtc("2024-01-01T00:00:00")
    pin = wire(chip)
    write_byte(chip, 0x0E, 0x03)  # timer at 1/60 Hz
    write_byte(chip, 0x01, 0x00)  # clear flags, no interrupts
    assert read_byte(chip, 0x0E) == 0x03
    chip.trigger_alarm()
    assert read_byte(chip, 0x01) == 0x08 and pin.level is True  # AIE clear: INT stays off
    write_byte(chip, 0x01, 0x08 | 0x02)  # AIE on, AF written 1: kept
    assert pin.level is False
    write_byte(chip, 0x01, 0x02)  # the irq handler clears AF
    assert read_byte(chip, 0x01) == 0x02
    assert pin.levels == [True, False, True]


def test_pcf8563_pointer_auto_increments_and_wraps() -> None:
    chip, _ = rtc("2024-01-01T00:00:00")
    chip.i2c_write(b"\x0f\x42")
    assert chip.pointer == 0
    chip.i2c_write(b"\x0f")
    assert chip.i2c_read(2) == bytes([0x42, 0x08])
    assert chip.pointer == 1


def test_pcf8563_vl_is_reported_until_the_seconds_are_written() -> None:
    chip, _ = rtc("2024-01-01T00:00:00")
    chip.report_low_voltage()
    assert read_byte(chip, 0x02) & 0x80
    write_rtc_time(chip, datetime(2024, 6, 1, 10, 0, 0))
    assert not read_byte(chip, 0x02) & 0x80


def test_pcf8563_stop_bit_freezes_the_clock() -> None:
    chip, clock = rtc("2024-01-01T00:00:00")
    write_byte(chip, 0x00, 0x20)
    clock.now += 5
    assert chip.time() == datetime(2024, 1, 1)
    write_byte(chip, 0x00, 0x00)
    clock.now += 2
    assert chip.time() == datetime(2024, 1, 1, 0, 0, 2)


def test_pcf8563_set_time_converts_aware_times_to_utc() -> None:
    chip, _ = rtc("2024-01-01T00:00:00")
    chip.set_time(datetime(2024, 7, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))))
    assert read_rtc_time(chip)[0] == datetime(2024, 7, 1, 10, 0)


# --- OPT3001 ---------------------------------------------------------------------


def opt3001_millilux(code: int) -> int:
    """opt3001_to_iio_ret in milli-lux."""
    return 10 * ((code & 0xFFF) << (code >> 12))


def opt3001_probe(chip: Opt3001) -> None:
    """opt3001_read_id, then opt3001_configure."""
    assert read_word(chip, 0x7E) == 0x5449
    assert read_word(chip, 0x7F) == 0x3001
    reg = read_word(chip, 0x01)
    reg = (reg & ~0xF000) | 0xC000
    reg &= ~0x0600  # shutdown
    reg = (reg | 0x0010) & ~(0x0008 | 0x0004 | 0x0003)
    write_word(chip, 0x01, reg)
    read_word(chip, 0x02)
    read_word(chip, 0x03)


def start_single_shot(chip: Opt3001) -> None:
    reg = read_word(chip, 0x01)
    write_word(chip, 0x01, (reg & ~0x0600) | 0x0200)


def set_mode_continuous(chip: Opt3001, on: bool = True) -> None:
    """opt3001_write_event_config."""
    reg = read_word(chip, 0x01)
    write_word(chip, 0x01, (reg & ~0x0600) | (0x0400 if on else 0))


def threshold(millilux: int) -> int:
    """opt3001_write_event_value's register value for a threshold."""
    scales = [4095 * 10 * 2**e for e in range(12)]  # milli-lux full scale per exponent
    exponent = next(e for e, top in enumerate(scales) if millilux <= top)
    return exponent << 12 | (millilux // 10) >> exponent


def test_opt3001_probe_reads_ids_and_reset_values() -> None:
    chip = Opt3001()
    assert read_word(chip, 0x01) == 0xC810
    assert read_word(chip, 0x03) == 0xBFFF
    opt3001_probe(chip)
    assert read_word(chip, 0x01) == 0xC810


def test_opt3001_single_shot_without_irq_polls_crf() -> None:
    chip = Opt3001(lux="123.45")
    opt3001_probe(chip)
    start_single_shot(chip)
    config = read_word(chip, 0x01)
    assert config & 0x0080  # CRF
    assert config & 0x0600 == 0  # back in shutdown
    assert opt3001_millilux(read_word(chip, 0x00)) == pytest.approx(123450, abs=20)
    assert not read_word(chip, 0x01) & 0x0080  # the read cleared CRF


def test_opt3001_a_shutdown_write_keeps_crf_a_read_clears_it() -> None:
    chip = Opt3001(lux="10")
    start_single_shot(chip)
    write_word(chip, 0x01, 0xC810)  # shutdown, as opt3001_remove writes
    assert read_word(chip, 0x01) & 0x0080
    assert not read_word(chip, 0x01) & 0x0080


def test_opt3001_end_of_conversion_interrupt_as_opt3001_get_lux_waits_for_it() -> None:
    chip = Opt3001(lux="500")
    opt3001_probe(chip)
    pin = wire(chip)
    write_word(chip, 0x02, 0xC000)  # EOC mode
    start_single_shot(chip)
    assert pin.levels == [True, False]  # the falling edge the driver requests
    # opt3001_irq: config shows single-shot finished with CRF, then the result
    config = read_word(chip, 0x01)
    assert config & 0x0600 != 0x0400 and config & 0x0080
    assert pin.level is True
    assert opt3001_millilux(read_word(chip, 0x00)) == pytest.approx(500000, rel=1e-3)
    write_word(chip, 0x02, 0x0000)  # the low limit restored
    start_single_shot(chip)  # without EOC, no interrupt
    assert pin.levels == [True, False, True]


def test_opt3001_latched_window_interrupt_on_threshold_crossing() -> None:
    chip = Opt3001(lux="100")
    opt3001_probe(chip)
    pin = wire(chip)
    write_word(chip, 0x03, threshold(200000))
    set_mode_continuous(chip)
    assert pin.level is True
    chip.set_lux(300)
    assert pin.level is False
    config = read_word(chip, 0x01)  # opt3001_irq in continuous mode
    assert config & 0x0600 == 0x0400 and config & 0x0040 and not config & 0x0020
    assert pin.level is True
    assert not read_word(chip, 0x01) & 0x0040  # the read cleared FH
    chip.set_lux(150)
    assert pin.level is True
    write_word(chip, 0x02, threshold(50000))
    chip.set_lux(20)
    assert pin.level is False
    assert read_word(chip, 0x01) & 0x0060 == 0x0020  # FL
    assert pin.levels == [True, False, True, False, True]


def test_opt3001_starting_continuous_mode_above_the_limit_interrupts_at_once() -> None:
    chip = Opt3001(lux="1000")
    opt3001_probe(chip)
    pin = wire(chip)
    write_word(chip, 0x03, threshold(500000))
    assert pin.level is True
    set_mode_continuous(chip)
    assert pin.level is False


def test_opt3001_transparent_mode_is_a_hysteresis_that_reads_do_not_clear() -> None:
    chip = Opt3001(lux="100")
    pin = wire(chip)
    write_word(chip, 0x02, threshold(50000))
    write_word(chip, 0x03, threshold(200000))
    write_word(chip, 0x01, 0xC400)  # automatic range, continuous, L = 0
    chip.set_lux(250)
    assert read_word(chip, 0x01) & 0x0060 == 0x0040 and pin.level is False
    chip.set_lux(100)  # inside the window: unchanged
    assert read_word(chip, 0x01) & 0x0060 == 0x0040 and pin.level is False
    chip.set_lux(10)
    assert read_word(chip, 0x01) & 0x0060 == 0x0020 and pin.level is True


def test_opt3001_fault_count_needs_consecutive_faults() -> None:
    chip = Opt3001(lux="100")
    pin = wire(chip)
    write_word(chip, 0x03, threshold(200000))
    write_word(chip, 0x01, 0xC410 | 0x0001)  # continuous, latched, 2 faults
    chip.set_lux(300)
    assert pin.level is True
    chip.set_lux(310)
    assert pin.level is False


def test_opt3001_polarity_makes_int_active_high() -> None:
    chip = Opt3001(lux="100")
    pin = wire(chip)
    write_word(chip, 0x01, 0xC818)  # POL
    assert pin.level is False
    write_word(chip, 0x02, 0xC000)
    start_single_shot(chip)
    assert pin.level is True


def test_opt3001_manual_range_overflows() -> None:
    chip = Opt3001(lux="100")
    write_word(chip, 0x01, 0x0200)  # range 0 (40.95 lux), single shot
    config = read_word(chip, 0x01)
    assert config & 0x0100  # OVF
    assert read_word(chip, 0x00) == 0x0FFF


def test_opt3001_read_only_registers_and_flags_ignore_writes() -> None:
    chip = Opt3001(lux="100")
    write_word(chip, 0x7F, 0x1234)
    write_word(chip, 0x00, 0x1234)
    write_word(chip, 0x01, 0xC810 | 0x01E0)  # OVF, CRF, FH, FL
    assert read_word(chip, 0x7F) == 0x3001
    assert read_word(chip, 0x00) == 0x0000
    assert read_word(chip, 0x01) == 0xC810


def test_opt3001_continuous_mode_converts_on_set_lux_only() -> None:
    chip = Opt3001(lux="100")
    chip.set_lux(200)
    assert chip.conversions == 0 and chip.reading() == 0
    set_mode_continuous(chip)
    chip.set_lux(40)
    assert chip.conversions == 2
    assert chip.reading() == pytest.approx(40, rel=1e-3)
    assert chip.convert() is True
    set_mode_continuous(chip, on=False)
    assert chip.convert() is False


def test_unconnected_pin_remembers_its_level() -> None:
    chip = Lm75(temperature="90")
    assert isinstance(chip.irq_pin, UnconnectedPin)
    assert chip.irq_pin.level is False
    assert chip.irq_level is False
