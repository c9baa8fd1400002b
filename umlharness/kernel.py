"""Build (or find in the cache) a User-Mode Linux kernel with the harness's patches and config."""

from __future__ import annotations

import json
import os
import re
import shutil
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

    def fragments(self) -> list[Path]:
        base = sorted(self.config_dir.glob("*.config"))
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
    def log(self) -> Path:
        return self.path / "build.log"

    @property
    def key(self) -> str:
        return self.path.name

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
    fragment = Kconfig.merge_files(request.fragments())
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

    def build(self, out: Path, log: Path) -> None:
        tree = out / "tree"
        started = time.monotonic()
        self.reporter.phase(f"unpacking {self.source.path}")
        self.source.unpack_into(tree, log)
        self.reporter.phase("applying patches")
        for patch in self.request.patches(self.source.series):
            apply_patch(tree, patch, log)
        self.reporter.phase(
            f"configuring ({BASE_CONFIG} + {len(self.request.fragments())} fragments)"
        )
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
                    "build_seconds": round(time.monotonic() - started, 1),
                },
                indent=2,
            )
        )
        self.record_steps(steps)
        self.reporter.done(f"kernel {release} built in {time.monotonic() - started:.0f}s")

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
            raise ConfigDropped(dropped, _origins(self.request.fragments(), dropped))
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
