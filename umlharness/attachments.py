"""What a guest is given besides its disk: iomem regions, PCI devices (next: virtio buses).

Each kind is an `Attachment`. The instance asks every attachment, in order,
for the same things at the same moments, and knows nothing else of them:

    start(dir)        before UML starts: make files, start backends
    wait_ready(s)     then, all started: wait until each listens
    watched()         the processes it started, for the instance's watchdog
    kernel_args()     what UML's command line needs
    check()           while the guest runs: raise if the attachment's peer died
    before_poweroff() shell commands the guest must run before it powers off
    guest_stopping()  the guest is powering off: its end is no failure now
    stop()            after UML is gone
    keep(dir, moved)  copy what is worth keeping of a run (logs, register
                      snapshots) into dir; `moved`: the instance directory
                      is going away, so the copies are the files from now on
and its part of the instance record (`iomem` / `pci`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Protocol

from umlharness_shared.procs import ProcessId
from umlharness_shared.registry import InstanceInfo, PciRecord, backend_needle
from umlharness_shared.sockets import check_socket_path

from .backend_process import BackendProcess, ModelRaised
from .errors import HarnessError
from .iomem import IomemSpec
from .paths import private_copy
from .pci import PciBackend, PciModelError, PciSpec, plan_backends

#: Unbind PCI drivers while the guest runs normally: UML's halt path removes
#: virt-pci devices with timers stopped, and r8169's close sleeps there for
#: ever (after a WARN from phylib).
UNBIND_PCI_DRIVERS = (
    'for dev in /sys/bus/pci/drivers/*/0000:*; do echo "${dev##*/}" >"${dev%/*}/unbind"; done'
)


class Attachment(Protocol):
    def start(self, directory: Path) -> None: ...
    def wait_ready(self, timeout: float) -> None: ...
    def watched(self) -> list[tuple[ProcessId, bytes]]: ...
    def kernel_args(self) -> list[str]: ...
    def check(self) -> None: ...
    def before_poweroff(self) -> list[str]: ...
    def guest_stopping(self) -> None: ...
    def stop(self) -> None: ...
    def keep(self, target: Path, moved: bool) -> None: ...


class IomemRegion:
    """An iomem region: a file UML maps, and the driver's interrupt socket beside UML's."""

    def __init__(self, spec: IomemSpec, umid_dir: Path) -> None:
        self.spec = spec
        self.name = spec.name
        self.file: Path | None = None
        # The driver's socket, with room for a doorbell beside it.
        check_socket_path(
            umid_dir / f"{spec.name}-doorbell", f"the sockets of iomem region {spec.name}:"
        )

    def start(self, directory: Path) -> None:
        self.file = self.spec.materialise(directory)

    def wait_ready(self, timeout: float) -> None:
        pass

    def watched(self) -> list[tuple[ProcessId, bytes]]:
        return []

    @property
    def path(self) -> Path:
        assert self.file is not None, "started"
        return self.file

    @property
    def made_here(self) -> bool:
        """A fresh file the harness made for this boot (not the user's own)."""
        return self.spec.file is None

    def kernel_args(self) -> list[str]:
        return [f"iomem={self.name},{self.path}"]

    def check(self) -> None:
        pass  # the file cannot die; the driver's side is the guest's

    def before_poweroff(self) -> list[str]:
        return []

    def guest_stopping(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def keep(self, target: Path, moved: bool) -> None:
        """A snapshot of the registers as they are now."""
        if self.file is None or not self.file.exists():
            return
        snapshot = target / f"iomem-{self.name}.bin"
        private_copy(self.file, snapshot)
        if moved and self.made_here:
            self.file = snapshot


class BackendAttachment:
    """An attachment served by a backend process: started and waited for before UML,
    watched while the guest runs (its exit and its model errors fail the run)."""

    def __init__(self, backend: BackendProcess, needle: bytes) -> None:
        self.backend = backend
        self._needle = needle

    def start(self, directory: Path) -> None:
        self.backend.start()

    def wait_ready(self, timeout: float) -> None:
        self.backend.wait_ready(timeout)

    def watched(self) -> list[tuple[ProcessId, bytes]]:
        process = self.backend.process
        return [] if process is None else [(process, self._needle)]

    def model_raised(self, error: str) -> ModelRaised:
        """The error a model-error line of the backend's log (`error`) fails the run with."""
        return ModelRaised(f"{error}; its traceback is in {self.backend.log}")

    def check(self) -> None:
        error = self.backend.model_error()
        if error is not None:
            raised = self.model_raised(error)
            raised.console_tail = self.backend.log_tail()
            raised.log = self.backend.log
            raise raised
        if self.backend.stopping:
            return
        status = self.backend.exited()
        if status is not None:
            self.backend.expect_exit()  # reported once
            raise self.backend.died_error(status)

    def before_poweroff(self) -> list[str]:
        return []

    def guest_stopping(self) -> None:
        self.backend.expect_exit()

    def stop(self) -> None:
        self.backend.stop()

    def keep(self, target: Path, moved: bool) -> None:
        log = self.backend.log
        if log.exists():
            private_copy(log, target / log.name)
            if moved:
                self.backend.log = target / log.name


class PciDevice(BackendAttachment):
    """A PCI device: its backend process, started and listening before UML boots."""

    backend: PciBackend

    def __init__(self, backend: PciBackend) -> None:
        super().__init__(backend, backend_needle(backend.socket.parent, backend.slot))
        self.slot = backend.slot

    def kernel_args(self) -> list[str]:
        return [self.backend.kernel_arg]

    def model_raised(self, error: str) -> ModelRaised:
        return PciModelError(
            f"PCI model {self.slot} ({self.backend.spec}) raised: {error}; "
            "its traceback is in its log"
        )

    def before_poweroff(self) -> list[str]:
        return [UNBIND_PCI_DRIVERS]

    @property
    def record(self) -> PciRecord:
        return self.backend.record


def check_files_unshared(regions: Sequence[IomemRegion], running: Sequence[InstanceInfo]) -> None:
    """A register file is one device: two guests mapping it would share its registers.
    `running`: the other instances."""
    mine = {region.name: region.path for region in regions if not region.made_here}
    for info in running:
        for theirs in info.iomem.values():
            for name, path in mine.items():
                with suppress(OSError):
                    if path.samefile(theirs):
                        raise HarnessError(
                            f"--iomem {name}={path}: the file is in use by running instance "
                            f"{info.umid} as a register file"
                        )
    seen: dict[Path, str] = {}
    for name, path in mine.items():
        if path in seen:
            raise HarnessError(f"--iomem {seen[path]} and {name} name the same file {path}")
        seen[path] = name


def plan(
    iomem: Sequence[IomemSpec],
    pci: Sequence[PciSpec],
    directory: Path,
    umid_dir: Path,
    trace: Path | None,
) -> tuple[list[IomemRegion], list[PciDevice]]:
    """The attachments of a boot, checked (socket paths, device count) before anything starts."""
    regions = [IomemRegion(spec, umid_dir) for spec in iomem]
    devices = [PciDevice(backend) for backend in plan_backends(list(pci), directory, trace)]
    return regions, devices
