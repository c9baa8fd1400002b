"""`sim link ...` and `sim regs dump`: the RTL8111's link and registers, over iomem or PCI.

sim link up|down|toggle|status [--umid ID | --iomem FILE --irq SOCKET] [--region NAME]
                               [--pci SLOT]
sim link flap --count N --interval MS
sim regs dump
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from ..cli_options import Where, target_options, timeout_option
from ..errors import SimulatorError
from ..irq import DEFAULT_TIMEOUT
from .device import DEVICE
from .model import Rtl8111
from .regs import SPEED_BITS

options = target_options(DEVICE)


@contextmanager
def nic(where: Where, timeout: float = DEFAULT_TIMEOUT, *, irq: bool = True) -> Iterator[Rtl8111]:
    """The RTL8111 the options name; `irq` if the command raises interrupts."""
    with where.open(DEVICE, timeout) as handle, handle.explain():
        if irq and not handle.interrupts:
            raise SimulatorError("--iomem FILE needs --irq SOCKET to raise interrupts")
        yield handle.model


@click.group()
def link() -> None:
    """The RTL8111's link: PHYstatus and the link-change interrupt."""


def announce(up: bool) -> None:
    # The wording of the original pci-mock transcript, which tests may grep for.
    click.echo(f"Changing Link Status to {'UP' if up else 'DOWN'}")


@link.command()
@options
@timeout_option
@click.option(
    "--speed",
    type=click.Choice([str(speed) for speed in SPEED_BITS]),
    default="1000",
    show_default=True,
    help="Link speed in Mb/s.",
)
@click.option("--half-duplex", is_flag=True, help="Half duplex (10 and 100 Mb/s only).")
def up(where: Where, timeout: float, speed: str, half_duplex: bool) -> None:
    """Bring the link up and raise LinkChg."""
    with nic(where, timeout) as device:
        announce(True)
        device.link_up(int(speed), full_duplex=not half_duplex)


@link.command()
@options
@timeout_option
def down(where: Where, timeout: float) -> None:
    """Take the link down and raise LinkChg."""
    with nic(where, timeout) as device:
        announce(False)
        device.link_down()


@link.command()
@options
@timeout_option
def toggle(where: Where, timeout: float) -> None:
    """Flip the link (up means 1000 Mb/s full duplex) and raise LinkChg."""
    with nic(where, timeout) as device:
        going_up = not device.link_state().up
        announce(going_up)
        if going_up:
            device.link_up()
        else:
            device.link_down()


@link.command()
@options
def status(where: Where) -> None:
    """Print the link state, speed and duplex that PHYstatus reports."""
    with nic(where, irq=False) as device:
        state = device.link_state()
    click.echo(f"Link: {'UP' if state.up else 'DOWN'}")
    click.echo(f"Speed: {f'{state.speed} Mb/s' if state.up and state.speed else '-'}")
    click.echo(f"Duplex: {('full' if state.full_duplex else 'half') if state.up else '-'}")


@link.command()
@options
@timeout_option
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    metavar="N",
    help="Link changes.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0),
    default=100.0,
    show_default=True,
    metavar="MS",
    help="Milliseconds between changes; 0 sends them without waiting for each acknowledgement.",
)
def flap(where: Where, timeout: float, count: int, interval: float) -> None:
    """Toggle the link N times; the driver ends up with the final state."""
    with nic(where, timeout) as device:
        result = device.flap(count, interval / 1000)
    click.echo(
        f"Changed the link {result.changes} times in {result.seconds:.3f}s; "
        f"it is {'UP' if result.up else 'DOWN'}"
    )


@click.group()
def regs() -> None:
    """The RTL8111's registers."""


@regs.command()
@options
def dump(where: Where) -> None:
    """Print the register map, decoded."""
    with nic(where, irq=False) as device:
        click.echo(device.regs.dump())


COMMANDS = [link, regs]
