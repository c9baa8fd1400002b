"""Console throughput: guest commands printing megabytes, read back through Instance.run().

One guest is booted. For each size, a guest command prints that many bytes,
run() reads them, and the output is compared with what was expected, byte for
byte. mb_per_s is output (10^6 bytes) per second of run(), the median of
--runs runs; harness_cpu_s and uml_cpu_s are the median CPU seconds per run
of the harness process and of the UML processes (its process group): which
side the time goes to. to_dev_null_s is the same command's run() with its
output sent to /dev/null in the guest: what making the output costs alone.

- bytes: `head -c N /dev/zero | tr '\\0' x`, N bytes and no newline.
- lines (--lines): `env seq M | cat`, short lines, about N bytes.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from typing import Any

from umlharness import BootRequest, Instance

from . import kernels
from .stats import summary

MB = 1_000_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--sizes",
        default="1,4,10",
        help="output sizes in MB (10^6 bytes), comma-separated (default 1,4,10)",
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per size (default 5)")
    parser.add_argument(
        "--lines",
        action="store_true",
        help="also print lines (seq | cat) as well as one long line of bytes",
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [float(size) for size in args.sizes.split(",")]
    artifacts = kernels.artifacts()
    result: dict[str, Any] = {"kernel": artifacts.kernel.release, "cpus": os.cpu_count()}
    with Instance.boot(BootRequest(artifacts.kernel, artifacts.rootfs)) as vm:
        vm.run("true")
        workloads = [("bytes", _bytes)] + ([("lines", _lines)] if args.lines else [])
        for name, workload in workloads:
            for size in sizes:
                figures = _measure(vm, *workload(round(size * MB)), args.runs)
                result[f"{name}_{size:g}MB"] = figures
    return result


def _bytes(size: int) -> tuple[str, str]:
    return f"head -c {size} /dev/zero | tr '\\0' x", "x" * size


def _lines(size: int) -> tuple[str, str]:
    # seq counts up to the first number whose line makes `size` bytes.
    expected: list[str] = []
    total = 0
    number = 0
    while total < size:
        number += 1
        line = f"{number}\n"
        expected.append(line)
        total += len(line)
    # Run by busybox's shell, seq would print from inside the shell, one line per
    # system call; through env and cat, it writes full buffers and cat passes them on.
    return f"env seq {number} | cat", "".join(expected)


def _measure(vm: Instance, command: str, expected: str, runs: int) -> dict[str, Any]:
    walls: list[float] = []
    harness_cpu: list[float] = []
    uml_cpu: list[float] = []
    guest_only: list[float] = []
    assert vm.pid is not None
    group = os.getpgid(vm.pid)
    for _ in range(runs):
        started = time.perf_counter()
        vm.check(f"{{ {command}\n}} >/dev/null", timeout=120)
        guest_only.append(time.perf_counter() - started)
        harness_before, uml_before = _cpu(group)
        started = time.perf_counter()
        output = vm.run(command, timeout=120).output
        walls.append(time.perf_counter() - started)
        harness_after, uml_after = _cpu(group)
        harness_cpu.append(harness_after - harness_before)
        uml_cpu.append(uml_after - uml_before)
        if output != expected:
            raise AssertionError(
                f"{command!r}: {len(output)} characters, not the {len(expected)} expected"
            )
    return {
        "mb_per_s": round(len(expected) / MB / statistics.median(walls), 1),
        "wall_s": summary(walls, digits=3),
        "harness_cpu_s": round(statistics.median(harness_cpu), 3),
        "uml_cpu_s": round(statistics.median(uml_cpu), 3),
        "to_dev_null_s": round(statistics.median(guest_only), 3),
    }


def _cpu(group: int) -> tuple[float, float]:
    """CPU seconds so far: (this process, the processes of `group` and their reaped children)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: pgrp is field 5 of proc(5), utime..cstime 14-17.
        if int(fields[2]) == group:
            ticks += sum(int(field) for field in fields[11:15])
    return usage.ru_utime + usage.ru_stime, ticks / os.sysconf("SC_CLK_TCK")
