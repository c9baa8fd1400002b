"""The I2C and GPIO devices of one guest, served by one process (`python -m simulators.virtio`).

One virtio-i2c adapter (`i2c0`) holds every I2C model, at its address; one
virtio-gpio controller (`gpio0`) has the lines. A model's interrupt pin is
wired to a line (`irq=gpio0:N`) in the same process, so a chip raising its
alert reaches the guest without a round trip through the harness. All of
it runs under one lock: the guest's messages, the models' own threads and
the calls of tests through the control socket.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from ..devices import devices, import_object
from ..errors import ModelFailed, SimulatorError
from ..i2c.model import I2cModel
from ..pci.models import parse_spec
from .gpio import VirtioGpio
from .i2c import VirtioI2c
from .server import VhostUserServer, stderr_log

#: What `--i2c` takes besides a model's own options: where its interrupt pin goes.
IRQ_OPTION = "irq"
GPIO_CONTROLLER = "gpio0"
I2C_ADAPTER = "i2c0"
#: I2C addresses a 7-bit client may have: 0x00-0x07 and 0x78-0x7f are reserved.
FIRST_ADDRESS = 0x08
LAST_ADDRESS = 0x77
DEFAULT_GPIO_LINES = 8
#: The board's name in the instance record; its control socket is `board.sock`.
BOARD_SLOT = "board"
BOARD_MODEL = "virtio-board"


@dataclass(frozen=True)
class I2cSpec:
    """One `--i2c MODEL@ADDRESS[,key=value...]`: a model at an address, its interrupt's line."""

    model: str
    address: int
    options: tuple[tuple[str, str], ...] = ()
    irq_line: int | None = None

    @classmethod
    def parse(cls, text: str) -> I2cSpec:
        head, options = parse_spec(text)
        model, at, where = head.partition("@")
        model = model.strip()
        if not at or not model:
            raise SimulatorError(f"{text!r}: give MODEL@ADDRESS, e.g. lm75@0x48")
        try:
            address = int(where, 0)
        except ValueError:
            raise SimulatorError(f"{text!r}: address {where!r} is not a number") from None
        if not FIRST_ADDRESS <= address <= LAST_ADDRESS:
            raise SimulatorError(
                f"{text!r}: a 7-bit I2C address is {FIRST_ADDRESS:#04x} to {LAST_ADDRESS:#04x}"
            )
        wired = options.pop(IRQ_OPTION, None)
        irq_line = None if wired is None else _parse_line(text, wired)
        return cls(model, address, tuple(options.items()), irq_line)

    def __str__(self) -> str:
        parts = [f"{self.model}@{self.address:#04x}"]
        parts += [f"{key}={value}" for key, value in self.options]
        if self.irq_line is not None:
            parts.append(f"{IRQ_OPTION}={GPIO_CONTROLLER}:{self.irq_line}")
        return ",".join(parts)


def _parse_line(text: str, value: str) -> int:
    controller, sep, line = value.partition(":")
    if not sep or controller != GPIO_CONTROLLER or not line.isdigit():
        raise SimulatorError(f"{text!r}: irq={value}: give irq={GPIO_CONTROLLER}:LINE")
    return int(line)


def i2c_models() -> dict[str, str]:
    """Model name -> "module:Class" of every registered device an I2C bus can serve."""
    return {d.name: d.i2c_model for d in devices().values() if d.i2c_model}


def model_class(spec: I2cSpec) -> type[I2cModel]:
    """The class `spec` names, once it is known to take its options; nothing is built."""
    known = i2c_models()
    where = known.get(spec.model) or (spec.model if ":" in spec.model else None)
    if where is None:
        raise SimulatorError(
            f"no I2C model {spec.model!r}; models: {', '.join(sorted(known)) or 'none'}, "
            "or your own as package.module:Class"
        )
    found = import_object(where, f"I2C model {spec.model}")
    if not (isinstance(found, type) and issubclass(found, I2cModel)):
        raise SimulatorError(f"I2C model {spec.model}: not an I2cModel subclass")
    if not found.compatible:
        raise SimulatorError(
            f"I2C model {spec.model}: its class names no `compatible` for the devicetree "
            '(e.g. compatible = "national,lm75", what its driver matches)'
        )
    # I2cModel takes its options as **options, checked against option_defaults.
    parameters = inspect.signature(found).parameters
    accepted = sorted(
        {*found.option_defaults, *(p for p, v in parameters.items() if v.kind != v.VAR_KEYWORD)}
    )
    unknown = sorted({key for key, _ in spec.options} - set(accepted))
    if unknown:
        have = ", ".join(accepted) or "none"
        raise SimulatorError(
            f"{spec.model}: unknown option {', '.join(unknown)} (options: {have}, {IRQ_OPTION})"
        )
    return found


