"""The project's kernel code is checkpatch-clean (checkpatch.pl from a cached kernel tree)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from umlharness import paths

ROOT = paths.PROJECT_ROOT
CHECKPATCH = sorted(paths.cache_dir().glob("kernels/*/tree/scripts/checkpatch.pl"))
SOURCES = sorted(
    [
        *ROOT.glob("drivers/*/*.[ch]"),
        *ROOT.glob("drivers/include/*.h"),
        *ROOT.glob("umlharness/include/*.h"),
        *ROOT.glob("examples/*/drivers/*/*.[ch]"),
        *ROOT.glob("tests/crashers/*/*.c"),
    ]
)
#: A compatibility header exists to test the kernel's version, which checkpatch
#: asks in-tree code not to do; nothing else is let through.
ALLOWED = {"uh_compat.h": "LINUX_VERSION_CODE,CONSTANT_COMPARISON"}


@pytest.mark.skipif(not CHECKPATCH, reason="no kernel tree with checkpatch.pl in the cache")
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_kernel_code_is_checkpatch_clean(source: Path) -> None:
    ignore = ["--ignore", ALLOWED[source.name]] if source.name in ALLOWED else []
    result = subprocess.run(
        ["perl", str(CHECKPATCH[0]), "--no-tree", "--quiet", "--terse", *ignore, "-f", str(source)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    findings = [
        line
        for line in result.stdout.splitlines()
        if not line.startswith("total: 0 errors, 0 warnings")
    ]
    assert (result.returncode, findings) == (0, []), result.stdout
