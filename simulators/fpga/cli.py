"""`sim fpga ...`: run a simulated FPGA for uh_fpga in a UML guest.

    sim fpga stream --fpga N --rate R --count C [--type T] [--size B] [--linger S]
    sim fpga serve --fpga N [--duration S]      # answer commands; stream after START
    sim fpga inject FILE --fpga N [--wait]      # raw bytes into the report ring
    sim fpga status --fpga N

The device is region fpgaN of the only running instance, or of --umid ID,
or the explicit --iomem FILE (with --irq SOCKET for interrupts). Whatever
waits stops, with an error, once the guest has gone (or, with --irq, the
driver's socket): simulators/peer.py.
"""

from __future__ import annotations

import functools
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from ..cli_options import instance_options, seconds_option
from ..errors import SimulatorError
from . import icd
from .device import MAX_FPGAS, open_fpga
from .doorbell import doorbell_path, in_use
from .stream import DEFAULT_RATE, DEFAULT_SIZE, MAX_SIZE, MIN_SIZE, STREAM_TYPES, StreamConfig

F = TypeVar("F", bound=Callable[..., Any])


def device_options(func: F) -> F:
    """--fpga/--umid/--iomem/--irq."""
    options = [
        click.option(
            "--fpga",
            "index",
            type=click.IntRange(0, MAX_FPGAS - 1),
            default=0,
            show_default=True,
            metavar="N",
            help="The FPGA: iomem region fpgaN.",
        ),
        *instance_options(
            "The driver's interrupt socket (with --iomem); the doorbell is SOCKET-doorbell."
        ),
    ]
    decorated: Callable[..., Any] = func
    for option in reversed(options):
        decorated = option(decorated)
    return cast(F, decorated)


def stream_options(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, report_type: str, size: int, rate: int, **kwargs: Any) -> Any:
        config = StreamConfig(icd.ReportType[report_type], size, rate)
        config.check()
        return func(*args, config=config, **kwargs)

    options = [
        click.option(
            "--rate",
            type=click.IntRange(min=0),
            default=DEFAULT_RATE,
            show_default=True,
            metavar="R",
            help="Reports per second; 0: as fast as the reader frees ring space (never drops).",
        ),
        click.option(
            "--type",
            "report_type",
            type=click.Choice([t.name for t in STREAM_TYPES], case_sensitive=False),
            default="SAMPLES",
            show_default=True,
            callback=lambda _ctx, _param, value: value.upper(),
        ),
        click.option(
            "--size",
            type=click.IntRange(MIN_SIZE, MAX_SIZE),
            default=DEFAULT_SIZE,
            show_default=True,
            metavar="BYTES",
            help="Bytes per report, header included (STATUS reports are always 60).",
        ),
    ]
    decorated: Callable[..., Any] = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return cast(F, decorated)


@contextmanager
def stopped_by_signals() -> Iterator[None]:
    """SIGTERM stops a simulator as Ctrl-C does: it prints its summary and removes its doorbell."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.group()
def fpga() -> None:
    """The FPGAs of uh_fpga: report streams, commands, malformed input."""


@fpga.command()
@device_options
@stream_options
@click.option(
    "--count",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    metavar="C",
    help="Reports to stream (written or, if the ring is full, dropped).",
)
@click.option(
    "--linger",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="Keep answering commands this long after the last report.",
)
@click.option(
    "--status-period",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="Also send a STATUS report every N reports.",
)
def stream(
    index: int,
    umid: str | None,
    iomem: Path | None,
    irq: Path | None,
    config: StreamConfig,
    count: int,
    linger: float,
    status_period: int,
) -> None:
    """Stream C reports at R/s, answering commands meanwhile; waits for a reader to open."""
    config.status_period = status_period
    with open_fpga(index, umid=umid, iomem=iomem, irq=irq) as device, stopped_by_signals():
        device.config = config
        try:
            stats = device.run(count=count, linger=linger)
        except KeyboardInterrupt:
            stats = device.stats
    click.echo(stats.summary(device.name))


@fpga.command()
@device_options
@seconds_option("--duration", "Stop after this long (default: until interrupted).")
def serve(
    index: int, umid: str | None, iomem: Path | None, irq: Path | None, duration: float | None
) -> None:
    """Answer commands (ECHO, SET_RATE, START...); the stream runs only after START."""
    with open_fpga(index, umid=umid, iomem=iomem, irq=irq) as device, stopped_by_signals():
        try:
            stats = device.run(duration=duration, stream=False)
        except KeyboardInterrupt:
            stats = device.stats
    click.echo(stats.summary(device.name))


@fpga.command()
@device_options
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--wait", is_flag=True, help="Wait until the driver has consumed the ring.")
@seconds_option("--timeout", "How long --wait waits.", 10.0)
def inject(
    index: int,
    umid: str | None,
    iomem: Path | None,
    irq: Path | None,
    file: Path,
    wait: bool,
    timeout: float,
) -> None:
    """Write FILE's bytes into the report ring as they are (crafted or malformed reports)."""
    data = file.read_bytes()
    if not data:
        raise SimulatorError(f"{file} is empty")
    # The ring has one producer: a simulator streaming into it would race with this.
    with open_fpga(index, umid=umid, iomem=iomem, irq=irq, doorbell=False) as device:
        if device.irq is not None and in_use(doorbell_path(device.irq.path)):
            raise SimulatorError(
                f"a simulator is running for {device.name}: inject once it has stopped"
            )
        device.inject(data)
        if wait and not device.wait_drained(timeout):
            raise SimulatorError(f"the driver did not consume the ring within {timeout:g}s")
    click.echo(f"{device.name}: injected {len(data)} bytes")


@fpga.command()
@device_options
@click.option("--registers", is_flag=True, help="Dump every register, decoded.")
def status(
    index: int, umid: str | None, iomem: Path | None, irq: Path | None, registers: bool
) -> None:
    """Print the device's state, rings and counters."""
    with open_fpga(index, umid=umid, iomem=iomem, irq=irq, doorbell=False) as device:
        click.echo(device.regs.dump() if registers else device.describe())


COMMANDS = [fpga]
