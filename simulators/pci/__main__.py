"""`python -m simulators.pci`: one PCI backend process, as `umlharness boot --pci` starts it.

It listens on the vhost-user socket, prints `ready` on stdout, waits for
UML to connect, and serves until UML disconnects (or SIGTERM). Its
diagnostics go to stderr, which the harness keeps in the instance's log.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from umlharness_shared.handshake import READY, report_failure

from ..errors import SimulatorError
from .backend import DEFAULT_SPIN, Backend
from .control import STEP, UNPLUG, ControlServer
from .models import backend_options, make_model, parse_spec
from .trace import TraceWriter


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


#: How long a busy thread (a model's own, or a test's call over the control
#: socket, such as a UDP source) keeps the GIL from the thread serving the
#: guest's accesses; Linux 6.1 gives an access 40 ms in all.
SWITCH_INTERVAL_S = 0.0005


def main(argv: list[str] | None = None) -> int:
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    parser = argparse.ArgumentParser(prog="python -m simulators.pci")
    parser.add_argument("--model", required=True, help="NAME[,key=value...]")
    parser.add_argument("--socket", required=True, type=Path, help="vhost-user socket to listen on")
    parser.add_argument("--control", type=Path, help="control socket for `sim`")
    parser.add_argument("--trace", type=Path, help="record every access here")
    parser.add_argument("--slot", default="pci0", help="the device's name in the instance")
    parser.add_argument("--accept-timeout", type=float, default=60.0)
    parser.add_argument(
        "--spin-us",
        type=float,
        default=DEFAULT_SPIN * 1e6,
        help="microseconds to poll for the next access before sleeping (0: never poll)",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        name, options = parse_spec(args.model)
        function = make_model(name, options)
        _, strict = backend_options(options)
        trace = TraceWriter(args.trace, name, function.options(), args.slot) if args.trace else None
        spin = max(0.0, args.spin_us) / 1e6
        with Backend(function, args.socket, trace=trace, spin=spin, strict=strict) as backend:
            control = (
                ControlServer(
                    args.control,
                    lambda: function.chip,
                    {STEP: backend.step, UNPLUG: backend.unplug},
                )
                if args.control
                else None
            )
            print(READY, flush=True)
            try:
                backend.accept(args.accept_timeout)
                backend.serve()
            finally:
                if control is not None:
                    control.close()
    except SimulatorError as error:
        return report_failure(error, "pci backend")
    return 0


if __name__ == "__main__":
    sys.exit(main())
