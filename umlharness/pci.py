"""PCI devices of an instance: one backend process per device, started before UML boots.

UML's virtio_uml connects to each device's vhost-user socket once, while it
boots, and never retries; so each backend (`python -m simulators.pci`) must
listen first. The harness starts them, waits for each to say `ready`,
passes `virtio_uml.device=SOCKET:1234` per device, and watches them: a
backend that dies while the guest runs is reported, with its log, instead
of leaving the guest's driver waiting on a device that is gone.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from simulators.errors import SimulatorError
from simulators.pci.models import model_class, parse_spec
from umlharness_shared.registry import PciRecord
from umlharness_shared.sockets import check_socket_path

from .backend_process import (
    BackendDied,
    BackendFailed,
    BackendProcess,
    ModelRaised,
)
from .errors import HarnessError

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


class PciBackendDied(BackendDied):
    """A device's backend process ended while the guest was using the device."""


class PciModelError(ModelRaised):
    """A device's model raised while it served the driver's access."""


class PciBackendFailed(BackendFailed):
    """A device's backend could not start: its model refused its options or raised."""


class PciBackend(BackendProcess):
    """The backend process of device `slot` (pci0, pci1, ...) of an instance in `directory`."""

    died_error_class = PciBackendDied
    failed_error_class = PciBackendFailed

    def __init__(self, slot: str, spec: PciSpec, directory: Path, trace: Path | None) -> None:
        super().__init__(f"PCI backend {slot} ({spec})", f"--pci {spec}", directory / f"{slot}.log")
        self.slot = slot
        self.spec = spec
        self.socket = directory / f"{slot}.sock"
        self.control = directory / f"{slot}.ctl"
        self.trace = trace
        check_socket_path(self.socket, "PCI socket")
        check_socket_path(self.control, "PCI control socket")
        if b":" in os.fsencode(self.socket):
            raise HarnessError(
                f"PCI socket {self.socket} has a ':', which virtio_uml.device= cannot take "
                "(set UMLHARNESS_RUN to a directory without one)"
            )

    @property
    def kernel_arg(self) -> str:
        return f"virtio_uml.device={self.socket}:{VIRTIO_PCI_DEVICE_ID}"

    @property
    def record(self) -> PciRecord:
        """What the instance record says of this device."""
        return PciRecord(
            self.slot, self.spec.model, dict(self.spec.options), self.control, self.process
        )

    def command(self) -> list[str]:
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
        return command


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
