"""A device's interrupt to its driver: one level-interrupt implementation, on every transport.

A device raises its interrupt by setting a cause bit in its status
register; the interrupt is asserted while some cause is set that the driver
has unmasked (status & mask), and the driver acknowledges by clearing the
causes it handled. `LevelInterrupt` is that logic, over a model's register
file. It signals through the transport's `Interrupt`:

- `InterruptLine` (below), an iomem driver's unix socket: a datagram per
  message. The driver creates the socket at `<umid_dir>/<region>`; UML
  turns a datagram arriving there into its interrupt (SIGIO). The host
  does not see the driver's accesses, so the level is kept up by re-sending
  while it stays asserted, every `resend_interval`: a datagram the driver
  drained before it looked at the status (or that raced with it re-enabling
  its interrupt) does not leave the device waiting for ever. The driver's
  acknowledgement is found by polling.
- `simulators.pci.interrupt.MsiInterrupt`, an MSI over virt-pci. The PCI
  function sees every access of the driver and re-checks the level after
  each, so one MSI per rising edge is enough, as on the chip, and waiting
  for an acknowledgement is waiting for the driver's next access.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from umlharness_shared.sockets import check_socket_path

from .closing import Closing
from .errors import AckTimeout, DriverNotListening, SimulatorError
from .regfile import RegisterFile

DEFAULT_TIMEOUT = 5.0
DEFAULT_RESEND_INTERVAL = 0.05
# A live driver acknowledges within microseconds, and a round-trip benchmark
# wants tens of thousands a second: poll without sleeping at first, then back
# off to 1 ms sleeps so a slow driver costs no core.
_SPIN = 200e-6
_POLL_MIN = 20e-6
_POLL_MAX = 1e-3
_DATAGRAM = b"\x01"


class Interrupt(Protocol):
    """What a transport gives a model to interrupt its driver with (see the module docstring)."""

    #: Whether the transport sees the driver's register accesses (PCI), and so
    #: its acknowledgements; else (iomem) the level is kept up by re-sending.
    sees_accesses: bool

    def raise_irq(self) -> bool:
        """Send one interrupt message now; False if it could not go out."""

    def pause(self, waited: float, limit: float) -> None:
        """Wait a little for the driver, at most `limit` seconds, `waited` seconds into a wait."""


@dataclass(frozen=True)
class InterruptRegisters:
    """Where a device's level interrupt lives in its register map.

    It is asserted while `status & mask & causes` is not 0 and, with
    `enable` (register, bits), those bits are set too.
    """

    status: str  # the device sets causes, the driver clears those it handled
    mask: str  # the driver sets the causes that may interrupt it
    causes: int = -1  # the bits of `status` that are causes (-1: all)
    enable: tuple[str, int] | None = None


class LevelInterrupt:
    """A level interrupt over `regs`, signalled through `line` (None: no driver to signal)."""

    def __init__(
        self,
        regs: RegisterFile,
        line: Interrupt | None,
        where: InterruptRegisters,
        *,
        resend_interval: float = DEFAULT_RESEND_INTERVAL,
    ) -> None:
        if resend_interval <= 0:
            raise ValueError("the resend interval must be positive")
        self.regs = regs
        self.line = line
        self.where = where
        self.resend_interval = resend_interval
        #: Messages that went out.
        self.sent = 0
        #: Messages still to be lost on the way (`drop`), and those lost so far.
        self.to_drop = 0
        self.dropped = 0
        self._status = regs.word(where.status)
        self._mask = regs.word(where.mask)
        # Plain ints: an IntFlag's & costs ten times an int's, and this runs per access.
        self._causes = int(where.causes)
        self._enable = regs.word(where.enable[0]) if where.enable else None
        self._enable_bits = int(where.enable[1]) if where.enable else 0
        self._asserted = False  # a message went out since the level was last seen low
        self._last_sent = -math.inf

    def level(self) -> bool:
        """Whether the interrupt is asserted: one load per register (after every PCI access)."""
        if self._enable is not None and not self._enable.get() & self._enable_bits:
            return False
        return bool(self._status.get() & self._mask.get() & self._causes)

    def update(self) -> bool:
        """Signal what the level calls for now; whether a message went out.

        A rising edge sends one. While the level stays up, a line that does
        not see the driver's accesses sends again every `resend_interval`.
        The PCI function calls this after every access of the driver; on
        iomem it runs while a model waits, and on every pass of the FPGA's loop.
        """
        with self.regs.lock:
            if not self.level():
                self._asserted = False
                return False
            line = self.line
            if line is None:
                return False
            now = time.monotonic()
            if self._asserted and (
                line.sees_accesses or now - self._last_sent < self.resend_interval
            ):
                return False
            self._last_sent = now
            if self.to_drop:
                # Lost on the way: the device believes it signalled.
                self.to_drop -= 1
                self.dropped += 1
                self._asserted = True
                return False
            sent = line.raise_irq()
            # Not sent over PCI (MSI disabled): the next access tries again.
            self._asserted = sent or not line.sees_accesses
            self.sent += sent
            return sent

    def drop(self, count: int = 1) -> None:
        """Lose the next `count` messages the level calls for (faults, docs/faults.md)."""
        if count < 0:
            raise SimulatorError("the number of interrupts to drop is at least 0")
        with self.regs.lock:
            self.to_drop = count

    def spurious(self, count: int = 1) -> int:
        """Send `count` messages with no cause set; how many went out."""
        if count < 0:
            raise SimulatorError("the number of spurious interrupts is at least 0")
        line = self.require_line()
        sent = 0
        for _ in range(count):
            with self.regs.lock:
                sent += line.raise_irq()
        return sent

    def raise_cause(self, cause: int) -> bool:
        """Set `cause` in the status register; whether that sent a message.

        A line that does not see the driver's accesses cannot tell whether
        the driver acknowledged the other causes meanwhile: an unmasked cause
        bit that rises is an edge there.
        """
        cause = int(cause)
        with self.regs.lock:
            rose = cause & ~self._status.get() & self._mask.get() & self._causes
            self.regs.set_bits(self.where.status, cause)
            if rose and (self.line is None or not self.line.sees_accesses):
                self._asserted = False
            return self.update()

    def wait_ack(self, cause: int, timeout: float = DEFAULT_TIMEOUT) -> float:
        """Wait until the driver has cleared `cause`, its acknowledgement; the seconds that took.

        Meanwhile the level is kept up (see `update`); after `timeout`
        seconds, AckTimeout.
        """
        return self._wait(cause, timeout, time.monotonic(), self.sent)

    def raise_and_wait_ack(self, cause: int, timeout: float = DEFAULT_TIMEOUT) -> float:
        """`raise_cause`, then `wait_ack`: an interrupt delivered and acknowledged; the seconds."""
        self.require_line()
        start, sent = time.monotonic(), self.sent
        self.raise_cause(cause)
        return self._wait(cause, timeout, start, sent)

    def _wait(self, cause: int, timeout: float, start: float, sent: int) -> float:
        line = self.require_line()
        if timeout <= 0:
            raise ValueError("the acknowledgement timeout must be positive")
        deadline = start + timeout
        # Where the transport sees the driver's accesses, its lock is held from
        # each check to the wait that releases it, so that no acknowledgement
        # slips in between. Elsewhere the driver takes no lock (a host-side
        # stand-in for it must not be kept out).
        with self.regs.lock if line.sees_accesses else contextlib.nullcontext():
            while self._status.get() & cause:
                now = time.monotonic()
                if now >= deadline:
                    raise AckTimeout(
                        f"the driver did not acknowledge interrupt {self.describe(cause)} "
                        f"on {line} within {timeout:g}s ({self.sent - sent} interrupts sent): "
                        "is the driver loaded and its interrupt enabled?"
                    )
                if not self.update():
                    line.pause(now - start, min(deadline - now, self.resend_interval))
        return time.monotonic() - start

    def require_line(self) -> Interrupt:
        if self.line is None:
            raise SimulatorError("no interrupt line to the driver: attach with its irq socket")
        return self.line

    def describe(self, cause: int) -> str:
        """'LinkChg (IntrStatus bit 5)': `cause` as the register map names it."""
        status = self.where.status
        fields = [f for f in self.regs.register(status).fields.values() if f.mask & cause]
        if not fields:
            return f"{status} bits {cause:#x}"
        bits = ", ".join(f.bits for f in fields)
        plural = "s" if len(fields) > 1 or fields[0].width > 1 else ""
        return f"{'|'.join(f.name for f in fields)} ({status} bit{plural} {bits})"


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

    sees_accesses = False  # the driver's loads and stores stay in the guest

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

    def pause(self, waited: float, limit: float) -> None:
        """Poll: busy at first (most acknowledgements come within tens of microseconds, and
        a sleep alone costs more), then sleeping longer the longer the wait, up to 1 ms."""
        if waited >= _SPIN:
            time.sleep(max(0.0, min(limit, _POLL_MAX, max(_POLL_MIN, waited - _SPIN))))

    def close(self) -> None:
        self._sock.close()

    def __repr__(self) -> str:
        return f"InterruptLine({str(self.path)!r})"

    def __str__(self) -> str:
        return str(self.path)
