"""InterruptLine against a real datagram socket standing in for the driver."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from simulators.errors import AckTimeout, DriverNotListening, SimulatorError
from simulators.irq import InterruptLine
from umlharness.errors import HarnessError

from .fake_driver import FakeDriver


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


def test_wait_ack_resends_until_the_driver_clears_the_bit(tmp_path: Path) -> None:
    status = {"pending": True}

    def handler() -> None:
        status["pending"] = False

    # The driver misses the first three datagrams (drained before it looked,
    # say): only re-sending gets the interrupt through.
    with FakeDriver(tmp_path / "mock", handler, ignore=3) as driver:
        with InterruptLine(tmp_path / "mock") as line:
            elapsed = line.raise_and_wait_ack(
                lambda: not status["pending"], timeout=5, resend_interval=0.02
            )
        assert driver.datagrams >= 4
        assert driver.handled >= 1
    assert not status["pending"]
    assert 3 * 0.02 <= elapsed < 2


def test_wait_ack_returns_quickly_when_acked_at_once(tmp_path: Path) -> None:
    status = {"pending": True}
    with FakeDriver(tmp_path / "mock", lambda: status.update(pending=False)) as driver:
        with InterruptLine(tmp_path / "mock") as line:
            elapsed = line.raise_and_wait_ack(
                lambda: not status["pending"], timeout=5, resend_interval=1
            )
        assert driver.datagrams == 1
    assert elapsed < 0.5


def test_wait_ack_times_out_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "mock"
    with bound(path) as driver, InterruptLine(path) as line:
        start = time.monotonic()
        with pytest.raises(AckTimeout) as caught:
            line.raise_and_wait_ack(lambda: False, timeout=0.2, resend_interval=0.05, what="X")
        took = time.monotonic() - start
        sent = drain(driver)
    assert 0.2 <= took < 1
    assert 3 <= sent <= 6  # the first datagram, then one every 50 ms
    message = str(caught.value)
    assert message.startswith("the driver did not acknowledge interrupt X within 0.2s")
    assert message.endswith("is the driver loaded and its interrupt enabled?")


def test_wait_ack_fails_fast_when_the_driver_goes_away(tmp_path: Path) -> None:
    path = tmp_path / "mock"
    driver = bound(path)

    def unload() -> None:
        driver.close()
        path.unlink()

    threading.Timer(0.05, unload).start()
    with InterruptLine(path) as line, pytest.raises(DriverNotListening, match="not loaded"):
        line.raise_and_wait_ack(lambda: False, timeout=5, resend_interval=0.02)


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
