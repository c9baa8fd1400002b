"""The project's kernel code, and the headers generated for it, are checkpatch-clean
(checkpatch.pl of the kernel tree the tests build against)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from simulators import cheader
from simulators.cheader import CHeader, render
from umlharness import Artifacts, paths

pytestmark = pytest.mark.slow

ROOT = paths.PROJECT_ROOT
SOURCES = sorted(
    [
        *ROOT.glob("drivers/*/*.[ch]"),
        *ROOT.glob("drivers/include/*.h"),
        *ROOT.glob("umlharness/include/*.h"),
        *ROOT.glob("umlharness/kmod/*/*.c"),
        *ROOT.glob("examples/*/drivers/*/*.[ch]"),
        *ROOT.glob("tests/crashers/*/*.c"),
        *ROOT.glob("tests/drivers/*/*.c"),
    ]
)
HEADERS = [cheader.load(module) for module in cheader.PROJECT]
#: A compatibility header exists to test the kernel's version, which checkpatch
#: asks in-tree code not to do; nothing else is let through.
ALLOWED = {
    "uh_compat.h": "LINUX_VERSION_CODE,CONSTANT_COMPARISON",
    "tmp42_compat.h": "LINUX_VERSION_CODE,CONSTANT_COMPARISON",
}


def checkpatch(artifacts: Artifacts, source: Path, *options: str) -> list[str]:
    """checkpatch's findings on `source` (none: an empty list)."""
    result = subprocess.run(
        [
            "perl",
            str(artifacts.kernel.tree / "scripts" / "checkpatch.pl"),
            "--no-tree",
            "--quiet",
            "--terse",
            *options,
            "-f",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    findings = [
        line for line in result.stdout.splitlines() if not line.startswith("total: 0 errors, 0 ")
    ]
    return findings if result.returncode == 0 or findings else [result.stdout]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_kernel_code_is_checkpatch_clean(artifacts: Artifacts, source: Path) -> None:
    ignore = ["--ignore", ALLOWED[source.name]] if source.name in ALLOWED else []
    assert checkpatch(artifacts, source, *ignore) == []


@pytest.mark.parametrize("header", HEADERS, ids=[h.path for h in HEADERS])
def test_generated_headers_are_checkpatch_clean(
    artifacts: Artifacts, header: CHeader, tmp_path: Path
) -> None:
    rendered = tmp_path / Path(header.path).name
    rendered.write_text(render(header))
    assert checkpatch(artifacts, rendered) == []
