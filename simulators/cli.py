"""`sim`: drive a simulated device from the host while its driver runs in a UML guest.

    sim link up|down|toggle|status [--umid ID | --iomem FILE --irq SOCKET] [--region NAME]
                                   [--pci SLOT]
    sim link flap --count N --interval MS
    sim regs dump
    sim fpga stream|serve|inject|status --fpga N   (simulators/fpga/cli.py)
    sim thermo set CELSIUS | status

Without options the device is the region its driver declares (`mock` for
the RTL8111, `thermo` for the sensor) of the only running instance; an
instance booted with `--pci rtl8111` and no such region has its PCI
RTL8111 driven instead, through its backend's control socket. Errors
print as one line, `sim: error: ...`, with exit status 2.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import click

from umlharness_shared.cli import run_cli

from .attach import DEFAULT_REGION, Attached, attach, pci_control
from .errors import SimulatorError
from .fpga.cli import fpga
from .irq import DEFAULT_TIMEOUT
from .pci.control import RemoteModel
from .rtl8111.model import FlapResult, LinkState, Rtl8111
from .rtl8111.regs import RTL8111, SPEED_BITS
from .thermo.model import Thermo, ThermoState, celsius
from .thermo.regs import THERMO

THERMO_REGION = "thermo"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Where:
    """The target options as given, before they are resolved to files."""

    umid: str | None
    iomem: Path | None
    irq: Path | None
    region: str | None
    default_region: str = DEFAULT_REGION
    pci: str | None = None

    def pci_control(self, model: str) -> Path | None:
        """The control socket of the PCI `model` meant, or None for the iomem transport."""
        if self.iomem is not None or self.irq is not None:
            if self.pci is not None:
                raise SimulatorError("--pci SLOT and --iomem/--irq name different devices")
            return None
        return pci_control(self.umid, self.pci, model, self.region, self.default_region)

    def attach(self, layout: Any, device: str) -> Attached:
        return attach(
            layout,
            umid=self.umid,
            iomem=self.iomem,
            irq=self.irq,
            region=self.region,
            default_region=self.default_region,
            device=device,
        )


def target_options(func: F) -> F:
    """--umid/--iomem/--irq/--region for the RTL8111 (region `mock`)."""
    return _target_options(func, DEFAULT_REGION)


def thermo_target_options(func: F) -> F:
    """--umid/--iomem/--irq/--region for the thermo sensor (region `thermo`)."""
    return _target_options(func, THERMO_REGION)


def _target_options(func: F, default_region: str) -> F:
    """--umid/--iomem/--irq/--region, handed to the command as one `where` argument."""

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        umid: str | None,
        iomem: Path | None,
        irq: Path | None,
        region: str | None,
        pci: str | None = None,
        **kwargs: Any,
    ) -> Any:
        where = Where(umid, iomem, irq, region, default_region, pci)
        return func(*args, where=where, **kwargs)

    options = [
        click.option("--umid", metavar="ID", help="The instance (default: the only running one)."),
        click.option(
            "--iomem",
            type=click.Path(path_type=Path, dir_okay=False),
            metavar="FILE",
            help="The device's iomem file, bypassing the instance registry.",
        ),
        click.option(
            "--irq",
            type=click.Path(path_type=Path, dir_okay=False),
            metavar="SOCKET",
            help="The driver's interrupt socket (with --iomem).",
        ),
        click.option(
            "--region",
            metavar="NAME",
            help=f"The instance's iomem region (default: {default_region}).",
        ),
    ]
    if default_region == DEFAULT_REGION:
        options.append(
            click.option(
                "--pci",
                metavar="SLOT",
                help="The instance's PCI RTL8111 (pci0, ...; default: the only one, "
                f"when there is no iomem region {default_region}).",
            )
        )
    decorated: Callable[..., Any] = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return cast(F, decorated)


def timeout_option(func: F) -> F:
    return click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=DEFAULT_TIMEOUT,
        show_default=True,
        metavar="SECONDS",
        help="Seconds to wait for the driver to acknowledge an interrupt.",
    )(func)


class Nic(Protocol):
    """What the link commands use of an RTL8111: here (iomem) or in a PCI backend."""

    def link_state(self) -> LinkState: ...
    def link_up(self, speed: int = 1000, full_duplex: bool = True) -> float: ...
    def link_down(self) -> float: ...
    def flap(self, count: int, interval_s: float) -> FlapResult: ...


@contextmanager
def nic(where: Where, timeout: float = DEFAULT_TIMEOUT, *, irq: bool = True) -> Iterator[Nic]:
    """The RTL8111 the options name; `irq` if the command raises interrupts."""
    control = where.pci_control("rtl8111")
    if control is not None:
        with RemoteModel(control, prefix="nic.") as remote:
            remote.set_ack_timeout(timeout)
            yield cast(Nic, remote)
        return
    with where.attach(RTL8111, "RTL8111") as device, device.watch.explain():
        if irq and device.irq is None:
            raise SimulatorError("--iomem FILE needs --irq SOCKET to raise interrupts")
        yield Rtl8111(device.regs, device.irq, ack_timeout=timeout)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def sim() -> None:
    """Simulate devices for drivers running in UML guests."""


@sim.group()
def link() -> None:
    """The RTL8111's link: PHYstatus and the link-change interrupt."""


