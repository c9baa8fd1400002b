"""Running instances: one directory each under the run directory, with a record of its processes.

`umlharness ps` and `umlharness stop`, `sim` and the pytest plugin read these
records; an instance whose UML is gone, or whose harness died, is reaped on
sight. The harness touches only what it made: a directory is an instance
only if it carries the marker file written when it was claimed, and a
recorded process is signalled only while it is still that process (pid and
start time) and its command line names the instance.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import HarnessError
from .procs import ProcessId, kill_recorded, kill_recorded_group, processes_with
from .rundir import run_dir

#: Written when a directory is claimed: what makes it the harness's to remove.
MARKER = ".umlharness-instance"
RECORD = "instance.json"
#: Present when the owner (`umlharness boot` on a console) powers the guest off on SIGTERM.
OWNER_STOPS = "owner-stops"
#: Where the owner of a console-mode guest serves `umlharness exec` (umlharness/remote_exec.py).
EXEC_SOCKET = "exec.sock"
#: Names the instance that `sim`, `umlharness stop` and `umlharness exec` use when given none.
UMID_ENV = "UMLHARNESS_UMID"
#: How the owner uses the guest's console (InstanceInfo.console).
CONSOLE_EXEC = "exec"  # `umlharness boot` without a terminal: serves exec on EXEC_SOCKET
CONSOLE_INTERACTIVE = "interactive"  # `umlharness boot` on a terminal: a person types


def uml_needle(umid: str) -> bytes:
    """What the command line of an instance's UML processes contains."""
    return f"umid={umid}".encode()


def backend_needle(directory: Path, slot: str) -> bytes:
    """What the command line of a PCI backend of the instance in `directory` contains."""
    return os.fsencode(directory / f"{slot}.sock")


def processes_of(umid: str) -> list[int]:
    """Live processes of instance `umid`, whoever started them: its UML (the
    umid on the command line), its PCI backends and watchdog (its directory)."""
    return processes_with(uml_needle(umid), os.fsencode(f"/{umid}"))


@dataclass(frozen=True)
class PciRecord:
    """A PCI device of an instance: its model (as `--pci` named it), the
    control socket of its backend, and the backend process."""

    slot: str
    model: str
    options: dict[str, str]
    control: Path
    process: ProcessId | None

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "options": self.options,
            "control": str(self.control),
            "process": self.process.to_json() if self.process else None,
        }

    @classmethod
    def from_json(cls, slot: str, data: dict[str, Any]) -> PciRecord:
        return cls(
            slot=slot,
            model=str(data["model"]),
            options={str(k): str(v) for k, v in dict(data.get("options", {})).items()},
            control=Path(data["control"]),
            process=ProcessId.from_json(data.get("process")),
        )


@dataclass(frozen=True)
class InstanceInfo:
    umid: str
    dir: Path
    umid_dir: Path
    iomem: dict[str, str]
    started: float
    uml: ProcessId
    owner: ProcessId | None  # the harness process that booted it
    #: PCI devices by slot (pci0...)
    pci: dict[str, PciRecord] = field(default_factory=dict)
    #: Booted by a pytest session: a bare `sim`, `stop` or `exec` leaves it alone.
    by_pytest: bool = False
    #: CONSOLE_EXEC, CONSOLE_INTERACTIVE, or None: the program that booted it holds it.
    console: str | None = None

    @property
    def pid(self) -> int:
        return self.uml.pid

    def running(self) -> bool:
        """Whether the guest's UML process is still alive (checked anew on each call)."""
        return self.uml.is_ours(uml_needle(self.umid))

    @property
    def orphaned(self) -> bool:
        """Its harness is gone (killed, say): nothing will ever shut it down."""
        return self.owner is not None and not self.owner.alive()

    @property
    def sockets(self) -> list[Path]:
        try:
            return sorted(p for p in self.umid_dir.iterdir() if p.is_socket())
        except OSError:
            return []

    def backends(self) -> list[tuple[ProcessId, bytes]]:
        """The recorded PCI backend processes, with what their command lines contain."""
        return [
            (device.process, backend_needle(self.dir, slot))
            for slot, device in self.pci.items()
            if device.process is not None
        ]


