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

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Generic

import numpy as np

from .attach import attach, pci_control
from .closing import Closing
from .devices import Device, M
from .errors import SimulatorError, UnmappedAccess
from .faults import Faults
from .irq import DEFAULT_TIMEOUT
from .pci.control import RemoteModel
from .peer import GuestWatch
from .regfile import Buffer, RegisterFile
from .virtio.remote import find_i2c


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
        faults: Faults | None = None,
        strict: UnmappedWrites | None = None,
    ) -> None:
        self.device = spec
        self.transport = transport
        self.model = model
        #: False for an explicit iomem file without the driver's socket.
        self.interrupts = interrupts
        #: What the model raised outside its callers (simulators/faults.py); None over
        #: PCI, where the backend reports its model's errors itself.
        self.faults = faults
        self._close = close
        self._watch = watch
        self._strict = strict

    def check(self) -> None:
        """Raise what the model raised in a hook or thread since the last check (ModelError)."""
        if self.faults is not None:
            self.faults.raise_pending()

    @contextmanager
    def explain(self) -> Iterator[None]:
        """Turn an error the guest's exit caused into "instance X is gone" (simulators.peer);
        and check for the model's own errors on the way in and out."""
        self.check()
        with self._watch.explain() if self._watch is not None else nullcontext():
            yield
        self.check()

    def close(self) -> None:
        """Close the transport; then raise the model's pending error, else (strict mode)
        a write of the driver's to bytes no register owns."""
        try:
            self._close()
        finally:
            self.check()
            if self._strict is not None:
                self._strict.check()


class UnmappedWrites:
    """Strict mode over iomem: the driver's loads and stores never reach the host, but a
    store to a byte no register owns changes it. Snapshot at open, compare at close."""

    def __init__(self, regs: RegisterFile, what: str) -> None:
        self.what = what
        self._buffer: Buffer = regs.buffer
        self._unmapped = regs.unmapped_mask(len(self._buffer))
        self._before = np.array(self._buffer, copy=True)

    def check(self) -> None:
        changed = np.flatnonzero((self._buffer != self._before) & self._unmapped)
        if changed.size:
            raise UnmappedAccess(
                f"{self.what}: bytes no register of the map owns were written "
                f"({_ranges(changed)}): the driver stores outside the register map "
                "(strict mode)"
            )


def _ranges(offsets: Buffer | np.ndarray, shown: int = 5) -> str:
    """'0x40-0x43, 0x100' for the offsets of changed bytes, the first `shown` runs."""
    runs: list[tuple[int, int]] = []
    for offset in (int(o) for o in offsets):
        if runs and runs[-1][1] == offset - 1:
            runs[-1] = (runs[-1][0], offset)
        else:
            runs.append((offset, offset))
    text = [f"{a:#x}" if a == b else f"{a:#x}-{b:#x}" for a, b in runs[:shown]]
    if len(runs) > shown:
        text.append(f"... {len(runs) - shown} more")
    return ", ".join(text)


def open_model(
    dev: Device[M],
    *,
    umid: str | None = None,
    region: str | None = None,
    slot: str | None = None,
    iomem: Path | None = None,
    irq: Path | None = None,
    ack_timeout: float = DEFAULT_TIMEOUT,
    strict: bool = False,
    address: int | None = None,
) -> ModelHandle[M]:
    """The model of device `dev` in instance `umid` (default: the only one running);
    `simulators.devices.device(NAME)` finds a declaration by name.

    The device's iomem region (`region`, else the one its driver declares)
    is used if the instance has it; else its PCI device (`slot`, else the
    only one of that model). A device on the I2C bus is the one at
    `address`, else the only one of its model. `iomem`/`irq` name the files directly instead.

    `strict` (iomem): closing the handle raises UnmappedAccess when bytes
    of the region that no register owns changed meanwhile. Over PCI strict
    mode is the backend's (`--pci NAME,strict=1`), which sees every access.
    """
    explicit = iomem is not None or irq is not None
    if explicit and slot is not None:
        raise SimulatorError("--pci SLOT and --iomem/--irq name different devices")
    if dev.i2c_model is not None and not explicit and slot is None:
        remote = find_i2c(umid, dev.name, address)
        if remote is not None:
            return ModelHandle(dev, "i2c", _as_model(dev, remote), remote.close)
        if dev.region is None and dev.pci_model is None:
            at = f" at {address:#04x}" if address is not None else ""
            raise SimulatorError(
                f"the instance has no {dev.name}{at} on its I2C bus "
                f"(boot it with --i2c {dev.name}@ADDRESS)"
            )
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
    guard = UnmappedWrites(attached.regs, f"iomem {attached.target.iomem}") if strict else None
    try:
        model = dev.model(attached.regs, attached.irq, ack_timeout=ack_timeout)
    except BaseException:
        attached.close()
        raise
    # No guest access reaches a hook over iomem; a host-side one's error is the model's bug.
    attached.regs.on_fault = model.faults.record

    def close() -> None:
        try:
            model.stop_threads()
        finally:
            attached.close()

    return ModelHandle(
        dev,
        "iomem",
        model,
        close,
        interrupts=attached.irq is not None,
        watch=attached.watch,
        faults=model.faults,
        strict=guard,
    )


def _as_model(spec: Device[M], remote: RemoteModel) -> M:
    """The proxy stands for the device's model class: it answers the same calls."""
    return remote  # type: ignore[return-value]