def announce(up: bool) -> None:
    # The wording of the original pci-mock transcript, which tests may grep for.
    click.echo(f"Changing Link Status to {'UP' if up else 'DOWN'}")


@link.command()
@target_options
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
@target_options
@timeout_option
def down(where: Where, timeout: float) -> None:
    """Take the link down and raise LinkChg."""
    with nic(where, timeout) as device:
        announce(False)
        device.link_down()


@link.command()
@target_options
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
@target_options
def status(where: Where) -> None:
    """Print the link state, speed and duplex that PHYstatus reports."""
    with nic(where, irq=False) as device:
        state = device.link_state()
    click.echo(f"Link: {'UP' if state.up else 'DOWN'}")
    click.echo(f"Speed: {f'{state.speed} Mb/s' if state.up and state.speed else '-'}")
    click.echo(f"Duplex: {('full' if state.full_duplex else 'half') if state.up else '-'}")


@link.command()
@target_options
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


@sim.group()
def regs() -> None:
    """The RTL8111's registers."""


@regs.command()
@target_options
def dump(where: Where) -> None:
    """Print the register map, decoded."""
    control = where.pci_control("rtl8111")
    if control is not None:
        with RemoteModel(control, prefix="nic.") as remote:
            click.echo(remote.regs.dump())
        return
    with where.attach(RTL8111, "RTL8111") as device:
        click.echo(device.regs.dump())


@contextmanager
def sensor(where: Where, timeout: float = DEFAULT_TIMEOUT) -> Iterator[Thermo]:
    """The thermo sensor the options name."""
    with where.attach(THERMO, "thermo") as device, device.watch.explain():
        yield Thermo(device.regs, device.irq, ack_timeout=timeout)


@sim.group()
def thermo() -> None:
    """The uh_thermo temperature sensor: TEMP, THRESHOLD and the ALERT interrupt."""


# ignore_unknown_options lets a negative CELSIUS through as an argument.
@thermo.command(name="set", context_settings={"ignore_unknown_options": True})
@thermo_target_options
@timeout_option
@click.argument("degrees", metavar="CELSIUS", type=float)
def set_temperature(where: Where, timeout: float, degrees: float) -> None:
    """Reset the sensor's ID and measure CELSIUS degrees.

    A reading that rises above the threshold raises the ALERT interrupt and
    waits for the driver to acknowledge it.
    """
    with sensor(where, timeout) as device:
        device.reset()
        alerted = device.set_temperature(degrees)
        click.echo(describe_reading(device.state(), alerted))


def describe_reading(state: ThermoState, alerted: bool) -> str:
    assert state.temperature is not None  # a reading was just made
    reading, limit = celsius(state.temperature), celsius(state.threshold)
    if state.temperature <= state.threshold:
        return f"Temperature {reading} C, threshold {limit} C"
    if alerted:
        return f"Temperature {reading} C, over {limit} C: alert acknowledged by the driver"
    if not state.alert_enabled:
        return f"Temperature {reading} C, over {limit} C: no alert, ALERT_IE is off"
    return f"Temperature {reading} C, over {limit} C: no new alert, it was over already"


@thermo.command(name="status")
@thermo_target_options
def thermo_status(where: Where) -> None:
    """Print the reading, the threshold and the alert state the registers hold."""
    with sensor(where) as device:
        state = device.state()
    temperature = "-" if state.temperature is None else f"{celsius(state.temperature)} C"
    click.echo(f"ID: {state.device_id:#010x}")
    click.echo(f"Sensor: {'on' if state.enabled else 'off'}")
    click.echo(f"Alert interrupt: {'enabled' if state.alert_enabled else 'disabled'}")
    click.echo(f"Temperature: {temperature}")
    click.echo(f"Threshold: {celsius(state.threshold)} C")
    click.echo(f"Alert pending: {'yes' if state.alert else 'no'}")


sim.add_command(fpga)  # simulators/fpga/cli.py: stream, serve, inject, status


def main(argv: list[str] | None = None) -> None:
    run_cli(sim, "sim", argv)
