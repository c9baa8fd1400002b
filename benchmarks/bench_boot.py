"""Boot-to-shell and boot+run+shutdown times of the harness's guest.

boot_to_shell_s: from spawning UML to the guest's shell answering a command.
boot_run_shutdown_s: the same plus `uname -r` and a clean power-off.
With --cold-kernel, also a kernel build from an empty cache (minutes).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from umlharness import BootRequest, Instance, KernelRequest, build_kernel

from . import kernels
from .stats import summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=15, help="boots to measure (default 15)")
    parser.add_argument(
        "--cold-kernel", action="store_true", help="also time a kernel build into an empty cache"
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    artifacts = kernels.artifacts()
    request = BootRequest(artifacts.kernel, artifacts.rootfs)
    to_shell: list[float] = []
    whole: list[float] = []
    for _ in range(args.runs):
        started = time.perf_counter()
        instance = Instance.boot(request)
        with instance:
            instance.run("true")
            to_shell.append(time.perf_counter() - started)
            instance.run("uname -r")
            instance.shutdown()
        whole.append(time.perf_counter() - started)
    result: dict[str, Any] = {
        "boot_to_shell_s": summary(to_shell),
        "boot_run_shutdown_s": summary(whole),
        "kernel": artifacts.kernel.release,
        "cpus": os.cpu_count(),
    }
    if args.cold_kernel:
        with tempfile.TemporaryDirectory(prefix="umlharness-bench-") as cache:
            started = time.perf_counter()
            build_kernel(KernelRequest(cache_root=Path(cache)))
            result["cold_kernel_build_s"] = round(time.perf_counter() - started, 1)
    return result
