"""Whether the guest on the other side of a device is still there, for simulators that wait.

A simulator waits a lot: for a reader to open the device, for commands, for
an interrupt's acknowledgement. If its guest has gone, nothing will ever
come, so everything that waits asks a `GuestWatch` now and then (`check()`
asks at most every CHECK_INTERVAL, so it is cheap in a tight loop) and stops
with `GuestGone` when the answer is no:

- for an instance of the registry, its UML process (`InstanceInfo.running()`);
- for a device named by explicit --iomem/--irq files, the driver's interrupt
  socket is all there is to go by: missing, or nobody receiving on it, means
  no driver (unloaded, or its guest is gone);
- with no socket either (--iomem alone), nothing: the watch never fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from .errors import DriverNotListening, GuestGone, SimulatorError
from .irq import check_listening

CHECK_INTERVAL = 0.25
# A guest being killed closes its sockets before its process is gone: an
# error that a closed socket caused gets this long to turn out a gone guest.
EXIT_GRACE = 0.5


class Guest(Protocol):
    """What the watch needs of an instance (umlharness.registry.InstanceInfo)."""

    @property
    def umid(self) -> str: ...

    def running(self) -> bool: ...


class GuestWatch:
    """Raises GuestGone from `check()` once `probe` does; without a probe, never."""

    def __init__(
        self,
        probe: Callable[[], None] | None = None,
        *,
        interval: float = CHECK_INTERVAL,
        grace: float = EXIT_GRACE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = probe
        self.interval = interval
        self.grace = grace
        self.clock = clock
        self._next = clock()  # the first check asks at once

    @classmethod
    def of_instance(cls, guest: Guest) -> GuestWatch:
        def probe() -> None:
            if not guest.running():
                raise GuestGone(f"instance {guest.umid} is gone (its UML process exited)")

        return cls(probe)

    @classmethod
    def of_driver(cls, socket: Path) -> GuestWatch:
        def probe() -> None:
            try:
                check_listening(socket)
            except DriverNotListening as error:
                raise GuestGone(str(error)) from None

        return cls(probe)

    def check(self) -> None:
        """GuestGone if the guest is gone; asks at most every `interval` seconds."""
        now = self.clock()
        if now >= self._next:
            self._next = now + self.interval
            self.check_now()

    def check_now(self) -> None:
        if self._probe is not None:
            self._probe()

    @contextmanager
    def explain(self) -> Iterator[None]:
        """Turn an error that the guest's exit caused (a stale socket, no ack) into GuestGone."""
        try:
            yield
        except GuestGone:
            raise
        except DriverNotListening:
            self._check_for(self.grace)
            raise
        except SimulatorError:
            self.check_now()
            raise

    def _check_for(self, seconds: float) -> None:
        """Check until `seconds` have passed (a guest being killed refuses before it is gone)."""
        deadline = self.clock() + seconds
        self.check_now()
        while self.clock() < deadline:
            time.sleep(min(0.05, self.interval))
            self.check_now()
