"""InterruptLine and LevelInterrupt against a real datagram socket standing in for the driver."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from construct import BitsInteger, BitStruct, Flag, Int8ub, Padding, Struct

from simulators.errors import AckTimeout, DriverNotListening, SimulatorError
from simulators.irq import Interrupt, InterruptLine, InterruptRegisters, LevelInterrupt
from simulators.regfile import RegisterFile
from umlharness.errors import HarnessError
from umlharness.testing import FakeDriver

LAYOUT = Struct("STATUS" / Int8ub, "MASK" / Int8ub)


@pytest.fixture
def regs() -> RegisterFile:
    regs = RegisterFile(LAYOUT, np.zeros(2, np.uint8), device="demo")
    regs.write("MASK", 0xFF)
    return regs


def level(regs: RegisterFile, line: Interrupt | None, resend: float) -> LevelInterrupt:
    """The level interrupt STATUS & MASK, re-sent every `resend` seconds where it must be."""
    return LevelInterrupt(regs, line, InterruptRegisters("STATUS", "MASK"), resend_interval=resend)


def bound(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(1)
    return sock


def drain(sock: socket.socket) -> int:
    sock.setblocking(False)
    count = 0
    while True:
        try:
            sock.recv(64)
        except BlockingIOError:
            return count
        count += 1


def test_raise_irq_sends_one_datagram(tmp_path: Path) -> None:
    path = tmp_path / "mock"
    with bound(path) as driver, InterruptLine(path) as line:
        assert line.raise_irq() is True
        assert driver.recv(64) == b"\x01"
        line.raise_irq()
        line.raise_irq()
        assert drain(driver) == 2


def test_missing_socket_means_driver_not_loaded(tmp_path: Path) -> None:
    with InterruptLine(tmp_path / "mock") as line, pytest.raises(DriverNotListening) as caught:
        line.raise_irq()
    assert str(caught.value) == (
        f"no interrupt socket at {tmp_path / 'mock'}: the driver is not loaded "
        "(or did not claim this iomem region)"
    )
    assert isinstance(caught.value, HarnessError)


def test_stale_socket_is_reported_as_such(tmp_path: Path) -> None:
    path = tmp_path / "mock"
    bound(path).close()  # the file stays, nobody listens: a driver that went away
    with InterruptLine(path) as line, pytest.raises(DriverNotListening, match="is stale"):
        line.raise_irq()


def test_full_queue_is_not_an_error(tmp_path: Path) -> None:
    # A driver that has not drained its socket has interrupts pending already.
    path = tmp_path / "mock"
    with bound(path), InterruptLine(path) as line:
        results = [line.raise_irq() for _ in range(2000)]
    assert results[0] is True
    assert False in results


def test_closed_line_says_so(tmp_path: Path) -> None:
    path = tmp_path / "mock"
    with bound(path):
        line = InterruptLine(path)
        line.close()
        with pytest.raises(SimulatorError, match="closed"):
            line.raise_irq()


def test_too_long_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SimulatorError, match="more than a unix socket path may be \\(107\\)"):
        InterruptLine(tmp_path / ("x" * 120))


def test_wait_ack_resends_until_the_driver_clears_the_bit(
    tmp_path: Path, regs: RegisterFile
) -> None:
    # The driver misses the first three datagrams (drained before it looked,
    # say): only re-sending gets the interrupt through.
    handler = lambda: regs.clear_bits("STATUS", 1)  # noqa: E731
    with FakeDriver(tmp_path / "mock", handler, ignore=3) as driver:
        with InterruptLine(tmp_path / "mock") as line:
            elapsed = level(regs, line, 0.02).raise_and_wait_ack(1, timeout=5)
        assert driver.datagrams >= 4
        assert driver.handled >= 1
    assert regs.read("STATUS") == 0
    assert 3 * 0.02 <= elapsed < 2


def test_wait_ack_returns_quickly_when_acked_at_once(tmp_path: Path, regs: RegisterFile) -> None:
    with FakeDriver(tmp_path / "mock", lambda: regs.clear_bits("STATUS", 1)) as driver:
        with InterruptLine(tmp_path / "mock") as line:
            elapsed = level(regs, line, 1).raise_and_wait_ack(1, timeout=5)
        assert driver.datagrams == 1
    assert elapsed < 0.5


def test_wait_ack_times_out_with_a_clear_message(tmp_path: Path, regs: RegisterFile) -> None:
    path = tmp_path / "mock"
    with bound(path) as driver, InterruptLine(path) as line:
        start = time.monotonic()
        with pytest.raises(AckTimeout) as caught:
            level(regs, line, 0.05).raise_and_wait_ack(1, timeout=0.2)
        took = time.monotonic() - start
        sent = drain(driver)
    assert 0.2 <= took < 1
    assert 3 <= sent <= 6  # the first datagram, then one every 50 ms
    assert f"({sent} interrupts sent)" in str(caught.value)
    message = str(caught.value)
    assert message.startswith(
        f"the driver did not acknowledge interrupt STATUS bits 0x1 on {path} within 0.2s ("
    )
    assert message.endswith("is the driver loaded and its interrupt enabled?")


def test_wait_ack_fails_fast_when_the_driver_goes_away(tmp_path: Path, regs: RegisterFile) -> None:
    path = tmp_path / "mock"
    driver = bound(path)

    def unload() -> None:
        driver.close()
        path.unlink()

    threading.Timer(0.05, unload).start()
    with InterruptLine(path) as line, pytest.raises(DriverNotListening, match="not loaded"):
        level(regs, line, 0.02).raise_and_wait_ack(1, timeout=5)


def test_a_cause_that_rises_sends_one_datagram_while_it_stays_up(
    tmp_path: Path, regs: RegisterFile
) -> None:
    path = tmp_path / "mock"
    with bound(path) as driver, InterruptLine(path) as line:
        irq = level(regs, line, 60)
        assert irq.raise_cause(1) is True
        assert irq.raise_cause(1) is False  # still pending: the line is up already
        assert irq.raise_cause(2) is True  # a new cause: the driver may have acked the rest
        regs.write("MASK", 1)
        assert irq.raise_cause(4) is False  # masked
        assert drain(driver) == 2 and irq.sent == 2
        regs.write("STATUS", 0)  # the driver acknowledged, unseen
        assert irq.raise_cause(1) is True


class Recorder:
    """A transport that sees the driver's accesses, as PCI does: it counts its messages."""

    sees_accesses = True

    def __init__(self) -> None:
        self.messages = 0

    def raise_irq(self) -> bool:
        self.messages += 1
        return True

    def pause(self, waited: float, limit: float) -> None:
        time.sleep(limit)


