"""Errors the simulators raise.

They derive from `HarnessError`, shared with the harness, so that one `except` in a
test or a CLI catches both, and each carries one line meant for a person.
"""

from __future__ import annotations

import traceback

from umlharness_shared.errors import HarnessError


class SimulatorError(HarnessError):
    """A simulator could not do what it was asked; the message says what to fix."""


class DriverNotListening(SimulatorError):
    """No driver reads the interrupt socket: it is missing (not loaded) or stale (gone).

    Its own class so that a test can wait for a driver to load by retrying on it.
    """


class AckTimeout(SimulatorError):
    """The driver did not acknowledge a level-triggered interrupt in time."""


class GuestGone(SimulatorError):
    """The guest on the other side has gone (for an explicit --irq socket: its driver has)."""

    def after(self, what: str) -> GuestGone:
        """The same error, saying `what` the simulator had done by then."""
        return GuestGone(f"{self}; {what}")


class ModelError(SimulatorError):
    """A device model raised where no caller could catch it: in a register hook that a
    host-side access ran, or in a thread of its own.

    The message is one line naming the model; `traceback` is the model's traceback
    (the error is also chained as `__cause__`, so a test report shows it).
    """

    def __init__(self, model: str, error: BaseException, where: str, more: int = 0) -> None:
        also = f" (and {more} more error{'s' if more > 1 else ''} after it)" if more else ""
        detail = f": {error}" if str(error) else ""
        super().__init__(f"the {model} model raised {type(error).__name__} {where}{detail}{also}")
        self.model = model
        self.error = error
        self.traceback = "".join(traceback.format_exception(error))


class UnmappedAccess(SimulatorError):
    """Strict mode: the driver accessed an offset that no register of the map covers."""


class ModelFailed(SimulatorError):
    """A model's constructor raised (`what`: "PCI model rtl8111"); `traceback` is its
    traceback, for the backend's log."""

    def __init__(self, what: str, error: Exception) -> None:
        super().__init__(f"{what} failed to start: {type(error).__name__}: {error}".rstrip(": "))
        self.traceback = "".join(traceback.format_exception(error))
