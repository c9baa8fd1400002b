"""`sim net ...`: packets to and from the guest's network card, from a shell.

sim net status                       the host end's counters and the chip's tally
sim net send [--dst MAC] [--ip-dst IP] [--dport N] (--payload TEXT | --length N) [--count N]
sim net expect [--src MAC] [--ip-src IP] [--dport N] [--payload TEXT] [--length N]
sim net capture FILE [--seconds N]   both directions, as pcap
sim net capture --wire NAME FILE     every NIC on wire NAME (--pci MODEL,wire=NAME)

In the spirit of netmap's functional tests: UDP of a given length, payload
and addresses, and an expectation of one. The card is the instance's network
device (`--nic NAME` when several kinds are registered), whatever its
transport.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import click
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from ..cli_options import Where, seconds_option
from ..devices import Device, devices
from ..errors import SimulatorError
from ..handle import open_model
from .nic import Nic
from .responder import HOST_MAC
from .wire import WireMonitor


def network_devices() -> list[Device[Any]]:
    return [device for device in devices().values() if device.network]


@contextmanager
def opened(nic_name: str | None, where: Where) -> Iterator[Nic]:
    found = network_devices()
    if nic_name is not None:
        found = [device for device in found if device.name == nic_name]
        if not found:
            names = ", ".join(d.name for d in network_devices()) or "none"
            raise SimulatorError(f"--nic {nic_name}: not a network device (registered: {names})")
    if len(found) != 1:
        names = ", ".join(d.name for d in found) or "none"
        raise SimulatorError(f"name the network device with --nic (registered: {names})")
    handle = open_model(found[0], umid=where.umid, slot=where.pci)
    with handle, handle.explain():
        yield Nic(handle.model)


def card_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--umid, --pci SLOT and --nic NAME, handed on as `nic_name` and `where`."""

    @functools.wraps(func)  # with the options already given to `func`
    def wrapper(*args: Any, umid: str | None, pci: str | None, nic: str | None, **kw: Any) -> Any:
        return func(*args, nic_name=nic, where=Where(umid=umid, pci=pci), **kw)

    decorated: Callable[..., Any] = wrapper
    for option in reversed(
        [
            click.option("--umid", metavar="ID", help="The instance (default: the only one)."),
            click.option("--pci", metavar="SLOT", help="Its PCI device (default: the only one)."),
            click.option("--nic", metavar="NAME", help="The kind of card (default: the only one)."),
        ]
    ):
        decorated = option(decorated)
    return decorated


@click.group()
def net() -> None:
    """Packets to and from the guest's network card."""


@net.command()
@card_options
def status(nic_name: str | None, where: Where) -> None:
    """Print the host end's counters and the chip's tally, as JSON."""
    with opened(nic_name, where) as nic:
        click.echo(json.dumps({"mac": nic.mac, **nic.counters()}, indent=1, sort_keys=True))


def udp_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--payload", help="The UDP payload, as text."),
            click.option(
                "--length",
                type=click.IntRange(0, 9000),
                help="The payload's length in bytes (a counting pattern, or the text repeated).",
            ),
            click.option("--dport", type=click.IntRange(0, 65535), help="UDP destination port."),
        ]
    ):
        func = option(func)
    return func


def payload_of(payload: str | None, length: int | None) -> bytes | None:
    if payload is None and length is None:
        return None
    text = (payload or "").encode()
    if length is None:
        return text
    pattern = text or bytes(range(256))
    return (pattern * (length // len(pattern) + 1))[:length]


@net.command()
@card_options
@click.option("--dst", metavar="MAC", help="Destination MAC (default: the card's).")
@click.option("--src", metavar="MAC", default=HOST_MAC, show_default=True)
@click.option("--ip-dst", metavar="IP", default="192.0.2.2", show_default=True)
@click.option("--ip-src", metavar="IP", default="192.0.2.1", show_default=True)
@click.option("--sport", type=click.IntRange(0, 65535), default=4000, show_default=True)
@udp_options
@click.option("--count", type=click.IntRange(1), default=1, show_default=True)
def send(
    nic_name: str | None,
    where: Where,
    dst: str | None,
    src: str,
    ip_dst: str,
    ip_src: str,
    sport: int,
    dport: int | None,
    payload: str | None,
    length: int | None,
    count: int,
) -> None:
    """Send UDP frames to the guest; prints how many its driver's ring took."""
    data = payload_of(payload, length) or b""
    with opened(nic_name, where) as nic:
        frame = (
            Ether(dst=dst or nic.mac, src=src)
            / IP(src=ip_src, dst=ip_dst)
            / UDP(sport=sport, dport=9 if dport is None else dport)
            / data
        )
        taken = nic.send_burst([frame] * count)
    click.echo(f"sent {count}, taken {taken}")
    if taken < count:
        raise SimulatorError(f"{count - taken} of {count} frames were not taken (sim net status)")


@net.command()
@card_options
@click.option("--src", metavar="MAC", help="Source MAC.")
@click.option("--ip-src", metavar="IP", help="Source IP address.")
@udp_options
@seconds_option("--timeout", "How long to wait for the frame.", 5.0)
def expect(
    nic_name: str | None,
    where: Where,
    src: str | None,
    ip_src: str | None,
    dport: int | None,
    payload: str | None,
    length: int | None,
    timeout: float,
) -> None:
    """Wait for a frame from the guest with these fields (UDP when a port or payload
    is given); print it. Exit 2 if none comes in time."""
    wanted = payload_of(payload, length)

    def matches(frame: Ether) -> bool:
        if src is not None and frame.src != src.lower():
            return False
        if ip_src is not None and (IP not in frame or frame[IP].src != ip_src):
            return False
        if dport is not None and (UDP not in frame or frame[UDP].dport != dport):
            return False
        if wanted is not None:
            if UDP not in frame:
                return False
            load = frame[UDP][Raw].load if Raw in frame[UDP] else b""
            return load == wanted
        return True

    wanted_fields = {"src": src, "ip-src": ip_src, "dport": dport, "payload": wanted}
    matches.__name__ = " ".join(f"{k}={v!r}" for k, v in wanted_fields.items() if v is not None)
    with opened(nic_name, where) as nic:
        frame = nic.expect(matches, timeout)
    click.echo(frame.summary())


@net.command()
@card_options
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--wire",
    metavar="NAME",
    help="Capture wire NAME (every NIC on it, each frame once) rather than one card.",
)
@seconds_option("--seconds", "How long (default: until Ctrl-C).")
def capture(
    nic_name: str | None, where: Where, file: Path, wire: str | None, seconds: float | None
) -> None:
    """Capture both directions to FILE (pcap)."""
    until = f" for {seconds:g}s" if seconds else "; Ctrl-C stops"
    if wire is not None:
        monitor = WireMonitor(wire, file)
        try:
            click.echo(f"capturing wire {wire} to {file}{until}", err=True)
            _wait(seconds)
        finally:
            frames = monitor.close()
        click.echo(f"wrote {file}: {frames} frames", err=True)
        return
    with opened(nic_name, where) as nic, nic.capture(file):
        click.echo(f"capturing to {file}{until}", err=True)
        _wait(seconds)
    click.echo(f"wrote {file}", err=True)


def _wait(seconds: float | None) -> None:
    with suppress(KeyboardInterrupt):
        time.sleep(seconds) if seconds else _forever()


def _forever() -> None:
    while True:
        time.sleep(3600)
