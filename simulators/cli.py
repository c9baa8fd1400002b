"""`sim`: drive a simulated device from the host while its driver runs in a UML guest.

Every registered device (entry-point group `umlharness.devices`, see
simulators/devices.py) adds its commands; this project's are

    sim link up|down|toggle|status|flap ...   the RTL8111 (simulators/rtl8111/cli.py)
    sim regs dump                              its registers
    sim fpga stream|serve|inject|status ...    the FPGAs (simulators/fpga/cli.py)
    sim thermo set CELSIUS | status            the sensor (simulators/thermo/cli.py)

and `sim devices` lists what is registered. Without options a command's
device is the region its driver declares of the only running instance, or
its PCI device when the instance has no such region. Errors print as one
line, `sim: error: ...`, with exit status 2.
"""

from __future__ import annotations

import click

from umlharness_shared.cli import run_cli

from .devices import devices


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
        return self._loaded().get(cmd_name)


@click.group(cls=DeviceCommands, context_settings={"help_option_names": ["-h", "--help"]})
def sim() -> None:
    """Simulate devices for drivers running in UML guests."""


@sim.command("devices")
def list_devices() -> None:
    """List the registered devices: transports, iomem region, fixture."""
    for device in devices().values():
        region = f"region {device.region}" if device.region else "no region"
        fixture = f"fixture {device.name}" if device.fixture and device.model else "no fixture"
        click.echo(f"{device.name}: {', '.join(device.transports) or '-'}; {region}; {fixture}")


def main(argv: list[str] | None = None) -> None:
    run_cli(sim, "sim", argv)
