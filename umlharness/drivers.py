"""Build every module directory under drivers/ out of tree against a cached kernel.

A module directory is one with a Kbuild file. The whole drivers/ tree is
copied first, so modules can share headers (drivers/include) and the source
tree stays clean. Builds use W=1, and any compiler or modpost warning fails
the build: the drivers are meant to be warning-free.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .buildlog import run_logged
from .cache import CacheEntry, digest
from .errors import BuildFailed, HarnessError
from .kernel import Kernel
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
    kernel: Kernel,
    drivers_dirs: Sequence[Path] | None = None,
    reporter: Reporter | None = None,
) -> BuiltDrivers:
    """Build the modules of every drivers directory (default: the project's drivers/)."""
    dirs = list(drivers_dirs) if drivers_dirs else [paths.drivers_dir()]
    reporter = reporter or QuietReporter()
    for directory in dirs:
        if not directory.is_dir():
            raise HarnessError(f"drivers directory {directory} does not exist")
    key = digest([kernel.key, *(part for d in dirs for part in [str(d), *tree_digest(d)])])
    entry = CacheEntry(paths.cache_dir(), "drivers", key, artefacts=("modules/*.ko",))
    if entry.ready:
        return BuiltDrivers(entry.path)

    def build(out: Path, log: Path) -> None:
        (out / "modules").mkdir()
        sources: list[tuple[Path, tuple[Path, Path]]] = []
        for index, directory in enumerate(dirs):
            # Each tree keeps its layout, so relative includes (../include) still work.
            src = out / "src" / f"{index}-{directory.name}"
            shutil.copytree(directory, src, ignore=shutil.ignore_patterns("*.o", "*.ko", ".*.cmd"))
            sources += [(module_dir, (src, directory.resolve())) for module_dir in module_dirs(src)]
        names = [module_dir.name for module_dir, _ in sources]
        reporter.phase(
            f"building {len(sources)} driver(s) against Linux {kernel.release}", len(sources)
        )
        for module_dir, shown_as in sources:
            build_one(kernel, module_dir, log, shown_as)
            for ko in module_dir.glob("*.ko"):
                if (out / "modules" / ko.name).exists():
                    raise HarnessError(f"two drivers build {ko.name}: {', '.join(names)}")
                shutil.copy2(ko, out / "modules" / ko.name)
            reporter.advance(1, module_dir.name)

    return BuiltDrivers(entry.ensure(build, reporter))


def build_one(
    kernel: Kernel, module_dir: Path, log: Path, shown_as: tuple[Path, Path] | None = None
) -> None:
    """Build the module(s) in `module_dir`, warning-free with W=1.

    `shown_as` = (copy, original) names the sources by their original paths
    in `__FILE__` and debug info, so a WARN's file:line points at the
    driver's own tree rather than at the build's temporary copy.
    """
    command = ["make", "-C", str(kernel.tree), f"M={module_dir}", "ARCH=um", "W=1"]
    if shown_as is not None and not any(" " in str(path) for path in shown_as):
        # (KCFLAGS is split at spaces on its way to the compiler.)
        command.append(f"KCFLAGS=-ffile-prefix-map={shown_as[0]}={shown_as[1]}")
    lines: list[str] = []
    run_logged(
        [*command, "modules"],
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
