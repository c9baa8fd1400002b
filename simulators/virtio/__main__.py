"""`python -m simulators.virtio`: a guest's I2C and GPIO devices, as `umlharness boot --i2c/--gpio`
starts them.

It listens on the devices' vhost-user sockets, prints `ready`, serves UML
until it disconnects from every device (or SIGTERM), and answers `sim` and
tests on its control socket. Diagnostics go to stderr, the instance's log.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from umlharness_shared.handshake import READY, report_failure

from ..errors import SimulatorError
from ..pci.control import ControlServer
from .board import Board, I2cSpec, call_target


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.virtio")
    parser.add_argument("--dir", required=True, type=Path, help="where the sockets go")
    parser.add_argument("--i2c", action="append", default=[], help="MODEL@ADDRESS[,key=value...]")
    parser.add_argument("--gpio", type=int, default=0, help="GPIO lines (0: no controller)")
    parser.add_argument("--control", type=Path, help="control socket for `sim` and tests")
    parser.add_argument("--accept-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        board = Board(args.dir, [I2cSpec.parse(text) for text in args.i2c], args.gpio)
        try:
            control = (
                ControlServer(args.control, lambda: call_target(board), lock=board.lock)
                if args.control
                else None
            )
            print(READY, flush=True)
            try:
                board.serve(args.accept_timeout)
            finally:
                if control is not None:
                    control.close()
        finally:
            board.close()
    except SimulatorError as error:
        return report_failure(error, "virtio backend")
    return 0


if __name__ == "__main__":
    sys.exit(main())
