"""The RTL8111 served over PCI, for the kernel's own r8169 driver.

It is the same `Rtl8111` model as on the iomem transport (model.py: the
link, the interrupt, and everything r8169 needs of the chip), behind BAR2
of a 10ec:8168 function. This adapter is the PCI side only: the function's
identity and config space, the BAR over the model's register file, and
what the transport gives the model, its MSI (`MsiInterrupt`) and DMA (the
function is the model's `Dma`).
"""

from __future__ import annotations

import threading

from ..errors import SimulatorError
from ..pci.bars import RegisterBar
from ..pci.config_space import PciId
from ..pci.function import PciFunction
from ..pci.interrupt import MsiInterrupt
from .model import DEFAULT_MAC, Rtl8111
from .regs import RTL8111

VENDOR_REALTEK = 0x10EC
DEVICE_8168 = 0x8168
CLASS_ETHERNET = 0x020000
BAR = 2
BAR_SIZE = 0x1000


class Rtl8111Pci(PciFunction):
    """The PCI RTL8111. Options: `mac` (aa:bb:cc:dd:ee:ff), `link` (up or down at
    power-on), `host` (192.0.2.1/24: a host on the link that answers ARP and ping),
    `wire` (NAME: the link is wire NAME, shared with other NICs; simulators/net/wire.py).

    `nic` is the chip's model, what `sim` and tests call.
    """

    name = "rtl8111"

    def __init__(
        self,
        mac: str | None = None,
        link: str = "up",
        host: str | None = None,
        wire: str | None = None,
    ) -> None:
        if link not in ("up", "down"):
            raise SimulatorError(f"rtl8111: link={link}: up or down")
        lock = threading.RLock()
        self.bar = RegisterBar(RTL8111, BAR_SIZE, lock, device="RTL8111")
        super().__init__(
            PciId(
                VENDOR_REALTEK,
                DEVICE_8168,
                class_code=CLASS_ETHERNET,
                revision=0x02,
                subsystem_vendor=VENDOR_REALTEK,
                subsystem=DEVICE_8168,
            ),
            {BAR: self.bar},
            msi=True,
            lock=lock,
        )
        given = {"mac": mac, "host": host, "wire": wire}
        self._options = {"link": link} | {k: v for k, v in given.items() if v}
        self.nic = Rtl8111(self.bar.regs, MsiInterrupt(self), dma=self)
        self.interrupt = self.nic.interrupt
        self.nic.power_on(_parse_mac(mac) if mac else DEFAULT_MAC, link == "up")
        self.nic.answer_as(host)
        if wire:
            self.nic.host.join_wire(wire)

    @property
    def chip(self) -> Rtl8111:
        return self.nic

    def options(self) -> dict[str, str]:
        return dict(self._options)


def _parse_mac(text: str) -> bytes:
    try:
        mac = bytes.fromhex(text.replace(":", "").replace("-", ""))
    except ValueError:
        mac = b""
    if len(mac) != 6:
        raise SimulatorError(f"rtl8111: mac={text}: six hex bytes, e.g. 00:e0:4c:68:11:01")
    return mac
