"""Guest programs built on the host, as the root file system builds them, for tests
that run them against the host's Python."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from umlharness.rootfs import program_command


def build_on_host(source: Path, factory: pytest.TempPathFactory) -> Path:
    """The program whose C file is `source` (userspace/NAME/NAME.c), built in a
    temporary directory; the test is skipped without gcc."""
    if shutil.which("gcc") is None:
        pytest.skip("no gcc")
    binary = factory.mktemp(source.parent.name) / source.parent.name
    built = subprocess.run(
        program_command(source.parents[1], source.parent, binary), capture_output=True
    )
    assert built.returncode == 0, built.stderr.decode()
    return binary
