"""Unix socket paths: the guest's drivers, the models and the PCI backends all bind them."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import HarnessError

#: Longest unix socket path: sockaddr_un.sun_path is 108 bytes with its NUL.
SUN_PATH_MAX = 107


def check_socket_path(
    path: Path | str, what: str, error: type[HarnessError] = HarnessError
) -> None:
    """Refuse (with `error`) a socket path that would not fit in sun_path, naming what it is for."""
    encoded = os.fsencode(path)
    if len(encoded) > SUN_PATH_MAX:
        raise error(
            f"{what} {os.fsdecode(path)} is {len(encoded)} bytes, more than a unix socket path "
            f"may be ({SUN_PATH_MAX}): set UMLHARNESS_RUN to a shorter directory"
        )
