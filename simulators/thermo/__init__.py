"""uh_thermo: a temperature sensor with a threshold alert, the tutorial's example device."""

from __future__ import annotations

from .model import Thermo, ThermoState, celsius
from .regs import THERMO, THERMO_ID, Ctrl, Status

__all__ = ["THERMO", "THERMO_ID", "Ctrl", "Status", "Thermo", "ThermoState", "celsius"]
