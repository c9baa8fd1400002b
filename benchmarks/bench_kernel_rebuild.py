"""Kernel rebuilds on an otherwise built kernel: a changed config fragment, a changed patch.

fragment_s: a kernel whose fragments differ from a built one's in one option
(CONFIG_LOCALVERSION, a new value each run), so it starts from that kernel's
built tree. patch_s: the patch set gains a patch (a comment in
init/version.c, new each run), so the tree is unpacked afresh and compiled
through ccache. Each run's kernel is removed again (2 GB of tree each).
Minutes per run: not among the benchmarks run by default.
"""

from __future__ import annotations

import argparse
import difflib
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from umlharness import paths
from umlharness.kernel import Kernel, KernelRequest, build_kernel

from . import kernels
from .stats import summary

DEFAULT = False  # minutes per run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--rebuild-runs", type=int, default=3, help="runs of each (default 3)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    built = kernels.artifacts().kernel
    series = ".".join(built.release.split(".")[:2])
    fragment_runs, patch_runs = [], []
    with tempfile.TemporaryDirectory(prefix="uh-rebuild-") as tmp:
        # A first kernel with a fragment of its own: the base the runs start from.
        base = timed(lambda: build_kernel(request(series, Path(tmp), "base")))[1]
        try:
            for _ in range(args.rebuild_runs):
                seconds, kernel = timed(lambda: build_kernel(request(series, Path(tmp), "run")))
                fragment_runs.append(seconds)
                shutil.rmtree(kernel.path)
                seconds, kernel = timed(lambda: build_kernel(patched(series, built, Path(tmp))))
                patch_runs.append(seconds)
                shutil.rmtree(kernel.path)
        finally:
            shutil.rmtree(base.path)
    return {
        "fragment_s": summary(fragment_runs, digits=1),
        "patch_s": summary(patch_runs, digits=1),
        "release": built.release,
        "cpus": os.cpu_count(),
    }


def timed(build: Any) -> tuple[float, Kernel]:
    started = time.monotonic()
    kernel = build()
    return time.monotonic() - started, kernel


def request(series: str, tmp: Path, name: str) -> KernelRequest:
    fragment = tmp / f"{name}-{uuid.uuid4().hex[:8]}.config"
    fragment.write_text(f'CONFIG_LOCALVERSION="-{fragment.stem}"\n')
    return KernelRequest(series=series, user_fragments=(fragment,))


def patched(series: str, built: Kernel, tmp: Path) -> KernelRequest:
    config_dir = tmp / f"uml-config-{uuid.uuid4().hex[:8]}"
    shutil.copytree(paths.config_dir(), config_dir)
    original = (built.tree / "init" / "version.c").read_text().splitlines(keepends=True)
    changed = [f"/* {config_dir.name} */\n", *original]
    (config_dir / "patches" / series / "0099-a-comment.patch").write_text(
        "".join(difflib.unified_diff(original, changed, "a/init/version.c", "b/init/version.c"))
    )
    return KernelRequest(series=series, config_dir=config_dir)
