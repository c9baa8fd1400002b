"""Host processes: which one a record names, is it alive, and killing it for good.

A pid alone names no process for long: pids are reused. A `ProcessId` is a
pid plus the process's start time (in clock ticks since the host booted), so
a record written minutes ago cannot make the harness signal whatever process
got that pid since. Nothing is signalled unless it is that very process, is
ours (same uid) and its command line says what it is (`needle`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class _Stat:
    state: str
    pgid: int
    start: int


def _stat(pid: int) -> _Stat | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the command name: state is field 3 of proc(5), pgrp 5, starttime 22.
    return _Stat(state=fields[0], pgid=int(fields[2]), start=int(fields[19]))


def _uid(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def cmdline(pid: int) -> bytes:
    """The process's arguments joined by NULs; empty if it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@dataclass(frozen=True)
class ProcessId:
    """One process, for good: its pid and when it started."""

    pid: int
    start: int

    @classmethod
    def of(cls, pid: int) -> ProcessId | None:
        """The process running as `pid` now; None if there is none."""
        stat = _stat(pid)
        return None if stat is None else cls(pid, stat.start)

    @classmethod
    def this(cls) -> ProcessId:
        me = cls.of(os.getpid())
        assert me is not None
        return me

    def alive(self) -> bool:
        """Still running (not a zombie), and still the same process."""
        stat = _stat(self.pid)
        return stat is not None and stat.start == self.start and stat.state != "Z"

    def is_ours(self, needle: bytes) -> bool:
        """Alive, owned by this user, and its command line contains `needle`."""
        return self.alive() and _uid(self.pid) == os.getuid() and needle in cmdline(self.pid)

    def to_json(self) -> list[int]:
        return [self.pid, self.start]

    @classmethod
    def from_json(cls, value: object) -> ProcessId | None:
        if (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(part, int) and part > 0 for part in value)
        ):
            return cls(value[0], value[1])
        return None


def processes_with(*needles: bytes) -> list[int]:
    """Live (non-zombie) processes whose command line contains any of `needles`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        line = cmdline(int(entry.name))
        if stat is not None and stat.state != "Z" and any(n in line for n in needles):
            found.append(int(entry.name))
    return found


def pid_alive(pid: int) -> bool:
    """Whether some process (not a zombie) runs as `pid`, whoever it is."""
    stat = _stat(pid)
    return stat is not None and stat.state != "Z"


def kill_group(pid: int, timeout: float = 3.0) -> None:
    """SIGKILL the process group a child of ours leads (UML forks helpers); wait until it is gone.

    Only for a group this process created itself and still holds (its child
    is not reaped, so the pid cannot have been reused).
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    _wait_group_gone(pid, timeout)


def kill_recorded_group(leader: ProcessId, needle: bytes, timeout: float = 3.0) -> None:
    """SIGKILL a process group known only from a record, if it is still the one recorded.

    The group is signalled as a whole only while its leader is that very
    process. If another process has the leader's pid now, the group is not
    the one recorded and nothing is done. If no process has it, the pid
    cannot have been reused while members of the group live, so they are
    what is left of the recorded group (UML's guest processes, whose command
    lines the guest has replaced): those that are ours are killed one by one.
    """
    if leader.is_ours(needle):
        kill_group(leader.pid, timeout)
        return
    now = _stat(leader.pid)
    if now is not None and (now.start != leader.start or now.state != "Z"):
        return  # another process has the pid, or the record does not describe it
    # The leader is gone or a zombie (a death signal killed it first).
    deadline = time.monotonic() + timeout
    while (members := _group_members(leader.pid)) and time.monotonic() < deadline:
        for pid in members:
            if pid != leader.pid and _uid(pid) == os.getuid():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def kill_recorded(process: ProcessId, needle: bytes, timeout: float = 3.0) -> None:
    """SIGTERM, then SIGKILL, a process known from a record, if it is still the one recorded."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
        if not process.is_ours(needle):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(process.pid, sig)
        deadline = time.monotonic() + wait
        while process.alive() and time.monotonic() < deadline:
            time.sleep(0.01)


def _wait_group_gone(pgid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _group_members(pgid):
        time.sleep(0.01)


def _group_members(pgid: int) -> list[int]:
    """The live (non-zombie) processes in process group `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is not None and stat.pgid == pgid and stat.state != "Z":
            members.append(int(entry.name))
    return members
