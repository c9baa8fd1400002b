"""The FPGA model against uh_fpga's ring protocol, played by Python (no guest)."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simulators.errors import GuestGone, SimulatorError
from simulators.fpga import icd
from simulators.fpga.doorbell import Doorbell, doorbell_path, in_use
from simulators.fpga.model import Fpga
from simulators.fpga.regs import Intr
from simulators.irq import InterruptLine
from simulators.peer import GuestWatch
from simulators.regfile import Buffer

from .fake_guest import FakeGuest
from .fpga_driver import Header, PyDriver, region


@pytest.fixture
def mem() -> Buffer:
    return region()


@pytest.fixture
def driver(mem: Buffer) -> PyDriver:
    return PyDriver(mem)


@pytest.fixture
def device(mem: Buffer, driver: PyDriver) -> Fpga:
    return Fpga(mem)


def sequences(reports: list[icd.Report] | list[Header]) -> list[int]:
    return [r.sequence for r in reports]


def stream(device: Fpga, count: int) -> None:
    """Produce `count` reports (stream() does at most one batch a call)."""
    while count:
        count -= device.stream(count)


def test_power_on_sets_id_and_version(device: Fpga) -> None:
    assert device.regs.read("ID") == 0x46504741
    assert device.regs.read_field("VERSION.ICD") == icd.VERSION


def test_streamed_reports_are_whole_numbered_and_checksummed(
    device: Fpga, driver: PyDriver
) -> None:
    device.config.rate = 0
    received: list[Header] = []
    for _ in range(8):
        stream(device, 2500)
        received += driver.read_headers()
    assert sequences(received) == list(range(20000))
    assert all(r.crc_ok and r.type == icd.ReportType.SAMPLES and r.size == 64 for r in received)
    assert device.regs.read("REPORTS_PRODUCED") == 20000
    assert device.regs.read("BYTES_PRODUCED") == 20000 * 64


def test_reports_wrap_around_the_ring_end(device: Fpga, driver: PyDriver) -> None:
    device.config.report_size = 1000  # does not divide the ring: reports straddle its end
    received: list[Header] = []
    for _ in range(30):
        device.stream(300)
        received += driver.read_headers()
    assert sequences(received) == list(range(9000))
    assert all(r.crc_ok for r in received)


def test_a_full_ring_drops_counts_flags_and_interrupts(device: Fpga, driver: PyDriver) -> None:
    ring_reports = (2 << 20) // 64
    stream(device, ring_reports - 10)
    assert device.stream(100) == 100  # 10 fit, 90 dropped
    assert device.regs.read("REPORTS_DROPPED") == 90
    assert device.regs.read_field("STATUS.OVERFLOW") == 1
    assert driver.ack() == Intr.REPORT_READY | Intr.OVERFLOW
    device.stream(50)  # all dropped: no new OVERFLOW interrupt for the same episode
    assert driver.ack() & Intr.OVERFLOW == 0
    first = driver.read_headers()
    assert len(first) == ring_reports and sequences(first)[-1] == ring_reports - 1
    device.stream(1)
    after = driver.read()
    # Nothing lost silently: the gap is the drop count, and the report says so.
    assert after[0].sequence == ring_reports + 140
    assert after[0].header.flags == icd.ReportFlag.DROPPED_BEFORE and after[0].crc_ok
    assert device.regs.read_field("STATUS.OVERFLOW") == 0


def test_echo_command_answers_with_an_echo_report(device: Fpga, driver: PyDriver) -> None:
    driver.write_command(icd.echo_command(b"hello", tag=99))
    assert device.service_commands() == 1
    (echo,) = driver.read()
    assert (echo.type, echo.payload.tag, echo.payload.data) == (icd.ReportType.ECHO, 99, b"hello")
    assert driver.commands.used() == 0  # consumed
    assert device.regs.read("COMMANDS_CONSUMED") == 1
    assert driver.ack() & Intr.CMD_DONE


def test_set_rate_start_stop_set_param_and_reset(device: Fpga, driver: PyDriver) -> None:
    for command in (
        icd.set_rate_command(250_000),
        icd.set_param_command(icd.Param.REPORT_SIZE, 1024),
        icd.set_param_command(icd.Param.STATUS_PERIOD, 10),
        icd.build_command(icd.Opcode.START),
    ):
        driver.write_command(command)
    device.service_commands()
    assert device.regs.read("RATE") == 250_000 and device.running
    assert device.regs.read_field("STATUS.RUNNING") == 1
    device.stream(25)
    reports = driver.read()
    assert [r.size for r in reports if r.type == icd.ReportType.SAMPLES] == [1024] * 10
    assert [r.type for r in reports].count(icd.ReportType.STATUS) == 1
    driver.write_command(icd.build_command(icd.Opcode.STOP))
    device.service_commands()
    assert not device.running and device.regs.read_field("STATUS.RUNNING") == 0
    driver.write_command(icd.build_command(icd.Opcode.RESET))
    device.service_commands()
    assert device.config.report_size == 64 and device.regs.read("RATE") == 1000


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (icd.echo_command(b"x")[:-1] + b"y", icd.EventCode.BAD_COMMAND),  # CRC
        (icd.build_command(77), icd.EventCode.UNKNOWN_OPCODE),
        (icd.set_param_command(icd.Param.REPORT_SIZE, 33), icd.EventCode.BAD_ARGUMENT),
        (icd.set_param_command(99, 1), icd.EventCode.BAD_ARGUMENT),
    ],
)
def test_bad_commands_are_consumed_counted_and_reported(
    device: Fpga, driver: PyDriver, command: bytes, code: icd.EventCode
) -> None:
    driver.write_command(command)
    driver.write_command(icd.echo_command(b"next"))
    assert device.service_commands() == 2
    event, echo = driver.read()
    assert event.type == icd.ReportType.EVENT and event.payload.code == code
    assert echo.payload.data == b"next"  # the device carries on with the next command
    assert device.regs.read("COMMAND_ERRORS") == 1
    assert device.regs.read_field("STATUS.ERROR") == 1


def test_a_broken_command_header_skips_what_is_queued(device: Fpga, driver: PyDriver) -> None:
    driver.write_command(b"\xff" * 40)
    assert device.service_commands() == 1
    assert driver.commands.used() == 0
    assert driver.read()[0].payload.code == icd.EventCode.BAD_COMMAND


def test_inject_writes_bytes_verbatim_and_moves_no_counter(device: Fpga, driver: PyDriver) -> None:
    junk = b"not a report at all"
    device.inject(junk)
    assert driver.read_raw() == junk
    assert device.regs.read("REPORTS_PRODUCED") == 0
    assert driver.ack() == Intr.REPORT_READY
    with pytest.raises(SimulatorError, match="do not fit"):
        device.inject(b"\0" * (3 << 20))


def test_the_sequence_continues_in_a_new_simulator(mem: Buffer, driver: PyDriver) -> None:
    Fpga(mem).stream(10)
    Fpga(mem).stream(10)
    assert sequences(driver.read()) == list(range(20))


def test_without_a_driver_there_is_no_ring(mem: Buffer) -> None:
    device = Fpga(mem)
    assert device.report_ring() is None and device.stream(5) == 0
    with pytest.raises(SimulatorError, match="not set up"):
        device.inject(b"x")


def test_the_stream_waits_for_enable_and_paces_to_the_rate(mem: Buffer) -> None:
    driver = PyDriver(mem, enable=False)
    device = Fpga(mem)
    device.config.rate = 20_000
    stats = device.run(count=2000, duration=0.3)
    assert stats.streamed == 0  # no reader: CTRL.ENABLE is clear
    driver.w["CTRL"].set(driver.w["CTRL"].get() | 1)
    started = time.monotonic()
    stats = device.run(count=2000, duration=5)
    elapsed = time.monotonic() - started
    assert stats.streamed == 2000 and stats.dropped == 0
    assert 0.08 <= elapsed < 1.0  # 2000 reports at 20000/s: 0.1 s
    assert len(driver.read()) == 2000


@pytest.fixture
def irq_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "fpga0"))
    sock.setblocking(False)
    yield sock
    sock.close()


def datagrams(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            sock.recv(16)
        except BlockingIOError:
            return count
        count += 1


def test_interrupts_follow_the_level_of_unmasked_causes(
    mem: Buffer, driver: PyDriver, irq_socket: socket.socket, tmp_path: Path
) -> None:
    with InterruptLine(tmp_path / "fpga0") as line:
        device = Fpga(mem, irq=line)
        device.raise_irq(Intr.REPORT_READY)
        device.raise_irq(Intr.REPORT_READY)  # still pending: no second datagram
        assert datagrams(irq_socket) == 1
        time.sleep(0.01)
        device.step()  # unacknowledged for a while: the line is still asserted
        assert datagrams(irq_socket) == 1
        driver.ack()
        time.sleep(0.01)
        device.step()
        assert datagrams(irq_socket) == 0
        driver.w["INTR_MASK"].set(Intr.CMD_DONE)
        device.raise_irq(Intr.REPORT_READY)  # masked
        assert datagrams(irq_socket) == 0


def test_a_missing_driver_socket_does_not_stop_the_device(mem: Buffer, tmp_path: Path) -> None:
    PyDriver(mem)
    with InterruptLine(tmp_path / "gone") as line:
        device = Fpga(mem, irq=line)
        device.stream(5)  # raises REPORT_READY into nowhere
    assert device.regs.read("REPORTS_PRODUCED") == 5


def test_the_doorbell_wakes_the_device_for_commands(
    mem: Buffer, driver: PyDriver, tmp_path: Path
) -> None:
    path = doorbell_path(tmp_path / "fpga0")
    assert path.name == "fpga0-doorbell"
    with Doorbell(path) as bell:
        assert in_use(path)
        with pytest.raises(SimulatorError, match="another simulator"):
            Doorbell(path)
        device = Fpga(mem, doorbell=bell)
        driver.write_command(icd.echo_command(b"ding"))
        ringer = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ringer.sendto(b"\1", str(path))
        ringer.close()
        stats = device.run(stream=False, duration=0.2)
        assert stats.echoes == [b"ding"] and bell.rings == 1
    assert not path.exists()


def test_a_stale_doorbell_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "fpga1-doorbell"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens
    with Doorbell(path):
        assert in_use(path)


def test_commands_queued_before_the_simulator_started_are_served(
    mem: Buffer, driver: PyDriver
) -> None:
    driver.write_command(icd.echo_command(b"early"))
    stats = Fpga(mem).run(stream=False, duration=0.05)
    assert stats.echoes == [b"early"]


def test_wait_drained(device: Fpga, driver: PyDriver) -> None:
    device.stream(10)
    assert not device.wait_drained(timeout=0.05)
    driver.read()
    assert device.wait_drained(timeout=0.05)


def test_describe(device: Fpga) -> None:
    device.stream(3)
    text = device.describe()
    assert "CTRL IRQ_EN|ENABLE" in text and "reports produced 3, dropped 0" in text
    assert np.any(device.mem)


def test_stop_pauses_and_start_resumes_what_is_left_of_the_count(
    device: Fpga, driver: PyDriver
) -> None:
    device.config.rate = 0
    device.start_stream(True, count=100)
    driver.write_command(icd.build_command(icd.Opcode.STOP))
    device.step()
    assert not device.running and driver.read() == []
    driver.write_command(icd.build_command(icd.Opcode.START))
    device.step()
    assert len(driver.read_headers()) == 100
    assert not device.running and device.regs.read_field("STATUS.RUNNING") == 0
    driver.write_command(icd.build_command(icd.Opcode.START))
    device.step()  # the count is spent: START has nothing left to stream
    assert not device.running and driver.read() == []


# --- a guest that goes away --------------------------------------------------------


def gone_after(checks: int) -> GuestWatch:
    """The watch of a guest whose UML exits after answering `checks` times, asked often."""
    return GuestWatch(GuestWatch.of_instance(FakeGuest(alive_for=checks)).check_now, interval=0.01)


@pytest.mark.parametrize(
    ("enable", "options"),
    [
        (False, {"count": 1000}),  # a stream waiting for a reader
        (True, {"stream": False}),  # serve: waiting for commands
    ],
)
def test_a_run_stops_when_its_guest_is_gone(
    mem: Buffer, enable: bool, options: dict[str, Any]
) -> None:
    PyDriver(mem, enable=enable)
    device = Fpga(mem, watch=gone_after(3))
    started = time.monotonic()
    with pytest.raises(GuestGone) as caught:
        device.run(duration=20, **options)  # the duration only bounds a failing test
    assert time.monotonic() - started < 10
    assert str(caught.value) == (
        "instance uh-1234abcd is gone (its UML process exited); "
        "fpga0 stopped after 0 reports (0 dropped) and 0 commands"
    )


def test_a_stream_that_lost_its_guest_does_not_finish(mem: Buffer) -> None:
    # Nobody reads: at a fixed rate the ring fills and the device drops, as it
    # did for 47 s after the guest was killed before the stream noticed.
    PyDriver(mem)
    device = Fpga(mem, watch=gone_after(20))
    device.config.rate = 100_000
    with pytest.raises(GuestGone, match=r"fpga0 stopped after [1-9]\d* reports"):
        device.run(count=10**9, duration=20)


def test_waiting_for_the_ring_to_drain_stops_when_the_guest_is_gone(
    mem: Buffer, driver: PyDriver
) -> None:
    device = Fpga(mem, watch=gone_after(2))
    device.inject(b"x" * 40)
    with pytest.raises(GuestGone, match="; 40 bytes are left unread in the report ring"):
        device.wait_drained(timeout=20)


@pytest.mark.parametrize(
    ("error", "left"), [(None, False), (KeyboardInterrupt, False), (SimulatorError, True)]
)
def test_a_dying_simulator_leaves_its_doorbell_refusing(
    tmp_path: Path, error: type[BaseException] | None, left: bool
) -> None:
    # How uh_fpga tells a simulator that died from one that stopped.
    path = tmp_path / "fpga0-doorbell"
    with contextlib.suppress(BaseException), Doorbell(path):
        if error is not None:
            raise error
    assert path.exists() == left
    assert not in_use(path)
