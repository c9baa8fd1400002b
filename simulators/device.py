"""What every device model has: its register file, and what its transport lets it do.

A model is the chip's behaviour, whichever transport serves it. The
transport gives it:

- `regs`, its register file (`simulators/regfile.py`): named access for the
  model, hooks for the driver's accesses (see that module for which
  accesses each transport can intercept);
- `irq`, the `Interrupt` its `LevelInterrupt` signals through: a datagram
  to an iomem driver's socket, an MSI over PCI;
- `dma`, reads and writes of the driver's memory, where the transport has
  them (a PCI function is a bus master); None on iomem.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import ClassVar, Protocol

from .errors import SimulatorError
from .faults import Faults
from .irq import (
    DEFAULT_RESEND_INTERVAL,
    DEFAULT_TIMEOUT,
    Interrupt,
    InterruptRegisters,
    LevelInterrupt,
)
from .misbehave import Misbehaviour
from .regfile import RegisterFile


class Dma(Protocol):
    """The driver's memory, at the addresses the driver gave the device."""

    def dma_read(self, address: int, length: int) -> bytes: ...

    def dma_write(self, address: int, data: bytes) -> None: ...


class DeviceModel:
    """A device over `regs` (its register file), interrupting through `irq`, with `dma`.

    `irq` may be None to inspect the device without raising interrupts. An
    interrupt counts as delivered once the driver acknowledges it, within
    `ack_timeout` seconds, re-sent every `resend_interval` on a transport
    that needs it. Subclasses name their interrupt's registers in
    `interrupt_registers`; `interrupt` is that `LevelInterrupt`. A device
    without an interrupt leaves `interrupt_registers` None.
    """

    interrupt_registers: ClassVar[InterruptRegisters | None] = None

    def __init__(
        self,
        regs: RegisterFile,
        irq: Interrupt | None,
        *,
        dma: Dma | None = None,
        ack_timeout: float = DEFAULT_TIMEOUT,
        resend_interval: float = DEFAULT_RESEND_INTERVAL,
    ) -> None:
        self.regs = regs
        self.irq = irq
        self.dma = dma
        self.ack_timeout = ack_timeout
        self.resend_interval = resend_interval
        #: Exceptions of its threads (and, on iomem, of its hooks) for its handle to raise.
        self.faults = Faults(regs.device)
        #: Faults a test makes the device show (simulators/misbehave.py).
        self.misbehave = Misbehaviour(self)
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        where = self.interrupt_registers
        self._interrupt = (
            LevelInterrupt(regs, irq, where, resend_interval=resend_interval) if where else None
        )
        self.setup()

    @property
    def interrupt(self) -> LevelInterrupt:
        if self._interrupt is None:
            raise SimulatorError(f"{type(self).__name__} has no interrupt_registers: no interrupt")
        return self._interrupt

    def setup(self) -> None:
        """The model's own state and its register hooks: called once, last in `__init__`."""

    def set_ack_timeout(self, seconds: float) -> None:
        """How long interrupts wait for the driver's acknowledgement (a `sim --timeout`)."""
        if seconds <= 0:
            raise ValueError("the acknowledgement timeout must be positive")
        self.ack_timeout = seconds

    def require_dma(self) -> Dma:
        if self.dma is None:
            raise SimulatorError("no DMA on this transport: the model cannot reach guest memory")
        return self.dma

    def start_thread(self, target: Callable[[threading.Event], None], name: str) -> None:
        """Run `target(stopping)` in a daemon thread: a device that acts on its own.

        `stopping` is set when the model's handle closes, and `target` should
        return then. An exception it raises is the model's bug: recorded in
        `faults`, and raised by the handle (at its next check, at the latest
        when it closes) instead of being lost in the thread.
        """

        def run() -> None:
            try:
                target(self._stopping)
            except Exception as error:
                self.faults.record(error, f"in its thread {name!r}")

        thread = threading.Thread(target=run, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def stop_threads(self, timeout: float = 5.0) -> None:
        """Set the threads' `stopping` event and wait up to `timeout` seconds for each."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout)
