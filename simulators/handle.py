"""One typed way to reach a device's model, whichever transport serves it.

    with open_model(RTL8111_DEVICE, umid=vm.umid) as nic:   # ModelHandle[Rtl8111]
        nic.model.link_down()

Over an iomem region the model is built here, over the region's file and
the driver's interrupt socket. Over PCI it runs in the device's backend
process, and `model` is a proxy that calls it there: the same methods, the
same answers, exceptions raised again here. `sim`, the pytest fixtures and
the benchmarks all go through `open_model`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Generic

from .attach import attach, pci_control
from .closing import Closing
from .devices import Device, M
from .errors import SimulatorError
from .irq import DEFAULT_TIMEOUT
from .pci.control import RemoteModel
from .peer import GuestWatch


class ModelHandle(Closing, Generic[M]):
    """A device's model and the transport it is reached through; close it when done."""

    def __init__(
        self,
        spec: Device[M],
        transport: str,
        model: M,
        close: Callable[[], None],
        *,
        interrupts: bool = True,
        watch: GuestWatch | None = None,
    ) -> None:
        self.device = spec
        self.transport = transport
        self.model = model
        #: False for an explicit iomem file without the driver's socket.
        self.interrupts = interrupts
        self._close = close
        self._watch = watch

    def explain(self) -> AbstractContextManager[None]:
        """Turn an error the guest's exit caused into "instance X is gone" (simulators.peer)."""
        return self._watch.explain() if self._watch is not None else nullcontext()

    def close(self) -> None:
        self._close()


def open_model(
    dev: Device[M],
    *,
    umid: str | None = None,
    region: str | None = None,
    slot: str | None = None,
    iomem: Path | None = None,
    irq: Path | None = None,
    ack_timeout: float = DEFAULT_TIMEOUT,
) -> ModelHandle[M]:
    """The model of device `dev` in instance `umid` (default: the only one running);
    `simulators.devices.device(NAME)` finds a declaration by name.

    The device's iomem region (`region`, else the one its driver declares)
    is used if the instance has it; else its PCI device (`slot`, else the
    only one of that model). `iomem`/`irq` name the files directly instead.
    """
    explicit = iomem is not None or irq is not None
    if explicit and slot is not None:
        raise SimulatorError("--pci SLOT and --iomem/--irq name different devices")
    if not explicit and dev.pci_model is not None:
        default = dev.region or ""
        control = pci_control(umid, slot, dev.pci_model, region, default)
        if control is not None:
            remote = RemoteModel(control)
            remote.set_ack_timeout(ack_timeout)
            return ModelHandle(dev, "pci", _as_model(dev, remote), remote.close)
    if dev.region is None and region is None and not explicit:
        raise SimulatorError(f"{dev.name} has no iomem region: name its PCI device with --pci")
    attached = attach(
        dev.layout,
        umid=umid,
        iomem=iomem,
        irq=irq,
        region=region,
        default_region=dev.region or "",
        device=dev.label,
    )
    if dev.model is None:
        attached.close()
        raise SimulatorError(f"{dev.name} has no model to open over an iomem region")
    model = dev.model(attached.regs, attached.irq, ack_timeout=ack_timeout)
    return ModelHandle(
        dev,
        "iomem",
        model,
        attached.close,
        interrupts=attached.irq is not None,
        watch=attached.watch,
    )


def _as_model(spec: Device[M], remote: RemoteModel) -> M:
    """The proxy stands for the device's model class: it answers the same calls."""
    return remote  # type: ignore[return-value]
