"""The Realtek RTL8111 (RTL8168) gigabit Ethernet controller, as far as its link goes."""

from __future__ import annotations

from .model import FlapResult, LinkState, Rtl8111
from .regs import RTL8111, ChipCmd, Intr, PhyStatus

__all__ = ["RTL8111", "ChipCmd", "FlapResult", "Intr", "LinkState", "PhyStatus", "Rtl8111"]
