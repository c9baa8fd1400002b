"""Two FPGAs that stream reports to uh_fpga and take commands: the ICD, registers and model."""

from __future__ import annotations