def is_instance_dir(directory: Path) -> bool:
    """A real directory of ours that carries the marker: never follows a symlink."""
    try:
        info = os.lstat(directory)
        marker = os.lstat(directory / MARKER)
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.getuid()
        and stat.S_ISREG(marker.st_mode)
        and marker.st_uid == os.getuid()
    )


def _claimant(directory: Path) -> ProcessId | None:
    """The harness process that claimed `directory` (from its marker)."""
    try:
        data = json.loads((directory / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return ProcessId.from_json(data.get("owner")) if isinstance(data, dict) else None


#: A claim whose marker cannot be read is left alone this long (it is not ours to judge).
UNREADABLE_CLAIM_SECONDS = 60.0


def _still_starting(directory: Path) -> bool:
    """A claimed directory without a record yet: its claimant is alive, or its
    marker cannot be read and is recent."""
    claimant = _claimant(directory)
    if claimant is not None:
        return claimant.alive()
    try:
        age = time.time() - (directory / MARKER).lstat().st_mtime
    except OSError:
        return False
    return age < UNREADABLE_CLAIM_SECONDS


def _read(directory: Path) -> InstanceInfo | None:
    try:
        data = json.loads((directory / RECORD).read_text())
        uml = ProcessId.from_json(data["uml"])
        if uml is None:
            return None
        return InstanceInfo(
            umid=directory.name,
            dir=directory,
            umid_dir=Path(data["umid_dir"]),
            iomem={str(k): str(v) for k, v in dict(data.get("iomem", {})).items()},
            started=float(data.get("started", 0)),
            uml=uml,
            owner=ProcessId.from_json(data.get("owner")),
            pci={
                str(slot): PciRecord.from_json(str(slot), device)
                for slot, device in dict(data.get("pci", {})).items()
            },
            by_pytest=bool(data.get("by_pytest", False)),
            console=None if data.get("console") is None else str(data["console"]),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def claim(umid: str) -> Path:
    """Create the instance directory for `umid` (mode 0700, marked ours), reaping a stale one."""
    directory = run_dir() / umid
    try:
        directory.mkdir(mode=0o700)
    except FileExistsError:
        if not is_instance_dir(directory):
            raise HarnessError(
                f"{directory} exists and is not an instance directory of umlharness: "
                "choose another --umid (the harness leaves it alone)"
            ) from None
        info = _read(directory)
        if info is not None and info.running() and not info.orphaned:
            raise HarnessError(f"umid {umid} is already in use (pid {info.pid})") from None
        if info is None and _still_starting(directory):
            raise HarnessError(f"umid {umid} is already in use (starting)") from None
        reap(directory, info)
        directory.mkdir(mode=0o700)
    marker = {"owner": ProcessId.this().to_json(), "created": time.time()}
    # Written whole or not at all: a reaper reading a half-written marker
    # would take the claim for a dead one and remove the directory under us.
    tmp = directory / f"{MARKER}.tmp"
    tmp.write_text(json.dumps(marker))
    tmp.rename(directory / MARKER)
    return directory


def record(
    directory: Path,
    *,
    uml: ProcessId,
    iomem: dict[str, str],
    umid_dir: str,
    pci: Sequence[PciRecord] = (),
    by_pytest: bool = False,
) -> None:
    data = {
        "uml": uml.to_json(),
        "owner": ProcessId.this().to_json(),
        "iomem": iomem,
        "pci": {device.slot: device.to_json() for device in pci},
        "umid_dir": umid_dir,
        "started": time.time(),
        "by_pytest": by_pytest,
    }
    _write_record(directory, data)


def _write_record(directory: Path, data: dict[str, Any]) -> None:
    # Whole or not at all: readers never see half a record.
    tmp = directory / f".{RECORD}.tmp"
    tmp.write_text(json.dumps(data, indent=2))
    tmp.rename(directory / RECORD)


def owner_stops(directory: Path) -> None:
    """Let `stop` SIGTERM this process, which then shuts the guest down itself."""
    (directory / OWNER_STOPS).touch()


def set_console(directory: Path, console: str) -> None:
    """Record how the owner uses the console (CONSOLE_EXEC, CONSOLE_INTERACTIVE).

    Only the owner writes its record, so reading and rewriting it races with no one.
    """
    data = json.loads((directory / RECORD).read_text())
    data["console"] = console
    _write_record(directory, data)


def reap(directory: Path, info: InstanceInfo | None) -> None:
    """Kill what is left of an instance (only its own processes) and remove its directory."""
    if info is not None:
        kill_recorded_group(info.uml, uml_needle(info.umid))
        for process, needle in info.backends():
            kill_recorded(process, needle)
    if is_instance_dir(directory):
        shutil.rmtree(directory, ignore_errors=True)


def instances(reap_stale: bool = True) -> list[InstanceInfo]:
    """Running instances, oldest first.

    On the way, stale ones are reaped: records whose UML is gone, guests
    whose harness died without shutting them down, and directories whose
    claimant died before it wrote a record. Anything without the marker is
    not an instance and is left alone.
    """
    found: list[InstanceInfo] = []
    for entry in sorted(run_dir().iterdir()):
        if not is_instance_dir(entry):
            continue
        info = _read(entry)
        if info is not None and info.running() and not info.orphaned:
            found.append(info)
            continue
        if not reap_stale:
            continue
        if info is None and _still_starting(entry):
            continue
        reap(entry, info)
    return sorted(found, key=lambda info: info.started)


def find(umid: str | None, pick_with: str = "--umid") -> InstanceInfo:
    """The instance called `umid`, else the one UMLHARNESS_UMID names, else the only
    one running outside a pytest session (see choose()).

    `pick_with` is how the caller's user names one, for the error that says
    several are running.
    """
    return choose(instances(), umid, os.environ.get(UMID_ENV) or None, pick_with)


def choose(
    running: Sequence[InstanceInfo],
    umid: str | None,
    env_umid: str | None,
    pick_with: str = "--umid",
) -> InstanceInfo:
    """The instance named by `umid`, else by `env_umid` (UMLHARNESS_UMID), else the
    only running one not booted by a pytest session.

    A named instance may be any, a test's too; only the bare choice skips the
    guests of test sessions, so a `sim` or `stop` typed in a shell never lands
    on a guest a test is using.
    """
    if umid is None and env_umid is not None:
        return _named(running, env_umid, f" (from {UMID_ENV})")
    if umid is not None:
        return _named(running, umid, "")
    candidates = [info for info in running if not info.by_pytest]
    if not candidates:
        if running:
            names = ", ".join(info.umid for info in running)
            raise HarnessError(
                "no instance is running outside a pytest session "
                f"({names} belong to one): name one with {pick_with}"
            )
        raise HarnessError("no running instance: start one with `umlharness boot`")
    if len(candidates) > 1:
        names = ", ".join(info.umid for info in candidates)
        raise HarnessError(
            f"{len(candidates)} instances are running ({names}): pick one with {pick_with} "
            f"or {UMID_ENV}"
        )
    return candidates[0]


def _named(running: Sequence[InstanceInfo], umid: str, source: str) -> InstanceInfo:
    for info in running:
        if info.umid == umid:
            return info
    raise HarnessError(f"no running instance with umid {umid}{source}")


def stop(umid: str | None, timeout: float = 5.0) -> InstanceInfo:
    """Stop an instance (if `umid` is None, as find() chooses): SIGTERM its
    group (UML halts), then SIGKILL; remove its directory. The instance stopped."""
    info = find(umid, pick_with="`umlharness stop UMID`")
    owner = info.owner
    if (
        (info.dir / OWNER_STOPS).exists()
        and owner is not None
        and owner.pid != os.getpid()
        and owner.is_ours(b"")
    ):
        # The harness that booted it shuts it down cleanly (PCI drivers
        # unbound, backends stopped) when it gets SIGTERM.
        with contextlib.suppress(ProcessLookupError):
            os.kill(owner.pid, signal.SIGTERM)
    elif info.running():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while info.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    reap(info.dir, info)
    return info
