"""GuestWatch: a simulator that waits notices when its guest (or its driver's socket) has gone."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from simulators.attach import Target
from simulators.errors import AckTimeout, DriverNotListening, GuestGone
from simulators.peer import GuestWatch

from .fake_guest import FakeGuest


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_instance_that_exited_is_gone_by_name() -> None:
    guest = FakeGuest()
    watch = GuestWatch.of_instance(guest)
    watch.check()
    guest.alive = False
    with pytest.raises(GuestGone) as caught:
        watch.check_now()
    assert str(caught.value) == "instance uh-1234abcd is gone (its UML process exited)"


def test_checks_ask_at_most_once_an_interval() -> None:
    guest, clock = FakeGuest(), Clock()
    watch = GuestWatch(GuestWatch.of_instance(guest).check_now, interval=0.25, clock=clock)
    for _ in range(100):
        watch.check()  # the first asks at once, the rest within the interval do not
    assert guest.asked == 1
    guest.alive = False
    clock.now += 0.2
    watch.check()
    clock.now += 0.1
    with pytest.raises(GuestGone):
        watch.check()


def test_gone_errors_say_what_was_done_by_then() -> None:
    error = GuestGone("instance x is gone").after("fpga0 stopped after 3 reports")
    assert str(error) == "instance x is gone; fpga0 stopped after 3 reports"


def test_an_explicit_socket_is_watched_without_raising_interrupts(tmp_path: Path) -> None:
    path = tmp_path / "fpga0"
    watch = GuestWatch.of_driver(path)
    with pytest.raises(GuestGone, match=r"no interrupt socket at .*: the driver is not loaded"):
        watch.check_now()
    driver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    driver.bind(str(path))
    driver.setblocking(False)
    watch.check_now()
    with pytest.raises(BlockingIOError):
        driver.recv(16)  # the probe sent nothing: no spurious interrupt
    driver.close()  # the file stays, nobody receives: a driver (or guest) that went away
    with pytest.raises(GuestGone, match="is stale"):
        watch.check_now()


def test_the_target_says_what_to_watch(tmp_path: Path) -> None:
    guest = FakeGuest(alive=False)
    registered = Target(tmp_path / "f", tmp_path / "s", "fpga0", guest.umid, guest)  # type: ignore[arg-type]
    with pytest.raises(GuestGone, match="instance uh-1234abcd is gone"):
        registered.watch().check()
    with pytest.raises(GuestGone, match="no interrupt socket"):
        Target(tmp_path / "f", tmp_path / "s", "fpga0", None).watch().check()
    Target(tmp_path / "f", None, "fpga0", None).watch().check()  # --iomem alone: no peer to ask


@pytest.mark.parametrize(
    "error", [DriverNotListening("interrupt socket s is stale"), AckTimeout("no ack within 5s")]
)
def test_errors_the_guests_exit_caused_are_put_down_to_it(error: Exception) -> None:
    watch = GuestWatch.of_instance(FakeGuest(alive=False))
    with pytest.raises(GuestGone, match="instance uh-1234abcd is gone"), watch.explain():
        raise error


def test_errors_of_a_live_guest_stay_what_they_are() -> None:
    watch = GuestWatch(GuestWatch.of_instance(FakeGuest()).check_now, grace=0.05)
    with pytest.raises(DriverNotListening), watch.explain():
        raise DriverNotListening("no interrupt socket at s: the driver is not loaded")


def test_a_guest_that_is_exiting_is_given_a_moment() -> None:
    # Its sockets refuse already; its process is gone a moment later.
    guest = FakeGuest(alive_for=2)
    watch = GuestWatch(GuestWatch.of_instance(guest).check_now, grace=2.0)
    with pytest.raises(GuestGone), watch.explain():
        raise DriverNotListening("interrupt socket s is stale")
    assert guest.asked == 3
