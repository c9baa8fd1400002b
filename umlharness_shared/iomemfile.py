"""An iomem file: what the guest maps as a device's registers and a model maps with numpy."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import HarnessError


def check_register_file(path: Path, error: type[HarnessError] = HarnessError) -> Path:
    """`path` resolved, if it can be a register file: a regular, non-empty file this
    user may read and write; else `error` saying which it is not."""
    resolved = path.resolve()
    if not resolved.exists():
        raise error(f"iomem file {path} does not exist")
    if not resolved.is_file():
        raise error(f"iomem file {path} is not a regular file")
    if not os.access(resolved, os.R_OK | os.W_OK):
        raise error(f"iomem file {path} is not readable and writable")
    if resolved.stat().st_size == 0:
        raise error(f"iomem file {path} is empty")
    return resolved
