"""Get everything a boot needs, building only what the cache lacks."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from . import paths
from .drivers import BuiltDrivers, build_drivers
from .kernel import Kernel, KernelRequest, build_kernel
from .modtree import build_module_tree
from .progress import QuietReporter, Reporter
from .rootfs import Rootfs, build_rootfs


@dataclass(frozen=True)
class ArtifactRequest:
    kernel: KernelRequest = field(default_factory=KernelRequest)
    drivers_dirs: tuple[Path, ...] = field(default_factory=lambda: (paths.drivers_dir(),))
    rootfs_overlay: Path = field(default_factory=paths.rootfs_overlay_dir)


@dataclass(frozen=True)
class Artifacts:
    kernel: Kernel
    drivers: BuiltDrivers
    rootfs: Rootfs


def prepare_drivers(
    request: ArtifactRequest | None = None, reporter: Reporter | None = None
) -> tuple[Kernel, BuiltDrivers]:
    """The kernel and the drivers built against it (the first two steps of prepare())."""
    request = request or ArtifactRequest()
    reporter = reporter or QuietReporter()
    kernel = build_kernel(request.kernel, reporter)
    return kernel, build_drivers(kernel, request.drivers_dirs, reporter)


def prepare(request: ArtifactRequest | None = None, reporter: Reporter | None = None) -> Artifacts:
    request = request or ArtifactRequest()
    reporter = reporter or QuietReporter()
    kernel, drivers = prepare_drivers(request, reporter)
    rootfs = build_rootfs(request.rootfs_overlay, reporter)
    rootfs = replace(rootfs, modules=build_module_tree(kernel, drivers))
    return Artifacts(kernel, drivers, rootfs)
