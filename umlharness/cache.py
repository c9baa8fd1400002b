"""Content-keyed cache entries, built in a temporary directory and renamed into place.

Two processes asking for the same entry serialise on a lock file; the loser
finds the entry complete and uses it. A crash mid-build leaves only a
`.tmp-*` directory, which the next build of that kind removes.

The completion marker lists the size and modification time of the entry's
artefacts (the kernel binary, the rootfs image...). An entry whose artefacts
no longer match (truncated, rewritten, lost its execute bit) is damaged: it is
rebuilt, saying why, rather than booted into a baffling failure.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from umlharness_shared.procs import pid_alive

from .progress import Reporter

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

    def __init__(
        self, root: Path, kind: str, key: str, artefacts: Sequence[str] = (), executable: str = ""
    ) -> None:
        """`artefacts`: glob patterns (relative to the entry) of the files checked on
        use; `executable`: one of them that must also stay executable."""
        self.kind_dir = root / kind
        self.key = key
        self.path = self.kind_dir / key
        self.log = root / "logs" / f"{kind}-{key}.log"
        self.artefacts = tuple(artefacts)
        self.executable = executable

    @property
    def ready(self) -> bool:
        return (self.path / COMPLETE_MARKER).exists() and self.damage() is None

    def _manifest(self, where: Path) -> dict[str, list[int]]:
        found = {}
        for pattern in self.artefacts:
            for path in sorted(where.glob(pattern)):
                info = path.lstat()
                found[str(path.relative_to(where))] = [info.st_size, info.st_mtime_ns]
        return found

    def damage(self) -> str | None:
        """Why the complete entry cannot be used as it is, or None if it can."""
        try:
            recorded = json.loads((self.path / COMPLETE_MARKER).read_text() or "{}")
        except (OSError, ValueError):
            return "its completion marker is unreadable"
        expected = recorded.get("artefacts") if isinstance(recorded, dict) else None
        if not isinstance(expected, dict):
            return None  # an entry made before artefacts were recorded
        actual = self._manifest(self.path)
        for name, (size, mtime) in expected.items():
            if name not in actual:
                return f"{name} is missing"
            if actual[name] != [size, mtime]:
                return f"{name} changed after it was built (size {actual[name][0]}, was {size})"
        if self.executable and not os.access(self.path / self.executable, os.X_OK):
            return f"{self.executable} is not executable"
        return None

    def ensure(self, build: Callable[[Path, Path], None], reporter: Reporter | None = None) -> Path:
        """Return the entry's path, calling `build(tmpdir, log)` first if it is
        missing or damaged."""
        if self.ready:
            return self.path
        with file_lock(self.kind_dir / f"{self.key}.lock"):
            if self.ready:
                return self.path
            damage = self.damage() if (self.path / COMPLETE_MARKER).exists() else None
            if damage is not None and reporter is not None:
                reporter.phase(f"cache entry {self.path} is damaged ({damage}): rebuilding it")
            self._remove_stale_temporaries()
            tmp = Path(
                tempfile.mkdtemp(prefix=f".tmp-{self.key}-{os.getpid()}-", dir=self.kind_dir)
            )
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self.log.write_text("")
            try:
                build(tmp, self.log)
                shutil.copy2(self.log, tmp / "build.log")
                marker = {"artefacts": self._manifest(tmp)}
                (tmp / COMPLETE_MARKER).write_text(json.dumps(marker))
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
