"""The base of every error meant for a person, whichever side raises it."""

from __future__ import annotations


class HarnessError(Exception):
    """A failure the user can act on; the CLIs print it as one line."""
