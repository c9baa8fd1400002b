"""The watchdog of one instance: when the harness that booted it dies, so does the guest.

A harness killed by SIGKILL (a cancelled CI job, the OOM killer) runs no
cleanup. So each instance gets this small process, in a session of its own
(a kill of the harness's process group does not reach it), reading a pipe
whose only writer is the harness. The harness sends it the processes to
watch as it starts them, one JSON object a line:

    {"group": [pid, start], "needle": "umid=uh-..."}   the UML process group
    {"process": [pid, start], "needle": "/run/.../pci0.sock"}   a PCI backend
    {"release": true}   the harness has torn the instance down itself

End of file without a release means the harness is gone: the watchdog kills
what it was told of (only while each is still that process, see procs.py)
and removes the instance directory if it still carries the marker.

    python -m umlharness_shared.watchdog INSTANCE_DIR
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from .procs import ProcessId, kill_recorded, kill_recorded_group
from .registry import MARKER


class Watchdog:
    """The harness's end: start the watchdog, tell it what to kill, release it."""

    def __init__(self, directory: Path) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "umlharness_shared.watchdog", str(directory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            text=True,
        )

    def watch_group(self, leader: ProcessId, needle: bytes) -> None:
        self._send({"group": leader.to_json(), "needle": os.fsdecode(needle)})

    def watch_process(self, process: ProcessId, needle: bytes) -> None:
        self._send({"process": process.to_json(), "needle": os.fsdecode(needle)})

    def _send(self, message: dict[str, object]) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        with contextlib.suppress(OSError, ValueError):
            stdin.write(json.dumps(message) + "\n")
            stdin.flush()

    def release(self, timeout: float = 2.0) -> None:
        """The harness has torn everything down: the watchdog exits without acting."""
        if self._process.returncode is not None:
            return
        self._send({"release": True})
        with contextlib.suppress(OSError, ValueError):
            assert self._process.stdin is not None
            self._process.stdin.close()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def watch(directory: Path, lines: list[str]) -> bool:
    """Act on what the harness sent; True if it released the instance."""
    groups: list[tuple[ProcessId, bytes]] = []
    processes: list[tuple[ProcessId, bytes]] = []
    for line in lines:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("release"):
            return True
        needle = os.fsencode(str(message.get("needle", "")))
        group = ProcessId.from_json(message.get("group"))
        process = ProcessId.from_json(message.get("process"))
        if group is not None:
            groups.append((group, needle))
        if process is not None:
            processes.append((process, needle))
    for group, needle in groups:
        kill_recorded_group(group, needle)
    for process, needle in processes:
        kill_recorded(process, needle, timeout=1.0)
    if (directory / MARKER).is_file() and not directory.is_symlink():
        shutil.rmtree(directory, ignore_errors=True)
    return False


def main() -> int:
    # The harness's Ctrl-C or SIGTERM reaches its whole group, not this session;
    # a terminal hangup must not end the watch either.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lines = sys.stdin.read().splitlines()  # blocks until the harness closes it or dies
    watch(Path(sys.argv[1]), lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
