"""Checks of what a user asks for, shared by the CLI, the Python API and the pytest plugin.

Each check turns a bad value into one `HarnessError` line that names the
option and says what would be accepted, before anything is built or booted.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from .errors import HarnessError
from .iomem import parse_size
from .tmpdir import uml_temp_dir

MIN_GUEST_MEMORY = 32 << 20
_UMID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


def seconds(value: object, what: str) -> float:
    """A finite, positive number of seconds (`value` as given: text or a number)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise HarnessError(f"{what} {value!r}: not a number of seconds") from None
    if not math.isfinite(number) or number <= 0:
        raise HarnessError(f"{what} {value!r}: must be a finite number of seconds above 0")
    return number


def host_memory() -> int:
    """The host's RAM in bytes (MemTotal)."""
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise HarnessError("cannot read MemTotal from /proc/meminfo")


def guest_memory(text: str, what: str = "--mem") -> int:
    """Guest memory in bytes: at least 32M, at most the host's RAM."""
    try:
        size = parse_size(text)
    except HarnessError as error:
        raise HarnessError(f"{what} {text}: {error}") from None
    if size < MIN_GUEST_MEMORY:
        raise HarnessError(f"{what} {text}: the guest needs at least 32M")
    ram = host_memory()
    if size > ram:
        raise HarnessError(f"{what} {text}: more than this host's {ram >> 20}M of RAM")
    return size


def guest_memory_backing(text: str, what: str = "--mem") -> None:
    """The directory UML maps guest memory from must be able to hold it."""
    size = guest_memory(text, what)
    backing = uml_temp_dir()
    fs = os.statvfs(backing)
    room = fs.f_blocks * fs.f_frsize
    if size > room:
        raise HarnessError(
            f"{what} {text}: UML maps guest memory from a file in {backing}, which holds "
            f"only {room >> 20}M (set TMPDIR to a bigger exec mount, or ask for less)"
        )


def umid(text: str) -> str:
    if not _UMID.match(text):
        raise HarnessError(
            f"bad umid {text!r}: 1 to 32 letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    return text


def share(path: Path) -> Path:
    """A host directory for hostfs: it must exist, and be a path the guest's init can take."""
    if not path.is_dir():
        raise HarnessError(f"--share {path}: not a directory")
    resolved = path.resolve()
    if any(ord(char) < 0x20 or char == "\x7f" for char in str(resolved)):
        raise HarnessError(f"--share {path}: a path with control characters cannot be mounted")
    return resolved
