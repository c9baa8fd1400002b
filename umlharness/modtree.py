"""The guest's /lib/modules: the kernel's own modules, the drivers under test and
depmod's indexes, in a cache entry the guest mounts read-only over hostfs.

Kept out of the root file system image so that a driver edit costs one
module build and a depmod of a few files, not a new image.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from . import paths
from .buildlog import host_tool, run_logged
from .cache import CacheEntry, digest
from .drivers import BuiltDrivers
from .kernel import Kernel

#: Bump when the tree's layout changes, so old cache entries are not reused.
RECIPE_VERSION = "1"


def build_module_tree(kernel: Kernel, drivers: BuiltDrivers) -> Path:
    """The directory to mount at the guest's /lib/modules (built if missing)."""
    key = digest(
        [
            RECIPE_VERSION,
            kernel.key,
            *(part for ko in drivers.modules for part in (ko.name, ko.read_bytes())),
        ]
    )
    entry = CacheEntry(paths.cache_dir(), "modtrees", key, artefacts=("lib/modules/*/modules.dep",))

    depmod = host_tool("depmod", "kmod")

    def build(out: Path, log: Path) -> None:
        lay_out(out, kernel, drivers, log, depmod)

    return entry.ensure(build) / "lib" / "modules"


def lay_out(root: Path, kernel: Kernel, drivers: BuiltDrivers, log: Path, depmod_path: str) -> None:
    """The drivers in extra/, the kernel's modules in kernel/, as `make
    modules_install` places them, then depmod.

    The kernel's modules are there so that a device's driver (r8169 for the
    PCI RTL8111) and what it requests (the Realtek PHY driver) load as on a
    distribution: by modalias, through modprobe.
    """
    moddir = root / "lib" / "modules" / kernel.release
    (moddir / "extra").mkdir(parents=True)
    for module in drivers.modules:
        _link_or_copy(module, moddir / "extra" / module.name)
    for module in kernel.modules():
        placed = moddir / "kernel" / module.relative_to(kernel.tree)
        placed.parent.mkdir(parents=True, exist_ok=True)
        _link_or_copy(module, placed)
    # As `make modules_install` does: module lists gain the kernel/ prefix.
    for name in ("modules.order", "modules.builtin"):
        if (kernel.tree / name).is_file():
            lines = (kernel.tree / name).read_text().splitlines()
            (moddir / name).write_text("".join(f"kernel/{line}\n" for line in lines if line))
    if (kernel.tree / "modules.builtin.modinfo").is_file():
        shutil.copy2(kernel.tree / "modules.builtin.modinfo", moddir / "modules.builtin.modinfo")
    run_logged([depmod_path, "-b", str(root), kernel.release], log, what="depmod")


def _link_or_copy(source: Path, target: Path) -> None:
    # Cache entries are never written once complete, so sharing the inode is safe.
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
