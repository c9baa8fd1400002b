"""Reading a harness process's output in integration tests."""

from __future__ import annotations

import os
import select
import subprocess
import time


def wait_for_output(process: subprocess.Popen[str], text: str, timeout: float = 60) -> str:
    """Read `process`'s stdout until `text` shows up; what was read. Fails on a
    timeout or if the process closes its output first."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        assert time.monotonic() < deadline, f"no {text!r} in {seen!r}"
        readable, _, _ = select.select([fd], [], [], 0.1)
        if readable:
            chunk = os.read(fd, 65536)
            assert chunk, f"the process exited: {seen!r}"
            seen += chunk
    return seen.decode(errors="replace")


def powered_off(kernel_log: str) -> bool:
    """Whether the kernel log ends a clean poweroff (6.1 and 6.12 word it differently)."""
    return "reboot: System halted" in kernel_log or "reboot: Power down" in kernel_log
