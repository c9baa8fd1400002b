"""Running instances: one directory each under the run directory, with a record of its pid.

`umlharness ps` and `umlharness stop` read these records; any record whose
UML process is gone (the harness was SIGKILLed, say) is reaped on sight.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import paths
from .errors import HarnessError
from .procs import kill_group, pid_alive

RECORD = "instance.json"
#: Present when the owner (`umlharness boot` on a console) powers the guest off on SIGTERM.
OWNER_STOPS = "owner-stops"


@dataclass(frozen=True)
class InstanceInfo:
    umid: str
    pid: int
    dir: Path
    umid_dir: Path
    iomem: dict[str, str]
    started: float
    owner: int  # the harness process that booted it; 0 if unknown
    #: PCI devices by slot (pci0...): {"model": ..., "control": socket, "pid": backend}
    pci: dict[str, dict[str, Any]] = field(default_factory=dict)

    def running(self) -> bool:
        """Whether the guest's UML process is still alive (checked anew on each call)."""
        return pid_alive(self.pid)

    @property
    def orphaned(self) -> bool:
        """Its harness is gone (killed, say): nothing will ever shut it down."""
        return self.owner > 0 and not pid_alive(self.owner)

    @property
    def sockets(self) -> list[Path]:
        try:
            return sorted(p for p in self.umid_dir.iterdir() if p.is_socket())
        except OSError:
            return []


def _read(directory: Path) -> InstanceInfo | None:
    try:
        data = json.loads((directory / RECORD).read_text())
        return InstanceInfo(
            umid=directory.name,
            pid=int(data["pid"]),
            dir=directory,
            umid_dir=Path(data["umid_dir"]),
            iomem=dict(data.get("iomem", {})),
            started=float(data.get("started", 0)),
            owner=int(data.get("owner", 0)),
            pci=dict(data.get("pci", {})),
        )
    except (OSError, ValueError, KeyError):
        return None


def claim(umid: str) -> Path:
    """Create the instance directory for `umid` (mode 0700), reaping a stale one."""
    directory = paths.run_dir() / umid
    try:
        directory.mkdir(mode=0o700)
        return directory
    except FileExistsError:
        pass
    info = _read(directory)
    if info is not None and pid_alive(info.pid):
        raise HarnessError(f"umid {umid} is already in use (pid {info.pid})")
    if info is None and time.time() - directory.stat().st_mtime < 60:
        # Another harness is still starting this instance.
        raise HarnessError(f"umid {umid} is already in use (starting)")
    reap(directory, info)
    directory.mkdir(mode=0o700)
    return directory


def record(
    directory: Path,
    *,
    pid: int,
    iomem: dict[str, str],
    umid_dir: str,
    pci: dict[str, dict[str, Any]] | None = None,
) -> None:
    data = {
        "pid": pid,
        "owner": os.getpid(),
        "iomem": iomem,
        "pci": pci or {},
        "umid_dir": umid_dir,
        "started": time.time(),
    }
    tmp = directory / f".{RECORD}.tmp"
    tmp.write_text(json.dumps(data, indent=2))
    tmp.rename(directory / RECORD)


def owner_stops(directory: Path) -> None:
    """Let `stop` SIGTERM this process, which then shuts the guest down itself."""
    (directory / OWNER_STOPS).touch()


def reap(directory: Path, info: InstanceInfo | None) -> None:
    if info is not None:
        kill_group(info.pid)
        for device in info.pci.values():
            _stop_backend(int(device.get("pid", 0)))
    shutil.rmtree(directory, ignore_errors=True)


def _stop_backend(pid: int) -> None:
    """SIGTERM a PCI backend whose guest is gone (one that never connected waits a while).

    Only if the pid is still a backend: pids get reused.
    """
    if pid <= 0:
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if b"simulators.pci" in cmdline:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)


def instances(reap_stale: bool = True) -> list[InstanceInfo]:
    """Running instances, oldest first.

    On the way, stale ones are reaped: records whose UML is gone, and guests
    whose harness died without shutting them down (their process group is
    killed).
    """
    found: list[InstanceInfo] = []
    root = paths.run_dir()
    for directory in sorted(root.iterdir()):
        if not directory.is_dir():
            continue
        info = _read(directory)
        if info is not None and pid_alive(info.pid) and not info.orphaned:
            found.append(info)
        elif reap_stale and (info is not None or time.time() - directory.stat().st_mtime > 60):
            reap(directory, info)
    return sorted(found, key=lambda info: info.started)


def find(umid: str | None, pick_with: str = "--umid") -> InstanceInfo:
    """The instance called `umid`, or the only running one when `umid` is None.

    `pick_with` is how the caller's user names one, for the error that says
    several are running.
    """
    running = instances()
    if umid is not None:
        for info in running:
            if info.umid == umid:
                return info
        raise HarnessError(f"no running instance with umid {umid}")
    if not running:
        raise HarnessError("no running instance: start one with `umlharness boot`")
    if len(running) > 1:
        names = ", ".join(info.umid for info in running)
        raise HarnessError(
            f"{len(running)} instances are running ({names}): pick one with {pick_with}"
        )
    return running[0]


def stop(umid: str | None, timeout: float = 5.0) -> InstanceInfo:
    """Stop an instance (the only running one if `umid` is None): SIGTERM its
    group (UML halts), then SIGKILL; remove its directory. The instance stopped."""
    info = find(umid, pick_with="`umlharness stop UMID`")
    if (info.dir / OWNER_STOPS).exists() and info.owner != os.getpid() and pid_alive(info.owner):
        # The harness that booted it shuts it down cleanly (PCI drivers
        # unbound, backends stopped) when it gets SIGTERM.
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.owner, signal.SIGTERM)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(info.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    reap(info.dir, info)
    return info
