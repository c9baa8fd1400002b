"""A stand-in for a registry instance, whose UML process exits when a test says."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FakeGuest:
    """An InstanceInfo as far as the watch cares; `alive` says whether its UML still runs."""

    umid: str = "uh-1234abcd"
    alive: bool = True
    alive_for: int | None = None  # answers alive this many times only
    asked: int = 0

    def running(self) -> bool:
        self.asked += 1
        return self.alive and (self.alive_for is None or self.asked <= self.alive_for)
