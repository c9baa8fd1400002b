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
    # An interrupt nobody handled 99,900 times in 100,000, now disabled: the
    # device behind it is cut off (an interrupt storm, or a driver that
    # never claims its interrupt).
    ("disabled IRQ", re.compile(r"irq \d+: nobody cared")),
    (
        "soft lockup",
        re.compile(r"soft lockup - CPU#|rcu_sched self-detected stall|rcu: INFO: rcu_sched"),
    ),
)
#: Lines that end a trace; what follows belongs to the next event.
TRACE_END = re.compile(r"---\[ end (?:trace|Kernel panic)[^\]]*\]---|^=+$|Disabling IRQ #\d+")


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


#: Frames of the report itself, not of the code that crashed.
_REPORTING = re.compile(
    r"^(?:show_stack|dump_stack|dump_stack_lvl|dump_trace|print_report|kasan_report|"
    r"__kasan_\w+|kasan_\w+|__asan_\w+|__warn|warn_slowpath\w*|report_bug|panic|die|"
    r"_printk|printk|__report_bad_irq|note_interrupt|segv|segv_handler|relay_signal|"
    r"sig_handler\w*|userspace|hard_handler|unblock_signals\w*|um_set_signals\w*)$"
)
#: A frame UML's unwinder is sure of ("?" marks a guess): name+offset/size [module].
_FRAME = re.compile(r"\]\s+(?!\?)([A-Za-z_][\w.]*)\+0x[0-9a-f]+/0x[0-9a-f]+")
_NOISE = (
    (re.compile(r"^\[\s*\d+\.\d+\]\s*"), ""),  # printk timestamps
    (re.compile(r"\+0x[0-9a-f]+/0x[0-9a-f]+"), ""),  # offsets within a function
    (re.compile(r"0x[0-9a-f]+|\b[0-9a-f]{8,16}\b"), "X"),  # addresses
    (re.compile(r"\b(CPU|PID|irq|IRQ) ?#?\d+"), r"\1 N"),
    (re.compile(r"by task \S+"), "by task T"),
)


def signature(kind: str, trace: str, frames: int = 2) -> str:
    """What tells one crash from another, whatever the run: its kind, its first
    line without addresses, and the first `frames` functions the unwinder is sure
    of, past those of the report itself."""
    lines = trace.splitlines()
    title = lines[0] if lines else ""
    for pattern, replacement in _NOISE:
        title = pattern.sub(replacement, title)
    names = [
        name.removesuffix(".cold")
        for name in _FRAME.findall(trace)
        if not _REPORTING.match(name.removesuffix(".cold"))
    ]
    where = " < ".join(list(dict.fromkeys(names))[:frames])
    return f"{kind}: {title.strip()}" + (f" | {where}" if where else "")
