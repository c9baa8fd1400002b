"""Kernel source: the distro's linux-source tarball by default, or a path the user gives."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .buildlog import run_logged
from .errors import HarnessError, NoKernelSource

DISTRO_SOURCE_DIR = Path("/usr/src")
#: The kernel series built when none is named (`--kernel`).
DEFAULT_SERIES = "6.1"


@dataclass(frozen=True)
class KernelSource:
    """A kernel tree to build from: a tarball or an unpacked tree / git checkout."""

    path: Path

    @classmethod
    def find(cls, explicit: Path | None = None, series: str = DEFAULT_SERIES) -> KernelSource:
        """The source the user named, else the distro's source tarball of `series`
        (/usr/src/linux-source-SERIES.tar.*, from the package linux-source-SERIES)."""
        if explicit is not None:
            path = explicit.expanduser().resolve()
            if not path.exists():
                raise HarnessError(f"kernel source {explicit} does not exist")
            source = cls(path)
            if path.is_dir() and not (path / "arch" / "um").is_dir():
                raise HarnessError(f"{explicit} is not a kernel tree (no arch/um)")
            if path.is_file() and ".tar" not in path.name:
                raise HarnessError(f"{explicit} is neither a kernel tree nor a .tar.* archive")
            return source
        candidates = sorted(DISTRO_SOURCE_DIR.glob(f"linux-source-{series}.tar.*"))
        if not candidates:
            raise NoKernelSource(
                f"no source of Linux {series} in {DISTRO_SOURCE_DIR}: install it with "
                f"`apt-get install linux-source-{series}`, or pass --source PATH"
            )
        return cls(candidates[0])

    @property
    def series(self) -> str:
        """The kernel's VERSION.PATCHLEVEL, e.g. "6.1", which picks the patch set."""
        if self.is_tarball:
            match = re.search(r"linux(?:-source)?-(\d+\.\d+)", self.path.name)
            if not match:
                raise HarnessError(f"cannot tell the kernel version from {self.path.name}")
            return match[1]
        makefile = (self.path / "Makefile").read_text(errors="replace")
        fields = dict(re.findall(r"^(VERSION|PATCHLEVEL) = (\d+)$", makefile, re.M))
        if "VERSION" not in fields or "PATCHLEVEL" not in fields:
            raise HarnessError(f"cannot tell the kernel version from {self.path}/Makefile")
        return f"{fields['VERSION']}.{fields['PATCHLEVEL']}"

    @property
    def is_tarball(self) -> bool:
        return self.path.is_file()

    def identity(self) -> str:
        """A cheap string that changes whenever the source does."""
        if self.is_tarball:
            stat = self.path.stat()
            return f"tar:{self.path}:{stat.st_size}:{stat.st_mtime_ns}"
        if (self.path / ".git").exists():
            head = _git(self.path, "rev-parse", "HEAD")
            diff = hashlib.sha256(_git(self.path, "diff", "HEAD").encode()).hexdigest()
            return f"git:{self.path}:{head}:{diff}"
        newest = max(p.stat().st_mtime_ns for p in self.path.rglob("*") if p.is_file())
        return f"tree:{self.path}:{newest}"

    def unpack_into(self, dest: Path, log: Path) -> None:
        """Put a pristine copy of the tree at `dest` (which must not exist)."""
        if self.is_tarball:
            dest.mkdir(parents=True)
            run_logged(
                ["tar", "-xf", str(self.path), "-C", str(dest), "--strip-components=1"],
                log,
                what=f"unpacking {self.path}",
            )
        else:
            shutil.copytree(self.path, dest, symlinks=True, ignore=shutil.ignore_patterns(".git"))


def _git(tree: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(tree), *args], check=True, capture_output=True, text=True
    ).stdout
