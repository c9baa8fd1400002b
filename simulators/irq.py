"""An interrupt line to a guest driver: datagrams to the unix socket the driver listens on.

The driver creates a SOCK_DGRAM socket at `<umid_dir>/<region>` on the host;
UML turns a datagram arriving there into the driver's interrupt (SIGIO).
The datagram's content does not matter. What the interrupt is about is in
the device's status register, which the driver reads in its handler and
acknowledges by clearing the bits it handled.

Lines are modelled level-triggered: while a status bit stays set, the
interrupt stays asserted. `raise_and_wait_ack` therefore keeps re-sending
the datagram until the driver clears the bit, so that a datagram the driver
drained before it looked at the status (or that raced with it re-enabling
its interrupt) does not leave the device waiting for ever.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from umlharness_shared.sockets import check_socket_path

from .closing import Closing
from .errors import AckTimeout, DriverNotListening, SimulatorError

DEFAULT_TIMEOUT = 5.0
DEFAULT_RESEND_INTERVAL = 0.05
# A live driver acknowledges within microseconds, and a round-trip benchmark
# wants tens of thousands a second: poll without sleeping at first (sleep(0)
# only yields), then back off to 1 ms sleeps so a slow driver costs no core.
_SPIN = 200e-6
_POLL_MIN = 20e-6
_POLL_MAX = 1e-3
_DATAGRAM = b"\x01"


def ack_wait_bounds(timeout: float, resend_interval: float) -> tuple[float, float]:
    """Check `raise_and_wait_ack`'s arguments; its start and deadline on the monotonic clock."""
    if timeout <= 0 or resend_interval <= 0:
        raise ValueError("timeout and resend_interval must be positive")
    start = time.monotonic()
    return start, start + timeout


class Interrupt(Protocol):
    """How a device model raises its interrupt, whatever the transport.

    `InterruptLine` (below) sends datagrams to an iomem driver's socket;
    `simulators.pci.interrupt.LevelInterrupt` sends MSIs over virt-pci.
    """

    def raise_irq(self) -> bool:
        """Assert the interrupt once; False if it could not go out now."""

    def raise_and_wait_ack(
        self,
        is_acked: Callable[[], bool],
        timeout: float = DEFAULT_TIMEOUT,
        resend_interval: float = DEFAULT_RESEND_INTERVAL,
        *,
        what: str = "",
    ) -> float:
        """Assert it until `is_acked()`; the seconds that took, or AckTimeout."""


def not_listening(
    path: Path, error: FileNotFoundError | ConnectionRefusedError
) -> DriverNotListening:
    """Why a datagram to the driver's socket at `path` failed with `error`, for a person."""
    if isinstance(error, FileNotFoundError):
        return DriverNotListening(
            f"no interrupt socket at {path}: the driver is not loaded "
            "(or did not claim this iomem region)"
        )
    return DriverNotListening(
        f"interrupt socket {path} is stale (nobody listens on it): "
        "the driver was unloaded or its instance is gone"
    )


def receiver_error(path: Path) -> OSError | None:
    """Why a datagram sent to the unix socket at `path` would not arrive; None if it would.

    connect(2) on a datagram socket sends nothing and fails as sendto(2) would:
    FileNotFoundError without a socket, ConnectionRefusedError with nobody bound to it.
    """
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    try:
        probe.connect(os.fsencode(path))
    except OSError as error:
        return error
    finally:
        probe.close()
    return None


def check_listening(path: Path) -> None:
    """Raise DriverNotListening unless a driver receives on `path`; raises no interrupt."""
    error = receiver_error(path)
    if isinstance(error, (FileNotFoundError, ConnectionRefusedError)):
        raise not_listening(path, error)
    if error is not None:
        raise SimulatorError(f"cannot reach the interrupt socket {path}: {error.strerror}")


class InterruptLine(Closing):
    """The interrupt line of one device, through the driver's socket at `path`.

    One socket is opened per line and kept, so that raising an interrupt is
    one sendto(2). It is not connected: sendto resolves the path each time,
    so a driver that is reloaded (and makes a new socket at the same path)
    gets the next interrupt without the line being reopened.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._address = os.fsencode(self.path)
        check_socket_path(self.path, "interrupt socket", SimulatorError)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        # Never block: a full receive queue means the driver has interrupts
        # pending already, which is all a level-triggered line needs.
        self._sock.setblocking(False)

    def raise_irq(self) -> bool:
        """Send one datagram; False if the driver's queue was full (an interrupt is pending)."""
        try:
            self._sock.sendto(_DATAGRAM, self._address)
        except BlockingIOError:
            return False
        except (FileNotFoundError, ConnectionRefusedError) as error:
            raise not_listening(self.path, error) from None
        except OSError as error:
            if self._sock.fileno() == -1:
                raise SimulatorError(f"interrupt line {self.path} is closed") from None
            raise SimulatorError(
                f"cannot send an interrupt to {self.path}: {error.strerror or error}"
            ) from None
        return True

    def raise_and_wait_ack(
        self,
        is_acked: Callable[[], bool],
        timeout: float = DEFAULT_TIMEOUT,
        resend_interval: float = DEFAULT_RESEND_INTERVAL,
        *,
        what: str = "",
    ) -> float:
        """Assert the line until `is_acked()` is true; the seconds that took.

        The caller has already set the status bit; `is_acked` says whether the
        driver has cleared it. The datagram is re-sent every `resend_interval`
        seconds while it has not, and after `timeout` seconds `AckTimeout`
        says so. `what` names the interrupt in that message.
        """
        start, deadline = ack_wait_bounds(timeout, resend_interval)
        self.raise_irq()
        sent = 1
        next_send = start + resend_interval
        spin_until = start + _SPIN
        poll = _POLL_MIN
        while not is_acked():
            now = time.monotonic()
            if now < spin_until:
                # Busy-wait: most acks come within tens of microseconds, and a
                # sleep(0) alone costs more than that.
                continue
            if now >= deadline:
                raise AckTimeout(
                    f"the driver did not acknowledge interrupt {what or 'on ' + str(self.path)} "
                    f"within {timeout:g}s ({sent} datagrams sent): is the driver loaded and "
                    "its interrupt enabled?"
                )
            if now >= next_send:
                self.raise_irq()
                sent += 1
                next_send = now + resend_interval
            time.sleep(max(0.0, min(poll, next_send - now, deadline - now)))
            poll = min(2 * poll, _POLL_MAX)
        return time.monotonic() - start

    def close(self) -> None:
        self._sock.close()

    def __repr__(self) -> str:
        return f"InterruptLine({str(self.path)!r})"

    def __str__(self) -> str:
        return str(self.path)
