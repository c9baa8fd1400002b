"""The run directory, where instances live, and the checks that keep it the user's own."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from .errors import HarnessError


def run_dir() -> Path:
    """Directory of running instances, one subdirectory (mode 0700) each.

    $UMLHARNESS_RUN, else $XDG_RUNTIME_DIR/umlharness, else /tmp/umlharness-UID.
    Kept short: unix socket paths inside it must fit in 108 bytes.
    """
    explicit = os.environ.get("UMLHARNESS_RUN")
    if explicit:
        return own_directory(Path(explicit), "UMLHARNESS_RUN")
    if os.environ.get("XDG_RUNTIME_DIR"):
        path = Path(os.environ["XDG_RUNTIME_DIR"]) / "umlharness"
    else:
        path = Path("/tmp") / f"umlharness-{os.getuid()}"
    return own_directory(path, "the run directory")


def own_directory(path: Path, what: str) -> Path:
    """`path`, created (mode 0700) if missing; refused unless it is safely this user's.

    A directory someone else owns or may write to, or a symlink (which could
    be pointed elsewhere later), would let them plant records, sockets or
    files that the harness then trusts, opens or removes. The checks use
    lstat on what mkdir found, so nothing is followed between check and use.
    """
    try:
        os.makedirs(path.parent, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
        info = os.lstat(path)
    except OSError as error:
        raise HarnessError(f"{what} {path}: cannot create it: {error.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        raise HarnessError(f"{what} {path} is a symlink: point it at a real directory")
    if not stat.S_ISDIR(info.st_mode):
        raise HarnessError(f"{what} {path} is not a directory")
    if info.st_uid != os.getuid():
        raise HarnessError(
            f"{what} {path} belongs to uid {info.st_uid}, not to you (uid {os.getuid()}): "
            "use a directory of your own"
        )
    if info.st_mode & 0o022:
        raise HarnessError(
            f"{what} {path} is writable by others (mode {stat.S_IMODE(info.st_mode):04o}): "
            f"run `chmod go-w {path}` or use another directory"
        )
    return path
