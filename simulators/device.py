"""What every device model has: its register file and its interrupt line to the driver."""

from __future__ import annotations

from .irq import DEFAULT_RESEND_INTERVAL, DEFAULT_TIMEOUT, Interrupt
from .regfile import RegisterFile


class DeviceModel:
    """A device over `regs` (its register file) raising interrupts on `irq`.

    `irq` may be None to inspect the device without raising interrupts. An
    interrupt counts as delivered once the driver acknowledges it, within
    `ack_timeout` seconds, the datagram re-sent every `resend_interval`.
    """

    def __init__(
        self,
        regs: RegisterFile,
        irq: Interrupt | None,
        *,
        ack_timeout: float = DEFAULT_TIMEOUT,
        resend_interval: float = DEFAULT_RESEND_INTERVAL,
    ) -> None:
        self.regs = regs
        self.irq = irq
        self.ack_timeout = ack_timeout
        self.resend_interval = resend_interval

    def set_ack_timeout(self, seconds: float) -> None:
        """How long interrupts wait for the driver's acknowledgement (a `sim --timeout`)."""
        if seconds <= 0:
            raise ValueError("the acknowledgement timeout must be positive")
        self.ack_timeout = seconds
