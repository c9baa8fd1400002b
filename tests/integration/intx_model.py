"""A model that offers INTx, for the test of what virt-pci does with it
(`test_pci_intx.py`): pcitest with Interrupt Pin A and its own device ID,
and a method that sends virt-pci's INT message for pin A.

`PciFunction` refuses a model without MSI or MSI-X (INTx is not delivered),
so this one keeps its MSI capability; the test's driver asks for INTx only.
"""

from __future__ import annotations

from simulators.pci.pcidev import HEADER, Op
from simulators.pcitest.model import PciTest

DEVICE = 0x7402
PIN_A = 1


class IntxPciTest(PciTest):
    """pcitest (MSI) with Interrupt Pin A, as 5548:7402."""

    name = "intx-pcitest"

    def __init__(self) -> None:
        super().__init__(irq="msi")
        self.config.regs.write("DeviceID", DEVICE)
        self.config.regs.write("InterruptPin", PIN_A)

    def raise_intx(self) -> bool:
        """Set IRQ_STATUS bit 0 and send op INT for pin A (the pin goes in `addr`)."""
        with self.lock:
            self.bar.regs.set_bits("IRQ_STATUS", 1)
            return self._send(HEADER.pack(Op.INT, 0, 0, 0, PIN_A))
