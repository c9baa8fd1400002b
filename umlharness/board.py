"""I2C and GPIO devices of an instance: one board process serving them, and the devicetree.

`--i2c lm75@0x48 --i2c opt3001@0x44,irq=gpio0:3 --gpio 8` gives the guest a
virtio-i2c adapter with those clients and a virtio-gpio controller of 8
lines, served by `python -m simulators.virtio` (simulators/virtio/board.py)
and placed by a devicetree (devicetree.py) that UML reads with `dtb=`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from simulators.errors import SimulatorError
from simulators.virtio.board import (
    BOARD_MODEL,
    BOARD_SLOT,
    DEFAULT_GPIO_LINES,
    I2cSpec,
    check_layout,
    model_class,
)
from simulators.virtio.gpio import MAX_LINES
from umlharness_shared.registry import PciRecord, backend_needle
from umlharness_shared.sockets import check_socket_path

from .attachments import BackendAttachment
from .backend_process import BackendDied, BackendFailed, BackendProcess, ModelRaised
from .devicetree import write_board_tree
from .errors import HarnessError
from .paths import private_copy


class BoardDied(BackendDied):
    """The I2C/GPIO backend ended while the guest was using its devices."""


class I2cModelError(ModelRaised):
    """An I2C model raised while it served the driver."""


class BoardFailed(BackendFailed):
    """The I2C/GPIO backend could not start: a model refused its options or raised."""


@dataclass(frozen=True)
class BoardSpec:
    """The `--i2c` devices and `--gpio` lines of a boot, checked."""

    i2c: tuple[I2cSpec, ...] = ()
    #: Lines of the GPIO controller; 0: none.
    gpio: int = 0

    @classmethod
    def parse(cls, i2c: Sequence[str], gpio: int | None) -> BoardSpec:
        """From the command line's words: bad input is one HarnessError line."""
        specs = []
        for text in i2c:
            try:
                spec = I2cSpec.parse(text)
                model_class(spec)
            except SimulatorError as error:
                raise HarnessError(f"--i2c {text}: {error}") from None
            specs.append(spec)
        wired = any(spec.irq_line is not None for spec in specs)
        lines = gpio if gpio is not None else (DEFAULT_GPIO_LINES if wired else 0)
        if not 0 <= lines <= MAX_LINES:
            raise HarnessError(f"--gpio {lines}: a controller has 1 to {MAX_LINES} lines")
        try:
            check_layout(specs, lines)
        except SimulatorError as error:
            raise HarnessError(str(error)) from None
        return cls(tuple(specs), lines)

    def __bool__(self) -> bool:
        return bool(self.i2c) or self.gpio > 0

    @property
    def options(self) -> dict[str, str]:
        """For the instance record: what `sim` and fixtures look the devices up by."""
        return {"i2c": " ".join(str(spec) for spec in self.i2c), "gpio": str(self.gpio)}


class BoardBackend(BackendProcess):
    died_error_class = BoardDied
    failed_error_class = BoardFailed

    def __init__(self, spec: BoardSpec, directory: Path) -> None:
        options = [f"--i2c {s}" for s in spec.i2c] + ([f"--gpio {spec.gpio}"] if spec.gpio else [])
        super().__init__(
            f"I2C/GPIO backend ({' '.join(options)})", " ".join(options), directory / "board.log"
        )
        self.spec = spec
        self.directory = directory
        self.control = directory / f"{BOARD_SLOT}.sock"
        for name in ("i2c0.sock", "gpio0.sock", self.control.name):
            check_socket_path(directory / name, "I2C/GPIO socket")

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "simulators.virtio", "--dir", str(self.directory)]
        for spec in self.spec.i2c:
            command += ["--i2c", str(spec)]
        return [*command, "--gpio", str(self.spec.gpio), "--control", str(self.control)]

    @property
    def record(self) -> PciRecord:
        return PciRecord(BOARD_SLOT, BOARD_MODEL, self.spec.options, self.control, self.process)


class VirtioBoard(BackendAttachment):
    """The attachment (umlharness/attachments.py) of a boot's I2C and GPIO devices."""

    backend: BoardBackend

    def __init__(self, spec: BoardSpec, directory: Path) -> None:
        backend = BoardBackend(spec, directory)
        super().__init__(backend, backend_needle(directory, BOARD_SLOT))
        self.spec = spec
        self.dtb: Path | None = None

    def start(self, directory: Path) -> None:
        self.dtb = write_board_tree(list(self.spec.i2c), self.spec.gpio, directory)
        super().start(directory)

    def kernel_args(self) -> list[str]:
        assert self.dtb is not None, "started"
        return [f"dtb={self.dtb}"]

    def model_raised(self, error: str) -> ModelRaised:
        return I2cModelError(f"{error}; its traceback is in {self.backend.log}")

    def keep(self, target: Path, moved: bool) -> None:
        super().keep(target, moved)
        if self.dtb is not None and self.dtb.with_suffix(".dts").exists():
            private_copy(self.dtb.with_suffix(".dts"), target / "board.dts")

    @property
    def record(self) -> PciRecord:
        return self.backend.record
