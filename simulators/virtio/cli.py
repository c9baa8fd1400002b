"""`sim i2c` and `sim gpio`: a running guest's I2C devices and GPIO lines from the host.

sim i2c list                          the devices on the guest's bus
sim i2c dump ADDRESS                  a device's registers
sim i2c call ADDRESS METHOD [ARG...]  call its model: `sim i2c call 0x48 set_temperature 85`
sim gpio get [LINE]                   lines as the guest sees them
sim gpio set LINE 0|1                 drive an input line, as a button or a chip would
sim gpio watch [--count N]            print the guest's output changes as they come
"""

from __future__ import annotations

import ast
import time
from typing import Any

import click

from ..errors import SimulatorError
from .remote import board_control, gpio_lines, i2c_device, i2c_specs
from .remote import gpio as gpio_controller

_UMID = click.option(
    "--umid",
    metavar="ID",
    help="The instance (default: $UMLHARNESS_UMID, else the only one running "
    "outside a pytest session).",
)


def _address(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise SimulatorError(f"{text!r} is not an I2C address (0x48, say)") from None


def _argument(text: str) -> Any:
    """A method argument as Python would read it (85, 0.5, 'x'); else the word itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


@click.group()
def i2c() -> None:
    """The guest's I2C devices (umlharness boot --i2c MODEL@ADDRESS)."""


@i2c.command("list")
@_UMID
def i2c_list(umid: str | None) -> None:
    """The devices on the guest's I2C bus: address, model, options, interrupt line."""
    specs = i2c_specs(umid)
    if not specs:
        click.echo("no I2C devices")
    for spec in specs:
        click.echo(str(spec))


@i2c.command("dump")
@click.argument("address")
@_UMID
def i2c_dump(address: str, umid: str | None) -> None:
    """The registers of the device at ADDRESS, decoded."""
    with i2c_device(board_control(umid), _address(address)) as model:
        click.echo(model.regs.dump())


@i2c.command("call")
@click.argument("address")
@click.argument("method")
@click.argument("args", nargs=-1)
@_UMID
def i2c_call(address: str, method: str, args: tuple[str, ...], umid: str | None) -> None:
    """Call METHOD of the model at ADDRESS with ARGS (Python literals), print what it returns."""
    with i2c_device(board_control(umid), _address(address)) as model:
        result = model.call(f"i2c.{_address(address):#04x}.{method}", *map(_argument, args))
    if result is not None:
        click.echo(result)


@click.group()
def gpio() -> None:
    """The guest's GPIO lines (umlharness boot --gpio LINES)."""


@gpio.command("get")
@click.argument("line", type=int, required=False)
@_UMID
def gpio_get(line: int | None, umid: str | None) -> None:
    """Each line (or LINE): direction, value, interrupt type, interrupts delivered."""
    lines = [line] if line is not None else range(gpio_lines(umid))
    with gpio_controller(board_control(umid)) as controller:
        for number in lines:
            state = controller.describe(number)
            click.echo(
                f"{state['line']}: {state['direction']} {state['value']} "
                f"irq {state['irq']} ({state['interrupts']} delivered)"
            )


@gpio.command("set")
@click.argument("line", type=int)
@click.argument("value", type=click.Choice(["0", "1"]))
@_UMID
def gpio_set(line: int, value: str, umid: str | None) -> None:
    """Drive input LINE to VALUE; the guest sees the level and any edge interrupt."""
    with gpio_controller(board_control(umid)) as controller:
        controller.set(line, int(value))


@gpio.command("watch")
@click.option("--count", type=click.IntRange(min=1), default=None, help="stop after N changes")
@click.option("--timeout", type=float, default=None, help="stop after SECONDS")
@_UMID
def gpio_watch(count: int | None, timeout: float | None, umid: str | None) -> None:
    """Print each change the guest makes to an output line: `LINE VALUE`."""
    seen = 0
    deadline = None if timeout is None else time.monotonic() + timeout
    with gpio_controller(board_control(umid)) as controller:
        since = time.monotonic()
        controller.changes(since)  # connected: changes from now on are seen
        click.echo("watching the guest's output lines (Ctrl-C stops)", err=True)
        while count is None or seen < count:
            wait = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
            if wait <= 0:
                break
            for change in controller.wait_change(since, wait):
                click.echo(f"{change.line} {change.value}")
                since = change.at
                seen += 1
