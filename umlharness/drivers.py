"""Build the drivers: every module directory (one with a Kbuild file) of the
drivers directories, out of tree, against a cached kernel.

Each module is a cache entry of its own, keyed by its sources, the shared
files of its drivers directory (headers such as include/), the shipped
headers, the modules it imports symbols from and the kernel, but not by
where the checkout lives: an edit rebuilds one module (and those that use
its symbols), a second clone rebuilds none. Modules build in parallel,
providers before their users (module_graph.py), each in a copy of its
drivers directory so that relative includes work and the user's tree stays
clean. The harness's own uh_core module (umlharness/kmod), which uh_iomem.h's
functions come from, is built with every set of drivers. Builds use W=1, and any compiler or
modpost warning fails the build, quoted with the user's own file and line.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path

from . import paths
from .buildlog import run_logged
from .cache import CacheEntry, digest
from .errors import BuildFailed, HarnessError
from .kbuild_replay import Recipe
from .kernel import Kernel
from .module_graph import ModuleGraph, Symbols
from .progress import QuietReporter, Reporter

#: Bump when the way a module is built changes, so old cache entries are not reused.
RECIPE_VERSION = "3"
WARNING = re.compile(r"\bwarning:|^WARNING: ", re.M)
DIAGNOSTIC = re.compile(r"\b(warning|error):|^(WARNING|ERROR): ")
#: Plain quotes in gcc's diagnostics (the kernel's Makefile unexports LC_ALL).
PLAIN_LOCALE = {**os.environ, "LANG": "C", "LC_CTYPE": "C", "LC_MESSAGES": "C"}
#: Diagnostics quoted in an error's one message (all of them are in the log).
QUOTED_DIAGNOSTICS = 5
UNDEFINED = re.compile(r'^ERROR: modpost: "(\w+)" \[.*\] undefined!', re.M)
MODULE_ARTEFACTS = ("*.ko", "Module.symvers")
#: Where a build's copy holds the Module.symvers of the modules it imports from.
PROVIDERS_DIR = ".providers"


@dataclass(frozen=True)
class BuiltDrivers:
    """The modules built from the drivers directories (.ko files in the cache)."""

    modules: tuple[Path, ...]

    def gcov_notes(self) -> dict[str, Path]:
        """The gcov notes files of a coverage build, by object name ("uh_fpga")."""
        found: dict[str, Path] = {}
        for entry in {ko.parent for ko in self.modules}:
            for note in (entry / GCOV_NOTES).rglob("*.gcno"):
                found[note.stem] = note
        return found


#: Where a coverage build keeps its .gcno files, in the module's cache entry.
GCOV_NOTES = "gcov"


class RecipeFailed(BuildFailed):
    """A command of a recorded build recipe failed (kbuild_replay.py)."""


@dataclass(frozen=True)
class ModuleSource:
    """One module directory inside a drivers directory."""

    drivers_dir: Path
    module_dir: Path

    @property
    def name(self) -> str:
        return self.module_dir.name

    @property
    def relative(self) -> Path:
        return self.module_dir.relative_to(self.drivers_dir)

    @property
    def shown_as(self) -> str:
        """How `__FILE__` names the sources (in a WARN's file:line): relative to the
        project, so that the module is the same whichever checkout built it."""
        return str(self.drivers_dir.relative_to(project_root_of(self.drivers_dir)))

    @functools.cached_property
    def symbols(self) -> Symbols:
        return Symbols.scan(self.module_dir)

    @functools.cached_property
    def others(self) -> tuple[Path, ...]:
        """The other module directories of its drivers directory (not copied, not keyed)."""
        return tuple(m for m in module_dirs(self.drivers_dir) if m != self.module_dir)

    def key(self, kernel: Kernel, provider_keys: Sequence[str] = ()) -> str:
        """Its cache entry: the files it is built from, the shipped headers, the
        cache entries of the modules it imports from (their symbols' CRCs go into
        its .ko) and the kernel; not where the checkout lives, unless the kernel
        gathers coverage: the notes files then name the sources by their path."""
        return digest(
            [
                RECIPE_VERSION,
                kernel.key,
                self.shown_as,
                str(self.relative),
                *self._files_digest(with_contents=True),
                *tree_digest(paths.include_dir()),
                *provider_keys,
                *([str(self.drivers_dir)] if kernel.gathers_coverage else []),
            ]
        )

    def layout_key(self, kernel: Kernel, providers: int = 0) -> str:
        """What decides the commands Kbuild runs for this module (kbuild_replay.py):
        its Kbuild file, the names of the files it is built with, the kernel, the
        flags and how many providers' symbols modpost reads; not the sources'
        contents."""
        return digest(
            [
                RECIPE_VERSION,
                kernel.key,
                self.shown_as,
                str(self.relative),
                str(paths.include_dir()),
                str(uh_iomem_version()),
                str(providers),
                *self._files_digest(with_contents=False),
                *(k.read_bytes() for k in sorted(self.module_dir.rglob("Kbuild*"))),
                *(m.read_bytes() for m in sorted(self.module_dir.rglob("Makefile"))),
            ]
        )

    def copy_to(self, target: Path) -> None:
        """Copy the drivers directory, without the other modules or build outputs."""
        shutil.copytree(self.drivers_dir, target, ignore=self._ignored)

    def _files_digest(self, with_contents: bool) -> list[str | bytes]:
        """Names (and contents) of the files copy_to() copies."""
        parts: list[str | bytes] = []
        for directory, names, files in os.walk(self.drivers_dir):
            names[:] = sorted(set(names) - set(self._ignored(directory, names)))
            for name in sorted(set(files) - set(self._ignored(directory, files))):
                path = Path(directory, name)
                parts.append(str(path.relative_to(self.drivers_dir)))
                if with_contents:
                    parts.append(path.read_bytes())
        return parts

    def _ignored(self, directory: str, names: list[str]) -> list[str]:
        here = Path(directory)
        return [
            n
            for n in names
            if (here / n) in self.others or n.startswith(".") or _is_build_output(here / n)
        ]


def project_root_of(directory: Path) -> Path:
    """The nearest ancestor that holds pyproject.toml or .git (else the parent)."""
    for candidate in directory.parents:
        if (candidate / "pyproject.toml").is_file() or (candidate / ".git").exists():
            return candidate
    return directory.parent


def module_dirs(drivers_dir: Path) -> list[Path]:
    return sorted(p.parent for p in drivers_dir.glob("*/Kbuild"))


def tree_digest(root: Path) -> list[str | bytes]:
    """Names and contents of the files under `root`, build outputs left out."""
    parts: list[str | bytes] = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not _is_build_output(path):
            parts += [str(path.relative_to(root)), path.read_bytes()]
    return parts


def _is_build_output(path: Path) -> bool:
    return path.suffix in {".o", ".ko", ".mod", ".cmd", ".symvers", ".order"} or path.name.endswith(
        ".mod.c"
    )


def find_modules(drivers_dirs: Sequence[Path]) -> list[ModuleSource]:
    sources = []
    for directory in drivers_dirs:
        if not directory.is_dir():
            raise HarnessError(f"drivers directory {directory} does not exist")
        directory = directory.resolve()
        sources += [ModuleSource(directory, module) for module in module_dirs(directory)]
    if not sources:
        named = ", ".join(str(d) for d in drivers_dirs)
        raise HarnessError(f"no driver in {named}: a driver is a directory with a Kbuild file")
    return sources


def build_drivers(
    kernel: Kernel,
    drivers_dirs: Sequence[Path] | None = None,
    reporter: Reporter | None = None,
    jobs: int | None = None,
) -> BuiltDrivers:
    """Build the modules of every drivers directory (default: the project's drivers/),
    with the harness's uh_core."""
    dirs = list(drivers_dirs) if drivers_dirs else [paths.drivers_dir()]
    reporter = reporter or QuietReporter()
    sources = [*find_modules([paths.kmod_dir()]), *find_modules(dirs)]
    graph = ModuleGraph.of(
        {source: source.symbols for source in sources},
        {source: f"{source.name} ({source.module_dir})" for source in sources},
    )
    entries: dict[ModuleSource, CacheEntry] = {}
    for source in graph.order:
        provider_keys = [entries[p].key for p in graph.providers_of(source)]
        entries[source] = CacheEntry(
            paths.cache_dir(), "modules", source.key(kernel, provider_keys), MODULE_ARTEFACTS
        )
    missing = [source for source in graph.order if not entries[source].ready]
    if missing:
        names = ", ".join(source.name for source in missing)
        reporter.phase(f"building {names} against Linux {kernel.release}", len(missing))
        exporters = {symbol: source.name for source in sources for symbol in source.symbols.exports}
        for wave in graph.waves(missing):
            workers = max(1, min(len(wave), jobs or os.cpu_count() or 1))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = [
                    pool.submit(
                        entries[source].ensure,
                        functools.partial(
                            build_module,
                            kernel,
                            source,
                            ModuleImports(
                                tuple(
                                    entries[p].path / "Module.symvers"
                                    for p in graph.providers_of(source)
                                ),
                                exporters,
                            ),
                        ),
                    )
                    for source in wave
                ]
                for future, source in zip(futures, wave, strict=True):
                    future.result()
                    reporter.advance(1, source.name)
    built: dict[str, Path] = {}
    for source in sorted(sources, key=lambda s: str(s.module_dir)):
        for ko in sorted(entries[source].path.glob("*.ko")):
            if ko.name in built:
                raise HarnessError(
                    f"two drivers build {ko.name}: {built[ko.name].parent.name} and {source.name}"
                )
            built[ko.name] = ko
    return BuiltDrivers(tuple(built[name] for name in sorted(built)))


@dataclass(frozen=True)
class ModuleImports:
    """What a module's build needs of the other modules."""

    #: The Module.symvers of the modules it imports symbols from, in build order.
    providers: tuple[Path, ...] = ()
    #: Every module's exported symbols, to name the provider of one modpost misses.
    exporters: Mapping[str, str] = dataclass_field(default_factory=dict)


def build_module(
    kernel: Kernel, source: ModuleSource, imports: ModuleImports, out: Path, log: Path
) -> None:
    """Build one module in a copy of its drivers directory; its .ko files and its
    Module.symvers go to `out`."""
    copy = out / "src" / source.drivers_dir.name

    def fresh_copy() -> None:
        source.copy_to(copy)
        (copy / PROVIDERS_DIR).mkdir()
        for index, symvers in enumerate(imports.providers):
            shutil.copy2(symvers, copy / PROVIDERS_DIR / f"{index}.symvers")

    fresh_copy()
    recipe_file = (
        paths.cache_dir() / "recipes" / f"{source.layout_key(kernel, len(imports.providers))}.json"
    )
    # A coverage build names the user's directory in its flags: no recipe to share.
    recipe = None if kernel.gathers_coverage else Recipe.load(recipe_file)
    if recipe is not None:
        try:
            build_one(kernel, source, copy, log, imports, recipe)
        except RecipeFailed:
            # A command of the recorded recipe failed: make has the last word, and
            # its diagnostics are the ones shown.
            shutil.rmtree(copy)
            fresh_copy()
            recipe = None
    if recipe is None:
        build_one(kernel, source, copy, log, imports)
        recorded = None if kernel.gathers_coverage else Recipe.record(copy / source.relative, copy)
        if recorded is not None:
            recorded.save(recipe_file)
    for ko in (copy / source.relative).glob("*.ko"):
        shutil.copy2(ko, out / ko.name)
    shutil.copy2(copy / source.relative / "Module.symvers", out / "Module.symvers")
    if kernel.gathers_coverage:
        # What gcov needs besides the guest's counts: the notes files (.gcno).
        for note in (copy / source.relative).rglob("*.gcno"):
            target = out / GCOV_NOTES / note.relative_to(copy / source.relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(note, target)
    shutil.rmtree(out / "src")


def uh_iomem_version() -> int:
    header = (paths.include_dir() / "uh_iomem.h").read_text()
    match = re.search(r"^#define UH_IOMEM_VERSION (\d+)$", header, re.M)
    if match is None:
        raise HarnessError(f"{paths.include_dir() / 'uh_iomem.h'} has no UH_IOMEM_VERSION")
    return int(match[1])


def build_one(
    kernel: Kernel,
    source: ModuleSource,
    copy: Path,
    log: Path,
    imports: ModuleImports,
    recipe: Recipe | None = None,
) -> None:
    """Build `source`'s module in `copy` (of its drivers directory), warning-free
    with W=1; diagnostics name the original files.

    With a `recipe`, its commands run instead of make; RecipeFailed if one of
    them fails. `__FILE__` and debug info name the sources relative to the
    project; the shipped headers (uh_iomem.h) are on the include path.
    """
    module_dir = copy / source.relative
    lines: list[str] = []

    def as_theirs(text: str) -> str:
        return text.replace(str(copy), str(source.drivers_dir))

    what = f"building driver {module_dir.name}"
    if recipe is not None:
        for command in recipe.for_sources(copy):
            try:
                run_logged(
                    ["sh", "-c", command],
                    log,
                    cwd=kernel.tree,
                    on_line=lines.append,
                    env=PLAIN_LOCALE,
                    what=what,
                )
            except BuildFailed as failed:
                raise RecipeFailed(str(failed), failed.log, failed.tail) from None
    else:
        try:
            run_logged(
                _make(
                    kernel,
                    module_dir,
                    copy,
                    source.shown_as,
                    len(imports.providers),
                    source.drivers_dir,
                ),
                log,
                on_line=lines.append,
                env=PLAIN_LOCALE,
                what=what,
            )
        except BuildFailed as failed:
            quoted = _diagnostics(lines, as_theirs) + _undefined_hint(
                source.name, lines, imports.exporters
            )
            raise BuildFailed(
                f"driver {module_dir.name} does not build:\n{quoted}\nfull log: {log}"
                if quoted
                else as_theirs(str(failed)),
                log=log,
                tail=as_theirs(failed.tail),
            ) from None
    warnings = [as_theirs(line.rstrip()) for line in lines if WARNING.search(line)]
    if warnings:
        raise BuildFailed(
            f"driver {module_dir.name} builds with {len(warnings)} warning(s) (W=1; "
            f"warnings fail the build):\n{_diagnostics(lines, as_theirs)}\nfull log: {log}",
            log=log,
            tail="\n".join(warnings[:20]),
        )


def _make(
    kernel: Kernel, module_dir: Path, copy: Path, shown_as: str, providers: int, origin: Path
) -> list[str]:
    flags = [
        f"-I{paths.include_dir()}",
        f"-DUH_IOMEM_HARNESS_VERSION={uh_iomem_version()}",
        f"-ffile-prefix-map={copy}={shown_as}",
    ]
    coverage = []
    if kernel.gathers_coverage:
        # gcov then names the user's own files (umlharness/coverage.py).
        flags.append(f"-fprofile-prefix-map={copy}={origin}")
        coverage = ["GCOV_PROFILE=y"]
    if any(" " in flag for flag in flags):
        # (KCFLAGS is split at spaces on its way to the compiler.)
        raise HarnessError(f"cannot build drivers in a path with spaces: {' '.join(flags)}")
    extra_symbols = " ".join(str(copy / PROVIDERS_DIR / f"{i}.symvers") for i in range(providers))
    return [
        "make",
        "-C",
        str(kernel.tree),
        f"M={module_dir}",
        "ARCH=um",
        "W=1",
        f"KCFLAGS={' '.join(flags)}",
        *([f"KBUILD_EXTRA_SYMBOLS={extra_symbols}"] if providers else []),
        *coverage,
        "modules",
    ]


def _undefined_hint(module: str, lines: list[str], exporters: Mapping[str, str]) -> str:
    """What modpost's "undefined" errors mean for this set of drivers."""
    hints = []
    for symbol in dict.fromkeys(UNDEFINED.findall("".join(lines))):
        provider = exporters.get(symbol)
        if provider is None:
            hints.append(
                f"  {symbol}: no driver being built exports it, nor does the kernel "
                "(is its provider's drivers directory missing from the drivers given?)"
            )
        else:
            hints.append(
                f"  {symbol} is exported by {provider}, but no file of {module}'s own names "
                f"it, so {module} was not built after {provider}: call it from {module}'s "
                "own files, not only through a shared header's macro"
            )
    return "\n" + "\n".join(hints) if hints else ""


def _diagnostics(lines: list[str], rewrite: Callable[[str], str]) -> str:
    """The first compiler/modpost diagnostics, each with the source line gcc quotes."""
    quoted: list[str] = []
    count = 0
    for index, line in enumerate(lines):
        if not DIAGNOSTIC.search(line):
            continue
        count += 1
        if count > QUOTED_DIAGNOSTICS:
            quoted.append("  ... and more")
            break
        quoted.append("  " + rewrite(line.rstrip()))
        # gcc follows a diagnostic with the source line and a caret line.
        for follow in lines[index + 1 : index + 3]:
            if "|" in follow:
                quoted.append("  " + follow.rstrip())
    return "\n".join(quoted)
