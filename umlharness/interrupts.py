"""/proc/interrupts of a guest, parsed: what `Instance.interrupts()` returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InterruptCount:
    """One row of /proc/interrupts: an IRQ, how often it fired, its kind and its name.

    (An interrupt *line* a model raises is `simulators.irq.InterruptLine`.)
    """

    irq: str
    count: int
    kind: str
    name: str


def parse_interrupts(text: str) -> list[InterruptCount]:
    """Parse /proc/interrupts on a one-CPU guest."""
    rows: list[InterruptCount] = []
    for raw in text.splitlines()[1:]:
        parts = raw.split(None, 3)
        if len(parts) < 3 or not parts[0].endswith(":") or not parts[1].isdigit():
            continue
        kind = parts[2]
        name = parts[3].strip() if len(parts) > 3 else ""
        rows.append(InterruptCount(parts[0].rstrip(":"), int(parts[1]), kind, name))
    return rows
