"""The device's doorbell: a datagram socket the simulator binds, the driver rings after commands.

The simulator owns it (the driver's interrupt socket is the other way
round), at `<umid dir>/<region>-doorbell`. A datagram only says "look at the
command ring"; its content does not matter. One simulator per device: a
socket someone still receives on is refused, a stale one (its simulator
died) replaced.

The socket file also tells the driver how its simulator ended: one that
stops (its run is over, Ctrl-C, SIGTERM) removes it, one that dies (killed,
or failing with an error) leaves it behind, refusing. uh_fpga rings the
doorbell while its device is open, and tells its readers when a simulator
that was there dies; after a stop they wait for the next simulator.
"""

from __future__ import annotations

import socket
from pathlib import Path
from types import TracebackType

from umlharness_shared.sockets import check_socket_path

from ..closing import Closing
from ..errors import SimulatorError
from ..irq import receiver_error


def doorbell_path(irq_socket: Path) -> Path:
    """The doorbell of the device whose driver listens on `irq_socket` (same dir, same region)."""
    return irq_socket.with_name(f"{irq_socket.name}-doorbell")


class Doorbell(Closing):
    """The bound socket; `fileno()` for select(), `drain()` to empty it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        check_socket_path(path, "doorbell", SimulatorError)
        if path.exists() or path.is_symlink():
            if in_use(path):
                raise SimulatorError(
                    f"another simulator serves this device (it listens on {path}): stop it first"
                )
            path.unlink()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            self._sock.bind(str(path))
        except OSError as error:
            self._sock.close()
            raise SimulatorError(f"cannot bind the doorbell {path}: {error.strerror}") from None
        self._sock.setblocking(False)
        self.rings = 0

    def fileno(self) -> int:
        return self._sock.fileno()

    def drain(self) -> int:
        """Read every pending datagram; how many there were."""
        count = 0
        while True:
            try:
                self._sock.recv(64)
            except BlockingIOError:
                break
            count += 1
        self.rings += count
        return count

    def close(self, *, remove: bool = True) -> None:
        """Stop receiving; `remove` the socket file, unless this simulator is dying (see above)."""
        if self._sock.fileno() != -1:
            if remove:
                # First, so that the driver never finds it refusing meanwhile.
                self.path.unlink(missing_ok=True)
            self._sock.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Ctrl-C (and SIGTERM, turned into it) is a stop; any other exception a death.
        self.close(remove=exc_type is None or issubclass(exc_type, KeyboardInterrupt))


def in_use(path: Path) -> bool:
    """Whether a simulator receives on the doorbell at `path`."""
    return receiver_error(path) is None
