"""Recognise kernel crashes in the guest's kernel log and cut out their traces."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: (kind, pattern) in the order they are tried on a line; the first match names the crash.
CRASH_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # UML reports a bad kernel access (an oops elsewhere) as a panic.
    ("oops", re.compile(r"Kernel panic - not syncing: Kernel mode (?:fault|signal)")),
    ("panic", re.compile(r"Kernel panic - not syncing")),
    ("KASAN report", re.compile(r"BUG: KASAN: ")),
    ("BUG", re.compile(r"\bBUG: |kernel BUG at ")),
    ("oops", re.compile(r"\bOops(?:: |\b)|general protection fault|Unable to handle kernel")),
    ("WARN", re.compile(r"WARNING: (?:CPU: \d+ PID: \d+|at )|-+\[ cut here \]-+")),
    (
        "soft lockup",
        re.compile(r"soft lockup - CPU#|rcu_sched self-detected stall|rcu: INFO: rcu_sched"),
    ),
)
#: Lines that end a trace; what follows belongs to the next event.
TRACE_END = re.compile(r"---\[ end (?:trace|Kernel panic)[^\]]*\]---|^=+$")


@dataclass(frozen=True)
class Crash:
    kind: str
    first_line: str
    start: int  # offset of the first line in the kernel log


def find_crash(log: str, start: int = 0) -> Crash | None:
    """The first crash in `log` at or after offset `start`, if any."""
    offset = start
    for line in log[start:].splitlines(keepends=True):
        for kind, pattern in CRASH_PATTERNS:
            if pattern.search(line):
                return Crash(kind, line.strip(), offset)
        offset += len(line)
    return None


def extract_trace(log: str, crash: Crash, max_lines: int = 120) -> str:
    """The crash's lines: from its first line to the end-of-trace marker, or `max_lines`."""
    lines = log[crash.start :].splitlines()
    trace: list[str] = []
    for line in lines[:max_lines]:
        trace.append(line)
        if len(trace) > 1 and TRACE_END.search(line):
            break
    return "\n".join(trace)


def trace_complete(log: str, crash: Crash) -> bool:
    """Whether the trace that starts at `crash` has reached its end marker."""
    tail = log[crash.start :].splitlines()
    return any(TRACE_END.search(line) for line in tail[1:])
