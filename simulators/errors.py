"""Errors the simulators raise.

They derive from `HarnessError`, shared with the harness, so that one `except` in a
test or a CLI catches both, and each carries one line meant for a person.
"""

from __future__ import annotations

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
