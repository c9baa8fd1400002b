"""PCI devices of an instance: one backend process per device, started before UML boots.

UML's virtio_uml connects to each device's vhost-user socket once, while it
boots, and never retries; so each backend (`python -m simulators.pci`) must
listen first. The harness starts them, waits for each to say `ready`,
passes `virtio_uml.device=SOCKET:1234` per device, and watches them: a
backend that dies while the guest runs is reported, with its log, instead
of leaving the guest's driver waiting on a device that is gone.
"""

from __future__ import annotations

import contextlib
import os
import select
import site
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from simulators.errors import SimulatorError
from simulators.pci.models import model_class, parse_spec
from umlharness_shared.handshake import FAILED, MODEL_ERROR, READY
from umlharness_shared.procs import ProcessId
from umlharness_shared.registry import PciRecord
from umlharness_shared.sockets import check_socket_path

from .errors import GuestError, HarnessError

#: CONFIG_UML_PCI_OVER_VIRTIO_DEVICE_ID in uml-config/pci.config.
VIRTIO_PCI_DEVICE_ID = 1234
MAX_DEVICES = 8  # virt-pci's MAX_DEVICES


@dataclass(frozen=True)
class PciSpec:
    """One `--pci MODEL[,key=value...]`."""

    model: str
    options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> PciSpec:
        try:
            model, options = parse_spec(text)
            model_class(model, options)  # unknown models and options fail here, not in the guest
        except SimulatorError as error:
            raise HarnessError(f"--pci {text}: {error}") from None
        return cls(model, tuple(options.items()))

    def __str__(self) -> str:
        return ",".join([self.model, *(f"{key}={value}" for key, value in self.options)])


def backend_env() -> dict[str, str]:
    """The environment of a backend: it imports what this process imports (a
    project's `model-paths`, pytest's rootdir), not only what its cwd holds."""
    installed = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, *site.getsitepackages())}
    own = []
    for entry in sys.path:
        path = Path(entry or os.getcwd()).resolve()
        if path.is_dir() and not any(path.is_relative_to(i) for i in installed):
            own.append(str(path))
    inherited = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([*own, *filter(None, [inherited])])}


class PciBackendDied(GuestError):
    """A device's backend process ended while the guest was using the device."""


class PciModelError(GuestError):
    """A device's model raised while it served the driver's access."""


class PciBackendFailed(GuestError):
    """A device's backend could not start: its model refused its options or raised."""


class PciBackend:
    """The backend process of device `slot` (pci0, pci1, ...) of an instance in `directory`."""

    def __init__(self, slot: str, spec: PciSpec, directory: Path, trace: Path | None) -> None:
        self.slot = slot
        self.spec = spec
        self.socket = directory / f"{slot}.sock"
        self.control = directory / f"{slot}.ctl"
        self.log = directory / f"{slot}.log"
        self.trace = trace
        check_socket_path(self.socket, "PCI socket")
        check_socket_path(self.control, "PCI control socket")
        if b":" in os.fsencode(self.socket):
            raise HarnessError(
                f"PCI socket {self.socket} has a ':', which virtio_uml.device= cannot take "
                "(set UMLHARNESS_RUN to a directory without one)"
            )
        self._process: subprocess.Popen[str] | None = None
        self.stopping = False
        self._log_seen = 0

    @property
    def kernel_arg(self) -> str:
        return f"virtio_uml.device={self.socket}:{VIRTIO_PCI_DEVICE_ID}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def process(self) -> ProcessId | None:
        """The backend process, for records that outlive this object."""
        return ProcessId.of(self._process.pid) if self._process is not None else None

    @property
    def record(self) -> PciRecord:
        """What the instance record says of this device."""
        return PciRecord(
            self.slot, self.spec.model, dict(self.spec.options), self.control, self.process
        )

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "simulators.pci",
            "--model",
            str(self.spec),
            "--socket",
            str(self.socket),
            "--control",
            str(self.control),
            "--slot",
            self.slot,
        ]
        if self.trace is not None:
            command += ["--trace", str(self.trace)]
        with self.log.open("w") as log:
            self._process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
                text=True,
                env=backend_env(),
            )

    def wait_ready(self, timeout: float) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HarnessError(
                    f"PCI backend {self.slot} ({self.spec}) not ready within {timeout:g}s; "
                    f"log: {self.log}"
                )
            readable, _, _ = select.select([process.stdout], [], [], remaining)
            if readable:
                line = process.stdout.readline()
                if line.strip() == READY:
                    return
                if line.startswith(FAILED):
                    process.wait(timeout=5)
                    why = line.removeprefix(FAILED).strip()
                    raise PciBackendFailed(
                        f"--pci {self.spec}: {why} (its log has the details)", log=self.log
                    )
                if not line:
                    process.wait(timeout=5)
                    raise HarnessError(
                        f"PCI backend {self.slot} ({self.spec}) failed to start: {self.log_tail(1)}"
                    )

    def exited(self) -> int | None:
        """The exit status if the process has ended, else None."""
        return self._process.poll() if self._process is not None else None

    def died_error(self, status: int) -> PciBackendDied:
        how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
        return PciBackendDied(
            f"PCI backend {self.slot} ({self.spec}) {how} while the guest was running; "
            f"its log: {self.log}",
            console_tail=self.log_tail(),
            log=self.log,
        )

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def model_error(self) -> str | None:
        """The first line of a model error its log reported since the last call, if any.

        Called on every wait of the guest: a log that has not grown costs one stat.
        """
        try:
            if self.log.stat().st_size <= self._log_seen:
                return None
            with self.log.open("rb") as log:
                log.seek(self._log_seen)
                new = log.read()
        except OSError:
            return None
        # Only whole lines count: one still being written is read next time.
        complete = new[: new.rfind(b"\n") + 1]
        self._log_seen += len(complete)
        for line in complete.decode(errors="replace").splitlines():
            if line.startswith(MODEL_ERROR):
                return line.removeprefix(MODEL_ERROR).strip()
        return None

    def expect_exit(self) -> None:
        """From now on the backend's end is expected (the guest powers off), no failure."""
        self.stopping = True

    def stop(self, timeout: float = 3.0) -> None:
        """End the backend: after UML has gone it exits by itself; else SIGTERM, then SIGKILL."""
        self.stopping = True
        process = self._process
        if process is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.5)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()


def check_pci_count(specs: list[PciSpec]) -> None:
    if len(specs) > MAX_DEVICES:
        raise HarnessError(f"{len(specs)} PCI devices: UML's virt-pci takes up to {MAX_DEVICES}")


def plan_backends(specs: list[PciSpec], directory: Path, trace: Path | None) -> list[PciBackend]:
    """One backend per spec, slots pci0..; with `trace`, pci0 records to it, pciN to TRACE.pciN."""
    check_pci_count(specs)
    backends = []
    for index, spec in enumerate(specs):
        slot = f"pci{index}"
        where = None
        if trace is not None:
            where = trace if index == 0 else trace.with_name(f"{trace.name}.{slot}")
        backends.append(PciBackend(slot, spec, directory, where))
    return backends
