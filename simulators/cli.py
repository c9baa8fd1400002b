"""`sim`: drive a simulated device from the host while its driver runs in a UML guest.

Every registered device (entry-point group `umlharness.devices`, see
simulators/devices.py) adds its commands; this project's are

    sim link up|down|toggle|status|flap ...   the RTL8111 (simulators/rtl8111/cli.py)
    sim regs dump                              its registers
    sim fpga stream|serve|inject|status ...    the FPGAs (simulators/fpga/cli.py)
    sim thermo set CELSIUS | status            the sensor (simulators/thermo/cli.py)
    sim net send|expect|capture|status         packets to and from the guest's network
                                               card (simulators/net/cli.py)
    sim i2c list|dump|call, sim gpio get|set|watch
                                               I2C devices and GPIO lines (simulators/virtio/cli.py)

and `sim devices` lists what is registered; `sim header MODULE:ATTRIBUTE`
writes the C header of a register map of yours (simulators/cheader.py). Without options a command's
device is the region its driver declares of the only running instance, or
its PCI device when the instance has no such region. Errors print as one
line, `sim: error: ...`, with exit status 2.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any

import click

from umlharness_shared.cli import run_cli
from umlharness_shared.errors import HarnessError

from .cheader import CHeader, render
from .devices import devices, import_object
from .errors import ModelError, SimulatorError
from .net.cli import net
from .virtio.cli import gpio, i2c


class DeviceCommands(click.Group):
    """The `sim` group: its commands are those of every registered device, loaded
    when first asked for, so one broken device package fails only its own use."""

    def _loaded(self) -> dict[str, click.Command]:
        found = dict(self.commands)
        for device in devices().values():
            for command in device.load_commands():
                if command.name is not None:
                    found.setdefault(command.name, command)
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._loaded())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        # `sim header` and `sim devices` work while a device of one's own is half-written.
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        return self._loaded().get(cmd_name)


@click.group(cls=DeviceCommands, context_settings={"help_option_names": ["-h", "--help"]})
def sim() -> None:
    """Simulate devices for drivers running in UML guests."""


sim.add_command(net)
sim.add_command(i2c)
sim.add_command(gpio)


@sim.command("devices")
def list_devices() -> None:
    """List the registered devices: transports, iomem region, fixture."""
    for device in devices().values():
        region = f"region {device.region}" if device.region else "no region"
        fixture = f"fixture {device.name}" if device.fixture and device.model else "no fixture"
        click.echo(f"{device.name}: {', '.join(device.transports) or '-'}; {region}; {fixture}")


@sim.command("header")
@click.argument("where", metavar="MODULE:ATTRIBUTE")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="default: stdout"
)
@click.option("--prefix", default="", help="of the #define names (a register map only)")
@click.option("--title", help="what the header describes (a register map only)")
def header(where: str, output: Path | None, prefix: str, title: str | None) -> None:
    """Write the C header of MODULE:ATTRIBUTE: a CHeader, or a register map (a construct
    Struct) whose offsets and bit fields become #defines named PREFIX + name.

    MODULE is imported as Python would, from the current directory too.
    """
    # As `python -m` would: a module of the directory the command runs in is found.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    spec = header_spec(where, output, prefix, title)
    try:
        text = render(spec)
    except (TypeError, ValueError) as error:  # what the map or the spec gets wrong
        raise SimulatorError(f"{where}: {error}") from None
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text)
    except OSError as error:
        raise SimulatorError(f"cannot write {output}: {error.strerror}") from None
    click.echo(f"wrote {output}", err=True)


def header_spec(where: str, output: Path | None, prefix: str, title: str | None) -> CHeader:
    """The CHeader that `sim header` renders for WHERE."""
    module, colon, attribute = where.partition(":")
    if not (colon and module and attribute):
        raise SimulatorError(f"{where!r} is not MODULE:ATTRIBUTE (mysensor.regs:REGS, say)")
    found: Any = import_object(where, where)
    if isinstance(found, CHeader):
        return found
    # The header names the command that regenerates it, as it was given.
    command = ["sim", "header", where]
    command += ["--prefix", prefix] if prefix else []
    command += ["--title", title] if title is not None else []
    command += ["-o", str(output)] if output is not None else []
    return CHeader(
        path=str(output or f"{attribute.lower()}.h"),
        module=module,
        title=title or f"the registers of {where}",
        registers=found,
        prefix=prefix,
        command=shlex.join(command),
    )


def _traceback(error: HarnessError) -> str:
    """After `sim: error: ...`, the model's traceback when the model raised."""
    return error.traceback.rstrip() if isinstance(error, ModelError) else ""


def main(argv: list[str] | None = None) -> None:
    run_cli(sim, "sim", argv, details=_traceback)
