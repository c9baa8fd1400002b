"""Open FPGA N of a running instance (or an explicit iomem file) as a model."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from ..attach import map_iomem, resolve
from ..irq import InterruptLine
from .doorbell import Doorbell, doorbell_path
from .model import Fpga

MAX_FPGAS = 4  # uh_fpga serves fpga0..fpga3


def region_name(index: int) -> str:
    return f"fpga{index}"


@contextmanager
def open_fpga(
    index: int = 0,
    *,
    umid: str | None = None,
    iomem: Path | None = None,
    irq: Path | None = None,
    doorbell: bool = True,
) -> Iterator[Fpga]:
    """The FPGA on region fpga`index` of instance `umid` (or of `iomem`, with `irq`).

    `doorbell` binds the device's doorbell socket, making this the simulator
    that answers commands: one per device. Without an interrupt socket
    (explicit `iomem` only) the model raises no interrupts and has no doorbell.
    What it waits for, it stops waiting for when the guest is gone (see
    simulators.peer).
    """
    explicit = iomem is not None or irq is not None
    target = resolve(umid, iomem, irq, None if explicit else region_name(index))
    with ExitStack() as stack:
        line = None
        bell = None
        if target.irq is not None:
            line = stack.enter_context(InterruptLine(target.irq))
            if doorbell:
                bell = stack.enter_context(Doorbell(doorbell_path(target.irq)))
        yield Fpga(
            map_iomem(target.iomem), index=index, irq=line, doorbell=bell, watch=target.watch()
        )
