"""Where the harness keeps its cache and finds uml-config/, drivers/ and rootfs/.

Instances live in `umlharness_shared.rundir.run_dir()`, which `sim` reads too.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from umlharness_shared.rundir import own_directory

#: The repository checkout that holds uml-config/, drivers/ and rootfs/.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """$UMLHARNESS_CACHE, else $XDG_CACHE_HOME/umlharness, else ~/.cache/umlharness."""
    explicit = os.environ.get("UMLHARNESS_CACHE")
    if explicit:
        return own_directory(Path(explicit), "UMLHARNESS_CACHE")
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return own_directory(base / "umlharness", "the cache directory")


def config_dir() -> Path:
    return PROJECT_ROOT / "uml-config"


def drivers_dir() -> Path:
    return PROJECT_ROOT / "drivers"


def rootfs_overlay_dir() -> Path:
    return PROJECT_ROOT / "rootfs"


def include_dir() -> Path:
    """Headers drivers include from the harness (uh_iomem.h), installed with the package."""
    return Path(__file__).resolve().parent / "include"


def kmod_dir() -> Path:
    """The harness's own modules (uh_core), built with every driver, installed with the package."""
    return Path(__file__).resolve().parent / "kmod"


def userspace_dir() -> Path:
    """Guest programs: one directory of C sources each, built static into /usr/bin."""
    return PROJECT_ROOT / "userspace"


def private_dir(path: Path) -> Path:
    """`path` (and its parents) as a directory only this user can enter."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def private_copy(source: Path, target: Path) -> None:
    """Copy a log or register file where only this user can read it."""
    shutil.copyfile(source, target)
    target.chmod(0o600)
