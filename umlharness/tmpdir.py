"""The directory UML maps the guest's memory from, checked before boot.

UML creates a file of the guest's memory size there and maps it executable,
so a noexec mount makes every boot fail deep inside the kernel. The harness
picks the directory itself and says so plainly when it cannot be used.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import HarnessError


def _usable(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def _noexec(path: Path) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_NOEXEC)


def uml_temp_dir() -> Path:
    """$TMPDIR if set, else /dev/shm (memory-backed), else /tmp; never a noexec mount."""
    explicit = os.environ.get("TMPDIR")
    if explicit:
        path = Path(explicit)
        if not _usable(path):
            raise HarnessError(f"TMPDIR={explicit} is not a writable directory")
        if _noexec(path):
            raise HarnessError(
                f"TMPDIR={explicit} is on a noexec mount; UML maps the guest's memory "
                "from a file there: point TMPDIR at a directory on an exec mount"
            )
        return path
    for candidate in (Path("/dev/shm"), Path("/tmp")):
        if _usable(candidate) and not _noexec(candidate):
            return candidate
    raise HarnessError(
        "/dev/shm and /tmp are both noexec or not writable; UML needs a directory to map "
        "the guest's memory from: set TMPDIR to one on an exec mount"
    )
