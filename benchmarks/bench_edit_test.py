"""The edit→test loop of a driver developer: one line of the driver changed, one test run.

The example repository (examples/gpio8: its own pyproject.toml with
[tool.umlharness], a driver, a model, plugin tests) is copied to a temporary
directory outside this tree. Each run rewrites the driver's
MODULE_DESCRIPTION line (a new source, so the module is rebuilt) and runs one
test through the pytest plugin in a fresh `python -m pytest` process, as a
developer would after saving. edit_test_s is the wall time of that process;
no_edit_s is the same test run again without an edit (the cached loop).
A first, unmeasured run builds what the cache lacks.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from .stats import summary

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "gpio8"
DESCRIPTION = re.compile(r'^MODULE_DESCRIPTION\(".*"\);$', re.M)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--edit-runs", type=int, default=5, help="edit→test runs (default 5)")
    parser.add_argument(
        "--repo", type=Path, default=EXAMPLE, help="the repository to copy (default examples/gpio8)"
    )
    parser.add_argument(
        "--driver",
        default="drivers/gpio8/uh_gpio8.c",
        help="the source file edited, relative to the repository",
    )
    parser.add_argument(
        "--test",
        default="tests/test_gpio8.py::test_pins_read_back",
        help="the test run, relative to the repository",
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="uh-edit-test-") as tmp:
        repo = Path(tmp) / args.repo.name
        shutil.copytree(args.repo, repo, ignore=shutil.ignore_patterns("__pycache__", ".*"))
        driver = repo / args.driver
        if not DESCRIPTION.search(driver.read_text()):
            raise SystemExit(f'{args.driver} has no MODULE_DESCRIPTION("..."); line to edit')
        test_run(repo, args.test)  # builds what the cache lacks; not measured
        edited, unedited = [], []
        for _ in range(args.edit_runs):
            edit(driver)
            edited.append(test_run(repo, args.test))
            unedited.append(test_run(repo, args.test))
    return {
        "edit_test_s": summary(edited),
        "no_edit_s": summary(unedited),
        "test": args.test,
        "cpus": os.cpu_count(),
    }


def edit(driver: Path) -> None:
    """Change one line, as an edit would: a description no build has seen."""
    line = f'MODULE_DESCRIPTION("gpio8 example, edit {uuid.uuid4().hex[:8]}");'
    driver.write_text(DESCRIPTION.sub(line, driver.read_text(), count=1))


def test_run(repo: Path, test: str) -> float:
    """Seconds for one `python -m pytest TEST` in `repo`; a failure stops the benchmark."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(
            f"{test} failed in {repo}:\n{result.stdout[-3000:]}{result.stderr[-2000:]}"
        )
    return elapsed
