"""Helpers for testing a device of your own, importable from the installed package.

    from umlharness.testing import FakeDriver, check_header

- `FakeDriver`: a stand-in for the guest driver on the host, to test a model
  without booting a guest: it binds the driver's interrupt socket and runs a
  handler (your Python copy of the driver's interrupt handler) for each
  interrupt the model sends.
- `check_header`: the committed C header of a register map is the one the
  generator (`simulators.cheader`, `sim header`) makes from it now; raises
  AssertionError with a diff otherwise, so a test fails when the map and the
  header drift apart.
"""

from __future__ import annotations

import difflib
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from simulators.cheader import COMMAND, CHeader, render
from simulators.devices import import_object
from simulators.errors import SimulatorError
from umlharness_shared.sockets import SUN_PATH_MAX

__all__ = ["FakeDriver", "check_header"]


class FakeDriver:
    """Receives interrupts at `path` and calls `handler` for each, after ignoring `ignore`.

    The real driver binds a SOCK_DGRAM socket in the umid directory, and UML
    runs its interrupt handler when a datagram arrives; here a thread does
    the same with a socket at `path` (in a test's tmp_path, say). Use it as a
    context manager: leaving the block stops the thread and raises the first
    exception the handler raised, in the test's thread.

        with FakeDriver(tmp_path / "thermo", AlertHandler(regs)) as driver:
            model = Thermo(regs, InterruptLine(tmp_path / "thermo"))
            model.set_temperature(90)
        assert driver.handled == 1
    """

    def __init__(self, path: Path, handler: Callable[[], None], *, ignore: int = 0) -> None:
        self.path = path
        self.handler = handler
        self.ignore = ignore
        #: Datagrams received, and how many of them the handler ran for without raising.
        self.datagrams = 0
        self.handled = 0
        self._errors: list[BaseException] = []
        if len(os.fsencode(path)) > SUN_PATH_MAX:
            raise ValueError(
                f"FakeDriver's socket {path} is longer than a unix socket path may be "
                f"({SUN_PATH_MAX} bytes): give it a shorter directory (pytest --basetemp)"
            )
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.01)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._sock.recv(64)
            except TimeoutError:
                continue
            self.datagrams += 1
            if self.datagrams <= self.ignore:
                continue
            try:
                self.handler()
                self.handled += 1
            except BaseException as error:  # reported by __exit__, in the test's thread
                self._errors.append(error)
                return

    def __enter__(self) -> FakeDriver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
        if self._errors and exc is None:
            raise self._errors[0]


def check_header(
    header: CHeader | str, path: str | os.PathLike[str] | None = None, *, root: Path | None = None
) -> None:
    """Assert that the header file at `path` is what `header` generates now.

    `header` is a `CHeader`, or where one is: "package.module" (its
    `C_HEADER`) or "package.module:ATTRIBUTE". `path` defaults to the
    header's own `path`, relative to `root` (default: the current
    directory). Raises AssertionError saying how to regenerate the file,
    with a unified diff of what changed, when it is missing or stale.

        def test_my_header_is_up_to_date():
            check_header("mysensor.regs", root=Path(__file__).parents[1])
    """
    spec = _load(header)
    where = Path(path) if path is not None else Path(spec.path)
    if not where.is_absolute():
        where = (root or Path.cwd()) / where
    regenerate = spec.command or f"{COMMAND} {spec.module}"
    expected = render(spec)
    if not where.is_file():
        raise AssertionError(f"{where} is missing: run `{regenerate}`")
    committed = where.read_text()
    if committed == expected:
        return
    diff = difflib.unified_diff(
        committed.splitlines(keepends=True),
        expected.splitlines(keepends=True),
        fromfile=f"{where} (committed)",
        tofile=f"{where} (from {spec.module})",
    )
    raise AssertionError(f"{where} is stale: run `{regenerate}`\n{''.join(diff)}")


def _load(header: CHeader | str) -> CHeader:
    if isinstance(header, CHeader):
        return header
    where = header if ":" in header else f"{header}:C_HEADER"
    try:
        found = import_object(where, f"header {header}")
    except SimulatorError as error:
        raise AssertionError(str(error)) from None
    if not isinstance(found, CHeader):
        raise TypeError(f"{where} is a {type(found).__name__}, not a simulators.cheader.CHeader")
    return found
