"""Build (or find in the cache) a User-Mode Linux kernel with the harness's patches and config."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import stat
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import paths
from .buildlog import run_logged
from .cache import CacheEntry, digest
from .errors import BuildFailed, ConfigDropped, HarnessError, ToolMissing
from .kconfig import Kconfig
from .progress import QuietReporter, Reporter
from .series import version
from .source import DEFAULT_SERIES, KernelSource

#: Bump when the way a kernel is built changes, so old cache entries are not reused.
RECIPE_VERSION = "1"
#: The starting config; the fragments turn on what the harness and drivers need.
BASE_CONFIG = "allnoconfig"
BUILD_TOOLS = {"make": "make", "gcc": "gcc", "flex": "flex", "bison": "bison", "bc": "bc"}
#: Fixed build identity, so that the same inputs give the same kernel.
REPRODUCIBLE_ENV = {
    "KBUILD_BUILD_TIMESTAMP": "1970-01-01",
    "KBUILD_BUILD_USER": "umlharness",
    "KBUILD_BUILD_HOST": "umlharness",
    "KBUILD_BUILD_VERSION": "1",
    "LC_ALL": "C",
}
#: What a kernel entry holds, checked on use (cache.py).
KERNEL_ARTEFACTS = ("linux", "release", "tree/Module.symvers")
#: Used for the progress bar before any build has recorded a real count.
DEFAULT_STEP_ESTIMATE = 900


def supported_series(config_dir: Path | None = None) -> list[str]:
    """Kernel series (e.g. "6.1") that have a patch set in `config_dir`/patches/."""
    patches = (config_dir or paths.config_dir()) / "patches"
    found = (p.name for p in patches.iterdir() if p.is_dir())
    return sorted(found, key=lambda name: tuple(int(n) for n in name.split(".")))


@dataclass(frozen=True)
class KernelRequest:
    """What kernel to build: source, extra fragments (a variant, the user's own)
    and parallelism."""

    source: Path | None = None
    #: The distro source's series ("6.1", "6.12") when no `source` is given.
    series: str = DEFAULT_SERIES
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    variant: str = "default"
    config_dir: Path = field(default_factory=paths.config_dir)
    cache_root: Path = field(default_factory=paths.cache_dir)
    #: The user's own Kconfig fragments (a project's `kernel-config`), laid over ours.
    user_fragments: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if self.series not in self.supported_series():
            raise HarnessError(
                f"no patch set for Linux {self.series} "
                f"(supported: {', '.join(self.supported_series())})"
            )
        for fragment in self.user_fragments:
            if not fragment.is_file():
                raise HarnessError(f"kernel config fragment {fragment} does not exist")

    def fragments(self, series: str | None = None) -> list[Path]:
        """Ours (with `series`' own, uml-config/series/SERIES.config, if it has one),
        the variant's, then the user's."""
        base = sorted(self.config_dir.glob("*.config"))
        own = self.config_dir / "series" / f"{series}.config"
        if series is not None and own.is_file():
            base.append(own)
        if self.variant != "default":
            extra = self.config_dir / "variants" / f"{self.variant}.config"
            if not extra.is_file():
                known = sorted(p.stem for p in (self.config_dir / "variants").glob("*.config"))
                raise HarnessError(f"unknown kernel variant {self.variant!r} (known: {known})")
            base.append(extra)
        return [*base, *self.user_fragments]

    def supported_series(self) -> list[str]:
        """Kernel series (e.g. "6.1") that have a patch set in uml-config/patches/."""
        return supported_series(self.config_dir)

    def patches(self, series: str) -> list[Path]:
        patch_dir = self.config_dir / "patches" / series
        if not patch_dir.is_dir():
            raise HarnessError(
                f"no patch set for Linux {series} in {patch_dir.parent} "
                f"(supported: {', '.join(self.supported_series())})"
            )
        return sorted(patch_dir.glob("*.patch"))


@dataclass(frozen=True)
class Kernel:
    """A built kernel in the cache."""

    path: Path

    @property
    def binary(self) -> Path:
        return self.path / "linux"

    @property
    def tree(self) -> Path:
        """The build tree, to build out-of-tree modules against (KDIR)."""
        return self.path / "tree"

    @property
    def release(self) -> str:
        return (self.path / "release").read_text().strip()

    @property
    def version(self) -> tuple[int, ...]:
        """(VERSION, PATCHLEVEL) of its release: (6, 12) for 6.12.117."""
        return version(".".join(self.release.split(".")[:2]))

    @property
    def series(self) -> str:
        """ "6.12" for 6.12.117."""
        return ".".join(str(part) for part in self.version)

    @property
    def variant(self) -> str:
        """default, kasan or cov: the fragment it was built with."""
        return str(json.loads((self.path / "meta.json").read_text()).get("variant", "default"))

    @property
    def log(self) -> Path:
        return self.path / "build.log"

    @property
    def sources_done_ns(self) -> int:
        """When its tree's sources were complete: older files are sources, newer ones
        build outputs (recorded by builds that can be a base for others)."""
        return int(json.loads((self.path / "meta.json").read_text())["sources_done_ns"])

    @property
    def key(self) -> str:
        return self.path.name

    @functools.cached_property  # asked several times per module build
    def gathers_coverage(self) -> bool:
        """Whether it keeps gcov data of modules built with GCOV_PROFILE (the cov variant)."""
        config = self.path / "config"
        return config.is_file() and "\nCONFIG_GCOV_KERNEL=y\n" in f"\n{config.read_text()}"

    def modules(self) -> list[Path]:
        """The kernel's own modules (r8169, say), as the tree's modules.order lists them."""
        order = self.tree / "modules.order"
        if not order.is_file():
            return []
        listed = (line.strip() for line in order.read_text().splitlines())
        return [self.tree / Path(name).with_suffix(".ko") for name in listed if name]


@dataclass(frozen=True)
class BuiltKernel:
    """A complete kernel entry of the cache, as its build recorded it."""

    key: str
    release: str
    variant: str
    source: str
    build_seconds: float | None


def built_kernels(cache_root: Path | None = None) -> list[BuiltKernel]:
    """The kernels in the cache, newest release first."""
    found = []
    for meta_file in sorted((cache_root or paths.cache_dir()).glob("kernels/*/meta.json")):
        entry = CacheEntry(
            meta_file.parent.parent.parent, "kernels", meta_file.parent.name, KERNEL_ARTEFACTS
        )
        if not entry.ready:
            continue
        try:
            meta = json.loads(meta_file.read_text())
        except (OSError, ValueError):
            continue
        found.append(
            BuiltKernel(
                key=entry.key,
                release=str(meta.get("release", "?")),
                variant=str(meta.get("variant", "default")),
                source=str(meta.get("source", "?")),
                build_seconds=meta.get("build_seconds"),
            )
        )
    return sorted(found, key=lambda k: (_release_key(k.release), k.variant), reverse=True)


def _release_key(release: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", release))


def check_tools(tools: dict[str, str]) -> None:
    missing = sorted({pkg for tool, pkg in tools.items() if shutil.which(tool) is None})
    if missing:
        raise ToolMissing(
            f"missing build tools: install them with `apt-get install {' '.join(missing)}`"
        )


def compiler_identity() -> str:
    try:
        return subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return "no-gcc"


def tree_key(request: KernelRequest, source: KernelSource) -> str:
    """What a build tree holds before it is configured: the source, the patches
    and the compiler. Kernels with the same tree key differ only in config."""
    parts: list[str | bytes] = [RECIPE_VERSION, source.identity(), compiler_identity()]
    for patch in request.patches(source.series):
        parts += [patch.name, patch.read_bytes()]
    return digest(parts)


def cache_key(request: KernelRequest, source: KernelSource, fragment: Kconfig) -> str:
    parts: list[str | bytes] = [RECIPE_VERSION, BASE_CONFIG, source.identity(), compiler_identity()]
    for patch in request.patches(source.series):
        parts += [patch.name, patch.read_bytes()]
    parts.append(fragment.to_text())
    return digest(parts)


def build_kernel(request: KernelRequest, reporter: Reporter | None = None) -> Kernel:
    """Return the cached kernel for `request`, building it first if needed."""
    reporter = reporter or QuietReporter()
    source = KernelSource.find(request.source, request.series)
    fragment = Kconfig.merge_files(request.fragments(source.series))
    entry = CacheEntry(
        request.cache_root,
        "kernels",
        cache_key(request, source, fragment),
        artefacts=KERNEL_ARTEFACTS,
        executable="linux",
    )
    if entry.ready:
        return Kernel(entry.path)
    check_tools(BUILD_TOOLS)
    builder = _KernelBuilder(request, source, fragment, reporter)
    return Kernel(entry.ensure(builder.build, reporter))


def _origins(fragments: list[Path], names: Iterable[str]) -> dict[str, Path]:
    """The fragment that set each option last (the one whose value counts)."""
    found: dict[str, Path] = {}
    for fragment in fragments:
        options = Kconfig.read(fragment).options
        found.update({name: fragment for name in names if name in options})
    return found


class _KernelBuilder:
    def __init__(
        self,
        request: KernelRequest,
        source: KernelSource,
        fragment: Kconfig,
        reporter: Reporter,
    ) -> None:
        self.request = request
        self.source = source
        self.fragment = fragment
        self.reporter = reporter
        self.estimate_file = request.cache_root / "kernels" / "build-steps.json"
        self.tree_key = tree_key(request, source)

    def nearest_built_tree(self) -> Kernel | None:
        """A cached kernel of the same source and patches whose fragments differ
        from ours in the fewest lines, or None."""
        wanted = set(self.fragment.to_text().splitlines())
        candidates = []
        for meta_file in sorted((self.request.cache_root / "kernels").glob("*/meta.json")):
            entry = CacheEntry(
                self.request.cache_root, "kernels", meta_file.parent.name, KERNEL_ARTEFACTS
            )
            try:
                meta = json.loads(meta_file.read_text())
                same_tree = meta.get("tree_key") == self.tree_key and "sources_done_ns" in meta
                lines = set((entry.path / "fragment.config").read_text().splitlines())
            except (OSError, ValueError, AttributeError):
                continue
            if same_tree and entry.ready:
                candidates.append((len(lines ^ wanted), entry.key))
        if not candidates:
            return None
        return Kernel(self.request.cache_root / "kernels" / min(candidates)[1])

    def build(self, out: Path, log: Path) -> None:
        tree = out / "tree"
        started = time.monotonic()
        base = self.nearest_built_tree()
        if base is not None:
            # Only the config differs: Kbuild's per-option dependencies
            # (include/config/) recompile what the changed options touch.
            self.reporter.phase(
                f"copying the built tree of kernel {base.key} (same source and patches)"
            )
            copy_built_tree(base, tree, log)
        else:
            self.unpack(tree, log)
            self.reporter.phase("applying patches")
            for patch in self.request.patches(self.source.series):
                apply_patch(tree, patch, log)
        # Files older than this are sources (unpacked or patched), never written again.
        sources_done_ns = time.time_ns() if base is None else base.sources_done_ns
        fragments = self.request.fragments(self.source.series)
        self.reporter.phase(f"configuring ({BASE_CONFIG} + {len(fragments)} fragments)")
        self.configure(tree, out, log)
        steps = self.compile(tree, log)
        shutil.copy2(tree / "linux", out / "linux")
        release = self.make_output(tree, "kernelrelease")
        (out / "release").write_text(release + "\n")
        (out / "meta.json").write_text(
            json.dumps(
                {
                    "source": str(self.source.path),
                    "release": release,
                    "variant": self.request.variant,
                    "patches": [p.name for p in self.request.patches(self.source.series)],
                    "tree_key": self.tree_key,
                    "built_from": base.key if base is not None else None,
                    "sources_done_ns": sources_done_ns,
                    "build_seconds": round(time.monotonic() - started, 1),
                },
                indent=2,
            )
        )
        self.record_steps(steps)
        self.reporter.done(f"kernel {release} built in {time.monotonic() - started:.0f}s")

    def unpack(self, tree: Path, log: Path) -> None:
        """A pristine tree at `tree`. A tarball is unpacked once into the cache
        (about a minute for 6.12's) and hard-linked from there: patch replaces
        the files it changes and the build never writes a source file."""
        if not self.source.is_tarball:
            self.reporter.phase(f"copying {self.source.path}")
            self.source.unpack_into(tree, log)
            return
        entry = CacheEntry(
            self.request.cache_root, "sources", digest([self.source.identity()]), ("tree/Makefile",)
        )
        if not entry.ready:
            self.reporter.phase(f"unpacking {self.source.path} (once)")
        unpacked = entry.ensure(lambda out, own_log: self.source.unpack_into(out / "tree", own_log))
        run_logged(["cp", "-al", str(unpacked / "tree"), str(tree)], log, what="linking the source")

    def env(self) -> dict[str, str]:
        return {**os.environ, **REPRODUCIBLE_ENV}

    def configure(self, tree: Path, out: Path, log: Path) -> None:
        fragment_file = out / "fragment.config"
        fragment_file.write_text(self.fragment.to_text())
        run_logged(
            ["make", "-C", str(tree), "ARCH=um", f"KCONFIG_ALLCONFIG={fragment_file}", BASE_CONFIG],
            log,
            env=self.env(),
            what="kernel configuration",
        )
        run_logged(
            ["make", "-C", str(tree), "ARCH=um", "olddefconfig"],
            log,
            env=self.env(),
            what="kernel configuration",
        )
        dropped = self.fragment.dropped_from(Kconfig.read(tree / ".config"))
        if dropped:
            raise ConfigDropped(
                dropped, _origins(self.request.fragments(self.source.series), dropped)
            )
        shutil.copy2(tree / ".config", out / "config")

    def compile(self, tree: Path, log: Path) -> int:
        steps = 0
        self.reporter.phase(
            f"compiling with {self.request.jobs} jobs", total=self.estimated_steps()
        )

        def on_line(line: str) -> None:
            nonlocal steps
            if line.startswith("  ") and len(line) > 10 and line[2:10].strip().isupper():
                steps += 1
                self.reporter.advance(1, line[10:].strip())

        command = ["make", "-C", str(tree), "ARCH=um", f"-j{self.request.jobs}"]
        env = self.env()
        if shutil.which("ccache"):
            # Each build unpacks a fresh tree elsewhere: with paths taken relative
            # to it, a rebuild after a changed patch or fragment recompiles only
            # what the change touched.
            command.append("CC=ccache gcc")
            env |= {
                "CCACHE_DIR": str(self.request.cache_root / "ccache"),
                "CCACHE_BASEDIR": str(tree),
                "CCACHE_NOHASHDIR": "true",
            }
        run_logged(command, log, env=env, on_line=on_line, what="kernel build")
        return steps

    def make_output(self, tree: Path, target: str) -> str:
        return subprocess.run(
            ["make", "-s", "-C", str(tree), "ARCH=um", target],
            capture_output=True,
            text=True,
            check=True,
            env=self.env(),
        ).stdout.strip()

    def estimated_steps(self) -> int:
        try:
            return int(json.loads(self.estimate_file.read_text())["steps"])
        except (OSError, ValueError, KeyError):
            return DEFAULT_STEP_ESTIMATE

    def record_steps(self, steps: int) -> None:
        self.estimate_file.write_text(json.dumps({"steps": steps}))


def copy_built_tree(base: Kernel, tree: Path, log: Path) -> None:
    """A copy of `base`'s tree to build in: the sources hard-linked (the build never
    writes them), the build outputs copied (the build rewrites them in place).
    Copying all of 2 GB took 28 s from a cold page cache; this takes a few."""
    run_logged(["cp", "-al", str(base.tree), str(tree)], log, what="copying a built tree")
    outputs_since = base.sources_done_ns
    for directory, _, files in os.walk(tree):
        for name in files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode) and info.st_mtime_ns >= outputs_since:
                own = f"{path}.uh-copy"
                shutil.copy2(path, own)
                os.replace(own, path)


def apply_patch(tree: Path, patch: Path, log: Path) -> None:
    """Apply `patch` unless the tree already has it (so user trees may carry it)."""
    reverse = subprocess.run(
        ["patch", "-p1", "-R", "--dry-run", "--force", "-s", "-d", str(tree), "-i", str(patch)],
        capture_output=True,
    )
    if reverse.returncode == 0:
        with log.open("a") as out:
            out.write(f"patch {patch.name}: already applied\n")
        return
    try:
        run_logged(
            ["patch", "-p1", "--forward", "-d", str(tree), "-i", str(patch)],
            log,
            what=f"applying {patch.name}",
        )
    except BuildFailed as error:
        raise BuildFailed(
            f"patch {patch.name} does not apply to this kernel source; log: {log}",
            log=log,
            tail=error.tail,
        ) from None
