"""`sim gpio8 set PIN LEVEL | pins MASK | show`: the gpio8 controller of a running guest."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from simulators.cli_options import Where, target_options, timeout_option
from simulators.irq import DEFAULT_TIMEOUT

from .device import DEVICE
from .model import Gpio8, Gpio8State
from .regs import PINS

# --umid, --iomem, --irq, --region: which guest's controller (default: the only one).
options = target_options(DEVICE)


@contextmanager
def controller(where: Where, timeout: float = DEFAULT_TIMEOUT) -> Iterator[Gpio8]:
    """The gpio8 controller the options name, reset (its ID set)."""
    with where.open(DEVICE, timeout) as handle, handle.explain():
        handle.model.reset()
        yield handle.model


def describe(state: Gpio8State, interrupted: bool) -> str:
    if interrupted:
        return f"pins {state.pins:#04x}: change interrupt acknowledged by the driver"
    return f"pins {state.pins:#04x}: no interrupt (IE {state.enabled:#04x})"


def pin_mask(text: str) -> int:
    """0xa5, 0b10100101 or 165: bit n is pin n (click reports the ValueError)."""
    mask = int(text, 0)
    if not 0 <= mask < 1 << PINS:
        raise ValueError(f"{text} is not a mask of {PINS} pins")
    return mask


@click.group()
def gpio8() -> None:
    """The gpio8 input controller: pin levels and the change interrupt."""


@gpio8.command(name="set")
@options
@timeout_option
@click.argument("pin", type=click.IntRange(0, PINS - 1))
@click.argument("level", type=click.IntRange(0, 1))
def set_pin(where: Where, timeout: float, pin: int, level: int) -> None:
    """Drive PIN (0-7) to LEVEL (0 or 1).

    A change of a pin whose interrupt the driver enabled raises the change
    interrupt and waits for the driver to acknowledge it.
    """
    with controller(where, timeout) as device:
        interrupted = device.set_pin(pin, level)
        click.echo(describe(device.state(), interrupted))


@gpio8.command(name="pins")
@options
@timeout_option
@click.argument("mask", type=pin_mask, metavar="MASK")
def set_pins(where: Where, timeout: float, mask: int) -> None:
    """Drive all pins at once: bit n of MASK (0xa5, say) is pin n's level."""
    with controller(where, timeout) as device:
        interrupted = device.set_pins(mask)
        click.echo(describe(device.state(), interrupted))


@gpio8.command(name="show")
@options
def show(where: Where) -> None:
    """Print the pins, the interrupt enable mask and the unacknowledged changes."""
    with where.open(DEVICE) as handle, handle.explain():
        state = handle.model.state()
    click.echo(f"ID: {state.device_id:#010x}")
    click.echo(f"Pins: {state.pins:#04x} ({state.pins:08b})")
    click.echo(f"Interrupt enable: {state.enabled:#04x}")
    click.echo(f"Changed, not acknowledged: {state.changed:#04x}")


COMMANDS = [gpio8]
