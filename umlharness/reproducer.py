"""Reproducers: a crash's device side, kept in a file and played back with no model.

A reproducer is JSON lines. The first names the target, the kernel, the
workload (the commands the guest ran, in steps 1, 2, ...) and the crash;
the others are the device's side, in order:

- over PCI, the trace the backend recorded (simulators/pci/trace.py):
  every read answered, every interrupt and DMA write, and `STEP` lines
  placed by time; `--pci replay` answers the driver from it;
- over iomem, where the driver reads the region itself: `STEP`, then the
  bytes of the region that changed (`REGION`, runs of offset and hex) and
  each interrupt (`IRQ`), in the order the device made them.

`replay` boots a fresh guest of the same kernel, plays the device's side
and runs the same commands, step by step. A `--trace` recording of an
ordinary run replays the same way, with the commands given.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simulators.attach import map_iomem
from simulators.irq import InterruptLine
from simulators.pci.trace import STEP

from .crash import signature
from .errors import BootTimeout, GuestCrashed, HarnessError
from .instance import BootRequest, Instance
from .iomem import IomemSpec
from .kernel import Kernel
from .pci import PciSpec
from .rootfs import Rootfs

if TYPE_CHECKING:
    from .fuzz import FuzzTarget

VERSION = 1
#: How long one command of a workload may take before the run is a hang.
COMMAND_TIMEOUT = 20.0
SUFFIX = ".uhrepro"
REGION = "REGION"
IRQ = "IRQ"


@dataclass(frozen=True)
class Finding:
    """A crash or hang an example ended in, and the device's side of it."""

    kind: str
    signature: str
    trace: str
    events: tuple[dict[str, Any], ...] = ()
    script: tuple[str, ...] = ()

    @classmethod
    def of(cls, failure: GuestCrashed | BootTimeout, step: int, workload: Sequence[str]) -> Finding:
        """A crash, or the hang of command `step` (1, 2, ...) of `workload`."""
        if isinstance(failure, GuestCrashed):
            return cls(failure.kind, signature(failure.kind, failure.trace), failure.trace)
        what = f"hang: step {step} ({workload[step - 1]})"
        return cls("hang", what, failure.console_tail or str(failure))

    def with_device(self, events: Sequence[dict[str, Any]], script: Sequence[str]) -> Finding:
        return replace(self, events=tuple(events), script=tuple(script))


@dataclass(frozen=True)
class Reproducer:
    target: str
    transport: str
    spec: str
    workload: tuple[str, ...]
    series: str
    variant: str
    events: tuple[dict[str, Any], ...]
    crash: dict[str, str] = field(default_factory=dict)
    script: tuple[str, ...] = ()

    @classmethod
    def of(cls, target: FuzzTarget, kernel: Kernel, finding: Finding) -> Reproducer:
        return cls(
            target.name,
            target.transport,
            target.spec,
            target.workload,
            kernel.series,
            kernel.variant,
            finding.events,
            {"kind": finding.kind, "signature": finding.signature, "trace": finding.trace},
            finding.script,
        )

    @property
    def file_name(self) -> str:
        digest = hashlib.sha256(self.crash.get("signature", "").encode()).hexdigest()[:10]
        return f"{self.target}-{digest}{SUFFIX}"

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / self.file_name
        header = {
            "reproducer": VERSION,
            "target": self.target,
            "transport": self.transport,
            "spec": self.spec,
            "workload": list(self.workload),
            "kernel": {"series": self.series, "variant": self.variant},
            "crash": self.crash,
            "script": list(self.script),
        }
        partial = path.with_name(path.name + ".part")
        with partial.open("w") as out:
            for line in [header, *self.events]:
                out.write(json.dumps(line) + "\n")
        partial.replace(path)  # a reader never sees half a reproducer
        return path

    @classmethod
    def load(cls, path: Path) -> Reproducer:
        try:
            lines = path.read_text().splitlines()
            header = json.loads(lines[0]) if lines else None
            if not isinstance(header, dict):
                raise ValueError("no header")
            if "trace" in header and "reproducer" not in header:
                raise HarnessError(f"{path} is a PCI trace, not a reproducer")
            if header.get("reproducer") != VERSION:
                raise ValueError("not a reproducer")
            kernel = header["kernel"]
            return cls(
                str(header["target"]),
                str(header["transport"]),
                str(header["spec"]),
                tuple(str(c) for c in header["workload"]),
                str(kernel["series"]),
                str(kernel["variant"]),
                tuple(json.loads(line) for line in lines[1:]),
                {str(k): str(v) for k, v in header.get("crash", {}).items()},
                tuple(str(s) for s in header.get("script", [])),
            )
        except OSError as error:
            raise HarnessError(f"cannot read {path}: {error.strerror}") from None
        except (ValueError, KeyError, TypeError, AttributeError):
            raise HarnessError(f"{path} is not a umlharness reproducer") from None

    @classmethod
    def of_trace(cls, path: Path, commands: Sequence[str], series: str, variant: str) -> Reproducer:
        """A `--trace` recording, to replay with `commands` (default: those `boot
        --run` ran, which its steps name)."""
        try:
            lines = path.read_text().splitlines()
            header = json.loads(lines[0])
            events = [json.loads(line) for line in lines[1:]]
        except OSError as error:
            raise HarnessError(f"cannot read {path}: {error.strerror}") from None
        except (ValueError, IndexError):
            raise HarnessError(f"{path} is not a umlharness PCI trace") from None
        if not isinstance(header, dict) or header.get("trace") != 1:
            raise HarnessError(f"{path} is not a umlharness PCI trace")
        if not commands:
            commands = [str(e["command"]) for e in events if e.get("op") == STEP]
        if not commands:
            raise HarnessError(
                f"{path} records no commands (it was not made by boot --run): give them with --run"
            )
        return cls(
            path.stem,
            "pci",
            f"replay-of-{header.get('model')}",
            tuple(commands),
            series,
            variant,
            tuple(events),
        )