def check_layout(specs: list[I2cSpec], gpio_lines: int) -> None:
    """One device per address, one pin per line, every line on the controller."""
    seen: dict[int, I2cSpec] = {}
    wired: dict[int, I2cSpec] = {}
    for spec in specs:
        if spec.address in seen:
            raise SimulatorError(
                f"--i2c {spec} and --i2c {seen[spec.address]}: two devices at {spec.address:#04x}"
            )
        seen[spec.address] = spec
        if spec.irq_line is None:
            continue
        if spec.irq_line >= gpio_lines:
            raise SimulatorError(
                f"--i2c {spec}: {GPIO_CONTROLLER} has lines 0 to {gpio_lines - 1} (--gpio N)"
            )
        if spec.irq_line in wired:
            raise SimulatorError(
                f"--i2c {spec} and --i2c {wired[spec.irq_line]}: "
                f"both wired to {GPIO_CONTROLLER}:{spec.irq_line}"
            )
        wired[spec.irq_line] = spec


class Board:
    """The models and the two virtio devices serving them, sockets in `directory`."""

    def __init__(
        self,
        directory: Path,
        i2c: list[I2cSpec],
        gpio_lines: int,
        log: Callable[[str], None] = stderr_log,
    ) -> None:
        check_layout(i2c, gpio_lines)
        self.lock = threading.RLock()
        self.log = log
        self.models: dict[int, I2cModel] = {}
        for spec in i2c:
            cls = model_class(spec)
            try:
                model = cls(**dict(spec.options))
            except SimulatorError:
                raise
            except Exception as error:
                raise ModelFailed(f"I2C model {spec}", error) from error
            # One lock for the board: a model's pin reaches the controller under it.
            model.regs.lock = self.lock
            self.models[spec.address] = model
        self.servers: list[VhostUserServer] = []
        self.gpio: VirtioGpio | None = None
        self.i2c: VirtioI2c | None = None
        if gpio_lines:
            self.gpio = VirtioGpio(
                directory / f"{GPIO_CONTROLLER}.sock", gpio_lines, lock=self.lock, log=log
            )
            self.servers.append(self.gpio)
            for spec in i2c:
                if spec.irq_line is not None:
                    self.models[spec.address].irq_pin = self.gpio.pin(spec.irq_line)
        if i2c:
            self.i2c = VirtioI2c(
                directory / f"{I2C_ADAPTER}.sock", self.models, lock=self.lock, log=log
            )
            self.servers.append(self.i2c)

    def device(self, address: int) -> I2cModel:
        """The model at `address` (what `open_model` reaches through the control socket)."""
        try:
            return self.models[address]
        except KeyError:
            have = ", ".join(f"{a:#04x}" for a in sorted(self.models)) or "none"
            raise SimulatorError(f"no I2C device at {address:#04x} (devices at: {have})") from None

    def serve(self, accept_timeout: float) -> None:
        """Serve every device until UML disconnects from all of them."""
        errors: list[BaseException] = []

        def run(server: VhostUserServer) -> None:
            try:
                server.accept(accept_timeout)
                server.serve()
            except BaseException as error:
                errors.append(error)

        threads = [
            threading.Thread(target=run, args=(server,), name=server.kind, daemon=True)
            for server in self.servers
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    def close(self) -> None:
        for model in self.models.values():
            model.stop_threads()
        for server in self.servers:
            server.close()


def call_target(board: Board) -> Mapping[str, Any]:
    """What the control socket's paths start from: `i2c.0x48.set_temperature`, `gpio.set`."""
    return cast(Mapping[str, Any], {"i2c": _Addresses(board), "gpio": board.gpio})


class _Addresses:
    """`i2c.0x48` in a control path: the model at that address."""

    def __init__(self, board: Board) -> None:
        self._board = board

    def __getitem__(self, key: str) -> I2cModel:
        try:
            address = int(key, 0)
        except ValueError:
            raise SimulatorError(f"{key!r} is not an I2C address") from None
        return self._board.device(address)
