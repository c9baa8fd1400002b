"""Run long host commands with their whole output in a log file."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .errors import BuildFailed, ToolMissing

TAIL_LINES = 40


def host_tool(name: str, package: str) -> str:
    """The path of host tool `name` (on PATH, else in /sbin, where e2fsprogs and
    kmod put theirs); ToolMissing naming the package otherwise."""
    found = shutil.which(name) or (f"/sbin/{name}" if Path(f"/sbin/{name}").exists() else None)
    if found is None:
        raise ToolMissing(f"{name} not found: install it with `apt-get install {package}`")
    return found


def run_logged(
    argv: Sequence[str],
    log: Path,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
    what: str = "command",
) -> None:
    """Run `argv`, appending its output to `log` and passing each line to `on_line`.

    On a non-zero exit, raise BuildFailed with the last lines and the log path.
    """
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {shlex.join(argv)}\n")
        out.flush()
        with subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        ) as child:
            assert child.stdout is not None
            for line in child.stdout:
                out.write(line)
                tail.append(line)
                if on_line:
                    on_line(line)
            status = child.wait()
    if status != 0:
        raise BuildFailed(
            f"{what} failed (exit {status}); full log: {log}", log=log, tail="".join(tail)
        )
