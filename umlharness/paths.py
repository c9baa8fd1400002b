"""Where the harness keeps its cache and its running instances."""

from __future__ import annotations

import os
from pathlib import Path

#: The repository checkout that holds uml-config/, drivers/ and rootfs/.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """$UMLHARNESS_CACHE, else $XDG_CACHE_HOME/umlharness, else ~/.cache/umlharness."""
    explicit = os.environ.get("UMLHARNESS_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "umlharness"


def run_dir() -> Path:
    """Directory of running instances, one subdirectory (mode 0700) each.

    $UMLHARNESS_RUN, else $XDG_RUNTIME_DIR/umlharness, else /tmp/umlharness-UID.
    Kept short: unix socket paths inside it must fit in 108 bytes.
    """
    explicit = os.environ.get("UMLHARNESS_RUN")
    if explicit:
        path = Path(explicit)
    elif os.environ.get("XDG_RUNTIME_DIR"):
        path = Path(os.environ["XDG_RUNTIME_DIR"]) / "umlharness"
    else:
        path = Path("/tmp") / f"umlharness-{os.getuid()}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    return PROJECT_ROOT / "uml-config"


def drivers_dir() -> Path:
    return PROJECT_ROOT / "drivers"


def rootfs_overlay_dir() -> Path:
    return PROJECT_ROOT / "rootfs"


def userspace_dir() -> Path:
    """Guest programs: one directory of C sources each, built static into /usr/bin."""
    return PROJECT_ROOT / "userspace"
