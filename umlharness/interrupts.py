"""/proc/interrupts of a guest, parsed: what `Instance.interrupts()` returns."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class InterruptCount:
    """One row of /proc/interrupts: an IRQ, how often it fired, its chip (kind), the
    chip's own number for it (hwirq, for MSI rows) and the handler's name.

    (An interrupt *line* a model raises is `simulators.irq.InterruptLine`.)
    """

    irq: str
    count: int
    kind: str
    name: str
    hwirq: int | None = None


#: The kernel separates the fields by two spaces or more; a chip's name
#: ("UM virtio PCIe MSI") and a handler's ("hr timer") may hold single ones.
_FIELDS = re.compile(r"\s{2,}")


def parse_interrupts(text: str) -> list[InterruptCount]:
    """Parse /proc/interrupts on a one-CPU guest."""
    rows: list[InterruptCount] = []
    for raw in text.splitlines()[1:]:
        irq, colon, rest = raw.strip().partition(":")
        count, _, rest = rest.strip().partition(" ")
        if not colon or not count.isdigit():
            continue
        fields = _FIELDS.split(rest.strip())
        kind, hwirq = fields[0], None
        if len(fields) > 2 and fields[1].isdigit():
            hwirq = int(fields[1])
            fields = fields[1:]
        rows.append(InterruptCount(irq, int(count), kind, "  ".join(fields[1:]), hwirq))
    return rows
