"""Content-keyed cache entries, built in a temporary directory and renamed into place.

Two processes asking for the same entry serialise on a lock file; the loser
finds the entry complete and uses it. A crash mid-build leaves only a
`.tmp-*` directory, which the next build of that kind removes.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .procs import pid_alive

COMPLETE_MARKER = ".complete"


def digest(parts: Iterable[str | bytes]) -> str:
    """A short stable hash of `parts`, in order."""
    hasher = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(8, "little"))
        hasher.update(data)
    return hasher.hexdigest()[:16]


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class CacheEntry:
    """One cached artefact directory: `<root>/<kind>/<key>/`.

    Its build log is `<root>/logs/<kind>-<key>.log`, outside the entry, so that
    it survives a failed build; a successful one also copies it into the entry.
    """

    def __init__(self, root: Path, kind: str, key: str) -> None:
        self.kind_dir = root / kind
        self.key = key
        self.path = self.kind_dir / key
        self.log = root / "logs" / f"{kind}-{key}.log"

    @property
    def ready(self) -> bool:
        return (self.path / COMPLETE_MARKER).exists()

    def ensure(self, build: Callable[[Path, Path], None]) -> Path:
        """Return the entry's path, calling `build(tmpdir, log)` first if it is missing."""
        if self.ready:
            return self.path
        with file_lock(self.kind_dir / f"{self.key}.lock"):
            if self.ready:
                return self.path
            self._remove_stale_temporaries()
            tmp = Path(
                tempfile.mkdtemp(prefix=f".tmp-{self.key}-{os.getpid()}-", dir=self.kind_dir)
            )
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self.log.write_text("")
            try:
                build(tmp, self.log)
                shutil.copy2(self.log, tmp / "build.log")
                (tmp / COMPLETE_MARKER).touch()
                if self.path.exists():
                    shutil.rmtree(self.path)
                tmp.rename(self.path)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return self.path

    def _remove_stale_temporaries(self) -> None:
        for stale in self.kind_dir.glob(f".tmp-{self.key}-*"):
            pid = stale.name.split("-")[2] if stale.name.count("-") >= 3 else ""
            if pid.isdigit() and pid_alive(int(pid)):
                continue
            shutil.rmtree(stale, ignore_errors=True)
