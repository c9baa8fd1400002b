"""Driver coverage: which lines and branches of the drivers under test ran.

With the `cov` kernel variant (CONFIG_GCOV_KERNEL, uml-config/variants/cov.config)
the drivers are built with GCOV_PROFILE, their notes files (.gcno) kept in
the module cache, and their sources named as the user's own files
(-fprofile-prefix-map). Before a guest powers off, `Coverage.collect` copies
the kernel's counts (.gcda, in debugfs; unloaded modules' included) out
through the console, puts each beside its notes file and has gcovr turn
them into a JSON tracefile. `Coverage.report` merges every tracefile of
the session (xdist workers' too) into an lcov .info file, an HTML report
and a per-file summary.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .drivers import BuiltDrivers
from .errors import HarnessError

if TYPE_CHECKING:
    from .instance import Instance

GCOV_DEBUGFS = "/sys/kernel/debug/gcov"
#: Where reports go, from the pytest rootdir or the directory `boot --cov` runs in.
REPORT_DIR = "uml-coverage"
_MARK = "UHCOV "
#: The guest prints each counts file base64-encoded after a line naming it.
_DUMP = (
    "mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug; "
    f"[ -d {GCOV_DEBUGFS} ] || exit 3; cd {GCOV_DEBUGFS} && "
    f'for f in $(find . -name \'*.gcda\'); do echo "{_MARK}$f"; base64 "$f"; done'
)


#: Sessions gathering coverage, by kernel cache key (one per kernel series).
_ACTIVE: dict[str, Coverage] = {}


def gather(kernel_key: str, coverage: Coverage) -> None:
    """Collect from every guest of this kernel before it powers off."""
    _ACTIVE[kernel_key] = coverage


def stop_gathering(kernel_key: str) -> None:
    _ACTIVE.pop(kernel_key, None)


def gathering(kernel_key: str) -> Coverage | None:
    return _ACTIVE.get(kernel_key)


class Coverage:
    """Tracefiles in `directory` for the drivers in `sources` (drivers directories)."""

    def __init__(self, directory: Path, drivers: BuiltDrivers, sources: Sequence[Path]) -> None:
        self.directory = directory
        self.drivers = drivers
        self.sources = tuple(source.resolve() for source in sources)

    def collect(self, instance: Instance, name: str) -> Path | None:
        """The guest's counts as tracefile `name`.json; None if it had none of ours."""
        result = instance.run(_DUMP, timeout=60)
        if result.exit_code == 3:
            raise HarnessError(
                "the guest kernel keeps no coverage data: boot the cov variant (--uml-cov)"
            )
        counts = parse_dump(result.output)
        notes = self.drivers.gcov_notes()
        with tempfile.TemporaryDirectory(prefix="uhcov-") as work:
            placed = 0
            for stem, data in counts.items():
                note = notes.get(stem)
                if note is None:
                    continue  # the harness's own uh_core, or the kernel's
                shutil.copy2(note, Path(work) / note.name)
                (Path(work) / f"{stem}.gcda").write_bytes(data)
                placed += 1
            if not placed:
                return None
            self.directory.mkdir(parents=True, exist_ok=True)
            tracefile = self.directory / f"{name}.json"
            ignore = ("--gcov-ignore-errors", "source_not_found")  # the kernel's headers
            _gcovr([*self._filters(), *ignore, "--json", str(tracefile), work], cwd=Path(work))
        return tracefile

    def report(self, output: Path) -> str:
        """Merge the tracefiles into `output`/coverage.info and `output`/html/;
        the per-file summary (lines and branches) as text."""
        tracefiles = sorted(self.directory.glob("*.json"))
        if not tracefiles:
            return "no coverage data: no guest of the session ran a driver of ours"
        (output / "html").mkdir(parents=True, exist_ok=True)
        added = [
            arg for tracefile in tracefiles for arg in ("--json-add-tracefile", str(tracefile))
        ]
        return _gcovr(
            [
                *added,
                *self._filters(),
                "--lcov",
                str(output / "coverage.info"),
                "--html-details",
                str(output / "html" / "index.html"),
                "--txt",
                "-",
                "--txt-summary",
            ],
            cwd=self._root(),
        )

    def _root(self) -> Path:
        return Path(os.path.commonpath([str(source) for source in self.sources]))

    def _filters(self) -> list[str]:
        root = self._root()
        args = ["--root", str(root)]
        for source in self.sources:
            args += ["--filter", re.escape(str(source)) + "/"]
        return args


def parse_dump(output: str) -> dict[str, bytes]:
    """{object name: counts} from the guest's dump (see _DUMP)."""
    counts: dict[str, bytes] = {}
    name: str | None = None
    lines: list[str] = []
    for line in [*output.splitlines(), _MARK]:
        if line.startswith(_MARK):
            if name is not None:
                counts[Path(name).stem] = base64.b64decode("".join(lines))
            name, lines = line[len(_MARK) :].strip() or None, []
        elif name is not None:
            lines.append(line.strip())
    return counts


def _gcovr(args: list[str], cwd: Path) -> str:
    if shutil.which("gcovr") is None:
        raise HarnessError("gcovr is not installed (pip install gcovr): it writes the reports")
    done = subprocess.run(["gcovr", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip()
        raise HarnessError(f"gcovr failed: {why[:1500]}{' ...' if len(why) > 1500 else ''}")
    return done.stdout
