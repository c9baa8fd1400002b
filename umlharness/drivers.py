"""Build every module directory under drivers/ out of tree against a cached kernel.

A module directory is one with a Kbuild file. The whole drivers/ tree is
copied first, so modules can share headers (drivers/include) and the source
tree stays clean. Builds use W=1, and any compiler or modpost warning fails
the build: the drivers are meant to be warning-free.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .cache import CacheEntry, digest
from .errors import BuildFailed, HarnessError
from .kernel import Kernel
from .proc import run_logged
from .progress import QuietReporter, Reporter

WARNING = re.compile(r"\bwarning:|^WARNING: ", re.M)


@dataclass(frozen=True)
class BuiltDrivers:
    path: Path

    @property
    def modules(self) -> list[Path]:
        return sorted((self.path / "modules").glob("*.ko"))


def module_dirs(drivers_dir: Path) -> list[Path]:
    return sorted(p.parent for p in drivers_dir.glob("*/Kbuild"))


def tree_digest(root: Path) -> list[str | bytes]:
    parts: list[str | bytes] = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not _is_build_output(path):
            parts += [str(path.relative_to(root)), path.read_bytes()]
    return parts


def _is_build_output(path: Path) -> bool:
    return path.suffix in {".o", ".ko", ".mod", ".cmd", ".symvers", ".order"} or path.name.endswith(
        ".mod.c"
    )


def build_drivers(
    kernel: Kernel, drivers_dir: Path | None = None, reporter: Reporter | None = None
) -> BuiltDrivers:
    drivers_dir = drivers_dir or paths.drivers_dir()
    reporter = reporter or QuietReporter()
    if not drivers_dir.is_dir():
        raise HarnessError(f"drivers directory {drivers_dir} does not exist")
    key = digest([kernel.key, *tree_digest(drivers_dir)])
    entry = CacheEntry(paths.cache_dir(), "drivers", key)
    if entry.ready:
        return BuiltDrivers(entry.path)
    log = paths.cache_dir() / "logs" / f"drivers-{key}.log"

    def build(out: Path) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
        src = out / "src"
        shutil.copytree(drivers_dir, src, ignore=shutil.ignore_patterns("*.o", "*.ko", ".*.cmd"))
        (out / "modules").mkdir()
        dirs = module_dirs(src)
        reporter.phase(f"building {len(dirs)} driver(s) against Linux {kernel.release}", len(dirs))
        for module_dir in dirs:
            build_one(kernel, module_dir, log)
            for ko in module_dir.glob("*.ko"):
                shutil.copy2(ko, out / "modules" / ko.name)
            reporter.advance(1, module_dir.name)
        shutil.copy2(log, out / "build.log")

    return BuiltDrivers(entry.ensure(build))


def build_one(kernel: Kernel, module_dir: Path, log: Path) -> None:
    lines: list[str] = []
    run_logged(
        ["make", "-C", str(kernel.tree), f"M={module_dir}", "ARCH=um", "W=1", "modules"],
        log,
        on_line=lines.append,
        what=f"building driver {module_dir.name}",
    )
    warnings = [line.rstrip() for line in lines if WARNING.search(line)]
    if warnings:
        raise BuildFailed(
            f"driver {module_dir.name} builds with {len(warnings)} warning(s); log: {log}",
            log=log,
            tail="\n".join(warnings[:20]),
        )
