"""The RTL8111's PHY as the kernel's phylib sees it over MDIO: an RTL8211B (ID 0x001cc912).

Clause-22 registers, with Realtek's page select at 0x1f (the r8169 PHY
setup writes vendor pages; they are stored and read back). The link, its
speed and duplex come from the chip's PHYstatus (the model's one record of
the link), so a `sim link` change shows in BMSR, LPA and STAT1000 the next
time phylib reads them. A powered-down PHY (BMCR.PDOWN, the interface
down) reports no link, as a real one does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the model builds its PHY: no import cycle at run time
    from .model import LinkState

PHY_ID = 0x001CC912
PAGE_SELECT = 0x1F

# Register numbers and bits (include/uapi/linux/mii.h).
BMCR, BMSR, PHYSID1, PHYSID2, ADVERTISE, LPA = 0, 1, 2, 3, 4, 5
CTRL1000, STAT1000, ESTATUS = 9, 10, 15
BMCR_RESET = 0x8000
BMCR_ANRESTART = 0x0200
BMCR_PDOWN = 0x0800
BMCR_DEFAULT = 0x1140  # autonegotiation on, 1000 Mb/s, full duplex
BMSR_CAPABLE = 0x7949  # 100/10 full/half, extended status, autoneg, extended caps
BMSR_ANEGCOMPLETE = 0x0020
BMSR_LSTATUS = 0x0004
ADVERTISE_DEFAULT = 0x01E1  # 100/10 full/half, 802.3
CTRL1000_DEFAULT = 0x0300  # 1000 full/half
ESTATUS_1000 = 0x3000
LPA_ACK = 0x4000
LPA_BY_MODE = {
    (100, True): 0x0100,
    (100, False): 0x0080,
    (10, True): 0x0040,
    (10, False): 0x0020,
}
STAT1000_LOCAL_REMOTE_OK = 0x3000
STAT1000_LP_1000FULL = 0x0800


class Phy:
    """PHY registers behind PHYAR. `link` reads the link from the chip's PHYstatus."""

    def __init__(self, link: Callable[[], LinkState]) -> None:
        self._link = link
        self.pages: dict[int, dict[int, int]] = {}
        self.page = 0
        self.reset()

    def reset(self) -> None:
        self.page = 0
        self.pages = {
            0: {
                BMCR: BMCR_DEFAULT,
                ADVERTISE: ADVERTISE_DEFAULT,
                CTRL1000: CTRL1000_DEFAULT,
            }
        }

    def read(self, reg: int) -> int:
        reg &= 0x1F
        if reg == PAGE_SELECT:
            return self.page
        if self.page != 0:
            return self.pages.get(self.page, {}).get(reg, 0)
        standard = self.pages[0]
        if reg == BMSR:
            return BMSR_CAPABLE | (BMSR_LSTATUS | BMSR_ANEGCOMPLETE if self.link_up() else 0)
        if reg == PHYSID1:
            return PHY_ID >> 16
        if reg == PHYSID2:
            return PHY_ID & 0xFFFF
        if reg == LPA:
            return self._partner_lpa()
        if reg == STAT1000:
            return self._partner_1000()
        if reg == ESTATUS:
            return ESTATUS_1000
        return standard.get(reg, 0)

    def write(self, reg: int, value: int) -> None:
        reg &= 0x1F
        value &= 0xFFFF
        if reg == PAGE_SELECT:
            self.page = value
            return
        if self.page == 0 and reg == BMCR:
            if value & BMCR_RESET:
                self.reset()
                value &= ~BMCR_RESET
            value &= ~BMCR_ANRESTART  # autonegotiation "completes" at once
        self.pages.setdefault(self.page, {})[reg] = value

    def link_up(self) -> bool:
        powered = not self.pages[0].get(BMCR, 0) & BMCR_PDOWN
        return powered and self._link().up

    def _partner_lpa(self) -> int:
        state = self._link()
        if not self.link_up():
            return 0
        if state.speed == 1000:
            return LPA_ACK | 0x01E1  # a gigabit partner advertises everything
        return LPA_ACK | 0x0001 | LPA_BY_MODE.get((state.speed or 10, state.full_duplex), 0)

    def _partner_1000(self) -> int:
        if not self.link_up() or self._link().speed != 1000:
            return 0
        return STAT1000_LOCAL_REMOTE_OK | STAT1000_LP_1000FULL
