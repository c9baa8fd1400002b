"""Fuzzing from the device's side: examples per second, crashes, coverage in a fixed budget.

For each target (umlharness/fuzz_targets.py): a campaign of --examples on
the KASAN kernel, each example a fresh guest (examples_per_s, the distinct
crashes, and those seen only once); then as many examples on the coverage
kernel, gathering gcov data, for the share of the driver's lines they ran
(r8169, the kernel's own, has none). One run, seed fixed.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path
from typing import Any

from umlharness import coverage, paths
from umlharness.fuzz import Campaign
from umlharness.fuzz_targets import TARGETS

from . import kernels

DEFAULT = False  # minutes: run only when named
#: A per-file row of gcovr's text report: file, lines, run, percent.
ROW = re.compile(r"^(\S+\.c)\s+(\d+)\s+(\d+)\s+(\d+)%", re.MULTILINE)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--examples", type=int, default=30, help="examples per target (30)")
    parser.add_argument(
        "--targets", default=",".join(TARGETS), help="comma-separated (default: all)"
    )
    parser.add_argument("--seed", type=int, default=1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    chosen = [TARGETS[name] for name in args.targets.split(",")]
    kasan, cov = kernels.artifacts("kasan"), kernels.artifacts("cov")
    figures: dict[str, Any] = {}
    for target in chosen:
        with tempfile.TemporaryDirectory(prefix="uhfuzz-") as out:
            campaign = Campaign(target, kasan, Path(out), args.examples, args.seed).run()
        figures[target.name] = {
            "examples": campaign.ran,
            "examples_per_s": round(campaign.ran / campaign.seconds, 2),
            "crashes": sorted(campaign.found),
            "seen_once": sorted(campaign.flaky),
        }
        if not target.in_tree:
            figures[target.name]["lines_covered_pct"] = _coverage(target, cov, args)
    return figures


def _coverage(target: Any, artifacts: Any, args: argparse.Namespace) -> float | None:
    with tempfile.TemporaryDirectory(prefix="uhfuzzcov-") as out:
        gathered = coverage.Coverage(
            Path(out) / "traces", artifacts.drivers, (paths.drivers_dir(),)
        )
        coverage.gather(artifacts.kernel.key, gathered)
        try:
            Campaign(target, artifacts, Path(out) / "found", args.examples, args.seed).run()
        finally:
            coverage.stop_gathering(artifacts.kernel.key)
        report = gathered.report(Path(out) / "report")
    for name, _lines, _run, percent in ROW.findall(report):
        if Path(name).stem == target.name:
            return float(percent)
    return None