def test_where_accesses_are_seen_only_rising_edges_send(regs: RegisterFile) -> None:
    line = Recorder()
    irq = level(regs, line, 0.001)
    irq.raise_cause(1)
    irq.raise_cause(2)
    time.sleep(0.01)
    irq.update()  # up for longer than the resend interval: no resending here
    assert line.messages == 1
    regs.write("STATUS", 0)
    irq.update()  # seen low, so the next cause is an edge
    irq.raise_cause(1)
    assert line.messages == 2


def test_no_line_no_interrupt(regs: RegisterFile) -> None:
    irq = level(regs, None, 0.02)
    assert irq.raise_cause(1) is False and regs.read("STATUS") == 1
    with pytest.raises(SimulatorError, match="no interrupt line"):
        irq.wait_ack(1)


def test_causes_are_named_as_the_register_map_names_them() -> None:
    bits = Struct(
        "ST" / BitStruct("HI" / Flag, "MID" / BitsInteger(2), Padding(3), "LO" / Flag, Padding(1)),
        "MASK" / Int8ub,
    )
    regs = RegisterFile(bits, np.zeros(2, np.uint8), device="bits")
    irq = LevelInterrupt(regs, None, InterruptRegisters("ST", "MASK"))
    assert irq.describe(0x02) == "LO (ST bit 1)"
    assert irq.describe(0x82) == "HI|LO (ST bits 7, 1)"
    assert irq.describe(0x20) == "MID (ST bits 6:5)"


def test_driver_reloaded_at_the_same_path_gets_the_next_interrupt(tmp_path: Path) -> None:
    path = tmp_path / "mock"
    with InterruptLine(path) as line:
        with bound(path) as first:
            line.raise_irq()
            assert first.recv(64) == b"\x01"
        path.unlink()
        with bound(path) as second:
            line.raise_irq()
            assert second.recv(64) == b"\x01"


def test_a_dropped_message_is_lost_and_the_next_edge_sends_again(regs: RegisterFile) -> None:
    line = Recorder()
    irq = level(regs, line, 0.001)
    irq.drop(1)
    assert irq.raise_cause(1) is False  # lost on the way
    assert (line.messages, irq.dropped) == (0, 1)
    irq.update()  # still up: the device believes it signalled
    assert line.messages == 0
    regs.write("STATUS", 0)
    irq.update()
    assert irq.raise_cause(1) is True and line.messages == 1


def test_a_dropped_datagram_is_sent_again_while_the_level_stays_up(
    tmp_path: Path, regs: RegisterFile
) -> None:
    driver = bound(tmp_path / "irq")
    irq = level(regs, InterruptLine(tmp_path / "irq"), 0.01)
    irq.drop(1)
    irq.raise_cause(1)
    assert drain(driver) == 0
    time.sleep(0.02)
    irq.update()
    assert drain(driver) == 1 and irq.dropped == 1


def test_spurious_messages_carry_no_cause(regs: RegisterFile) -> None:
    line = Recorder()
    irq = level(regs, line, 0.001)
    assert irq.spurious(5) == 5
    assert line.messages == 5 and regs.read("STATUS") == 0
    with pytest.raises(SimulatorError, match="at least 0"):
        irq.spurious(-1)
