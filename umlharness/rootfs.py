"""Build the guest's root file system: static busybox, the rootfs/ overlay, guest programs.

No root needed: the tree is laid out in a temporary directory and turned into
an ext4 image with `mke2fs -d`. The image is cached by content and never
written: each boot writes through its own copy-on-write file. The modules
are not in it: the guest mounts /lib/modules from the host (modtree.py), so
a driver edit does not make a new image.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .buildlog import host_tool, run_logged
from .cache import CacheEntry, digest
from .drivers import tree_digest
from .errors import HarnessError, ToolMissing
from .progress import QuietReporter, Reporter

BUSYBOX_CANDIDATES = (Path("/bin/busybox"), Path("/usr/bin/busybox"))
GUEST_DIRS = (
    "bin",
    "sbin",
    "usr/bin",
    "usr/sbin",
    "etc",
    "proc",
    "sys",
    "dev",
    "tmp",
    "run",
    "root",
    "mnt",
    "lib/modules",
)
#: Free space left in the image for what tests write.
SLACK_BYTES = 48 << 20
RECIPE_VERSION = "3"
#: gcc's flags for the guest programs.
GUEST_CFLAGS = ("-static", "-O2", "-Wall", "-Wextra", "-Werror")


@dataclass(frozen=True)
class Rootfs:
    """The image, and the host directory the guest mounts at /lib/modules."""

    path: Path
    modules: Path | None = None

    @property
    def image(self) -> Path:
        return self.path / "rootfs.ext4"


def find_busybox() -> Path:
    for candidate in BUSYBOX_CANDIDATES:
        if candidate.is_file() and _is_static(candidate):
            return candidate
    raise ToolMissing("no static busybox found: install it with `apt-get install busybox-static`")


def _is_static(binary: Path) -> bool:
    # A dynamically linked ELF has a PT_INTERP naming its loader.
    return b"/ld-linux" not in binary.read_bytes()[:8192]


def build_rootfs(
    overlay: Path | None = None,
    reporter: Reporter | None = None,
    userspace: Path | None = None,
) -> Rootfs:
    """The rootfs image: busybox, the overlay and the guest programs.

    Each directory `userspace/NAME/` holds the C sources of one guest program
    (the software stack's stand-in), built static as /usr/bin/NAME;
    `userspace/include/` the headers they share. The key covers the whole
    userspace tree, headers included.
    """
    overlay = overlay or paths.rootfs_overlay_dir()
    userspace = userspace or paths.userspace_dir()
    reporter = reporter or QuietReporter()
    busybox = find_busybox()
    host_tool("mke2fs", "e2fsprogs")  # before a build that needs it, not in the middle
    key = digest(
        [
            RECIPE_VERSION,
            hashlib.sha256(busybox.read_bytes()).hexdigest(),
            *tree_digest(overlay),
            *(tree_digest(userspace) if userspace.is_dir() else []),
        ]
    )
    entry = CacheEntry(paths.cache_dir(), "rootfs", key, artefacts=("rootfs.ext4",))
    if entry.ready:
        return Rootfs(entry.path)

    def build(out: Path, log: Path) -> None:
        reporter.phase("assembling rootfs")
        root = out / "root"
        lay_out_tree(root, busybox, overlay)
        programs = build_programs(userspace, root / "usr" / "bin", log)
        reporter.phase(f"making ext4 image ({len(programs)} guest program(s))")
        make_image(root, out / "rootfs.ext4", log)
        shutil.rmtree(root)
        reporter.done("rootfs ready")

    return Rootfs(entry.ensure(build, reporter))


def lay_out_tree(root: Path, busybox: Path, overlay: Path) -> None:
    for directory in GUEST_DIRS:
        (root / directory).mkdir(parents=True, exist_ok=True)
    shutil.copy2(busybox, root / "bin" / "busybox")
    applets = subprocess.run(
        [str(busybox), "--list-full"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        link = root / applet
        if link.name == "busybox" or link.exists():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("/bin/busybox")
    if overlay.is_dir():
        shutil.copytree(overlay, root, dirs_exist_ok=True, symlinks=True)
    if not (root / "init").is_file():
        raise HarnessError(f"the rootfs overlay {overlay} has no init script")


def program_dirs(userspace: Path) -> list[Path]:
    """The program directories: those holding C sources (not include/, headers only)."""
    return sorted(p for p in userspace.iterdir() if p.is_dir() and any(p.glob("*.c")))


def program_command(userspace: Path, program: Path, target: Path) -> list[str]:
    """The gcc command that builds the program directory `program` into `target`.

    Static, and warnings fail the build; `userspace/include/` holds the headers
    the programs share (`#include "uh_crc32.h"`).
    """
    return [
        "gcc",
        *GUEST_CFLAGS,
        "-I",
        str(userspace / "include"),
        "-o",
        str(target),
        *map(str, sorted(program.glob("*.c"))),
    ]


def build_programs(userspace: Path, bindir: Path, log: Path) -> list[Path]:
    """Compile each program directory into a static binary in `bindir`; warnings fail."""
    if not userspace.is_dir():
        return []
    built = []
    for program in program_dirs(userspace):
        target = bindir / program.name
        run_logged(
            program_command(userspace, program, target),
            log,
            what=f"building guest program {program.name}",
        )
        built.append(target)
    return built


def make_image(root: Path, image: Path, log: Path) -> None:
    used = sum(p.lstat().st_size for p in root.rglob("*"))
    size_kib = (used + SLACK_BYTES) // 1024
    mke2fs = host_tool("mke2fs", "e2fsprogs")
    run_logged(
        [
            mke2fs,
            "-q",
            "-t",
            "ext4",
            "-L",
            "umlharness",
            "-E",
            "root_owner=0:0",
            "-d",
            str(root),
            str(image),
            f"{size_kib}k",
        ],
        log,
        what="mke2fs",
    )
