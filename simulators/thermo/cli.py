"""`sim thermo set CELSIUS | status`: the uh_thermo temperature sensor."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from ..cli_options import Where, target_options, timeout_option
from ..irq import DEFAULT_TIMEOUT
from .device import DEVICE
from .model import Thermo, ThermoState, celsius

options = target_options(DEVICE)


@contextmanager
def sensor(where: Where, timeout: float = DEFAULT_TIMEOUT) -> Iterator[Thermo]:
    """The thermo sensor the options name."""
    with where.open(DEVICE, timeout) as handle, handle.explain():
        yield handle.model


@click.group()
def thermo() -> None:
    """The uh_thermo temperature sensor: TEMP, THRESHOLD and the ALERT interrupt."""


# ignore_unknown_options lets a negative CELSIUS through as an argument.
@thermo.command(name="set", context_settings={"ignore_unknown_options": True})
@options
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
@options
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


COMMANDS = [thermo]