def is_trace(path: Path) -> bool:
    """Whether `path` starts as a PCI trace does (rather than as a reproducer)."""
    try:
        with path.open() as handle:
            header = json.loads(handle.readline())
    except (OSError, ValueError):
        return False
    return isinstance(header, dict) and "trace" in header


def pci_events(trace: Path) -> list[dict[str, Any]]:
    """The events of the backend's trace (steps marked by Instance.mark_step)."""
    try:
        lines = trace.read_text().splitlines()
    except OSError as error:
        raise HarnessError(f"the device's trace {trace} is missing: {error.strerror}") from None
    events: list[dict[str, Any]] = []
    for line in lines[1:]:
        try:
            events.append(json.loads(line))
        except ValueError:
            break  # the last line of a backend killed mid-write
    return events


class IomemRecorder:
    """What the device's side of an iomem example did to the region, in order."""

    def __init__(self, path: Path) -> None:
        self._region = map_iomem(path)
        self._seen = np.zeros_like(self._region)
        self.events: list[dict[str, Any]] = []
        self.region()

    def step(self, index: int, command: str) -> None:
        self.region()
        self.events.append({"op": STEP, "addr": index, "command": command})

    def region(self) -> None:
        """The bytes that changed since last looked at."""
        now = np.array(self._region)
        changed = np.flatnonzero(now != self._seen)
        if changed.size:
            # Runs of changed offsets: split where the next offset is not adjacent.
            breaks = np.flatnonzero(np.diff(changed) > 1) + 1
            runs = [
                [int(run[0]), now[run[0] : run[-1] + 1].tobytes().hex()]
                for run in np.split(changed, breaks)
            ]
            self.events.append({"op": REGION, "runs": runs})
        self._seen = now

    def interrupt(self) -> None:
        self.events.append({"op": IRQ})


@dataclass(frozen=True)
class Replayed:
    finding_kind: str | None
    signature: str | None
    trace: str
    seconds: float
    #: Where the driver first did what the recording's did not (PCI), if it did.
    divergence: str | None = None
    #: What each command printed, up to the crash.
    outputs: tuple[str, ...] = ()

    @property
    def crashed(self) -> bool:
        return self.finding_kind is not None


def replay(reproducer: Reproducer, kernel: Kernel, rootfs: Rootfs) -> Replayed:
    """Play `reproducer` back in a fresh guest: its crash, or None if the driver came through."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="uhreplay-") as work:
        trace = Path(work) / "device.trace"
        pci = reproducer.transport == "pci"
        if pci:
            _write_trace(trace, reproducer.events)
        request = BootRequest(
            kernel,
            rootfs,
            iomem=[] if pci else [IomemSpec.parse(reproducer.spec)],
            pci=[PciSpec.parse(f"replay,trace={trace}")] if pci else [],
            autoload=False,
            command_timeout=COMMAND_TIMEOUT,
        )
        step = 0
        divergence: list[str] = []
        outputs: list[str] = []
        try:
            with Instance.boot(request) as vm, contextlib.ExitStack() as stack:
                player = None
                if not pci:
                    player = stack.enter_context(contextlib.closing(_IomemPlayer(vm, reproducer)))
                for step, command in enumerate(reproducer.workload, 1):
                    vm.mark_step(step, command)
                    if player is not None:
                        player.step(step)
                    outputs.append(vm.run(command).output)
                    if pci and not divergence and (where := vm.pci_model().divergence()):
                        divergence.append(where)
        except (GuestCrashed, BootTimeout) as failure:
            if step == 0:
                raise  # the boot itself: not the driver's doing
            found = Finding.of(failure, step, reproducer.workload)
            return Replayed(
                found.kind,
                found.signature,
                found.trace,
                time.monotonic() - started,
                next(iter(divergence), None),
                tuple(outputs),
            )
    seconds = time.monotonic() - started
    return Replayed(None, None, "", seconds, next(iter(divergence), None), tuple(outputs))


def _write_trace(path: Path, events: Sequence[dict[str, Any]]) -> None:
    header = {"trace": 1, "model": "replay", "options": {}, "slot": "pci0", "monotonic_ns": 0}
    with path.open("w") as out:
        for line in [header, *events]:
            out.write(json.dumps(line) + "\n")


class _IomemPlayer:
    """Before each step, what the device did before it, and at it."""

    def __init__(self, vm: Instance, reproducer: Reproducer) -> None:
        name = IomemSpec.parse(reproducer.spec).name
        self._region = map_iomem(vm.iomem_files[name])
        self._line = InterruptLine(vm.umid_dir / name)
        self._by_step: dict[int, list[dict[str, Any]]] = {}
        current = 0
        for event in reproducer.events:
            if event["op"] == STEP:
                current = int(event["addr"])
            self._by_step.setdefault(current, []).append(event)

    def step(self, index: int) -> None:
        for event in [*self._by_step.pop(0, []), *self._by_step.pop(index, [])]:
            if event["op"] == REGION:
                for offset, data in event["runs"]:
                    raw = np.frombuffer(bytes.fromhex(data), np.uint8)
                    self._region[offset : offset + raw.size] = raw
            elif event["op"] == IRQ:
                self._line.raise_irq()

    def close(self) -> None:
        self._line.close()


def reproducers_in(directory: Path) -> list[Path]:
    return sorted(directory.rglob(f"*{SUFFIX}"))
