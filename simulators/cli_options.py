"""The options every device's `sim` commands share: which device, and how long to wait.

--umid ID | --iomem FILE [--irq SOCKET]   the instance, or the files directly
--region NAME                              another iomem region than the driver's
--pci SLOT                                 the PCI device (devices PCI can serve)
--timeout SECONDS                          how long an interrupt waits for its ack
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from .devices import Device, M
from .handle import ModelHandle, open_model
from .irq import DEFAULT_TIMEOUT

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Where:
    """The target options as given, before they are resolved to files or a backend."""

    umid: str | None = None
    iomem: Path | None = None
    irq: Path | None = None
    region: str | None = None
    pci: str | None = None

    def open(self, device: Device[M], timeout: float = DEFAULT_TIMEOUT) -> ModelHandle[M]:
        return open_model(
            device,
            umid=self.umid,
            region=self.region,
            slot=self.pci,
            iomem=self.iomem,
            irq=self.irq,
            ack_timeout=timeout,
        )


def instance_options(
    irq_help: str = "The driver's interrupt socket (with --iomem).",
) -> list[Callable[[F], F]]:
    """--umid ID, or --iomem FILE [--irq SOCKET] naming the device's files directly."""
    return [
        click.option(
            "--umid",
            metavar="ID",
            help="The instance (default: $UMLHARNESS_UMID, else the only one running "
            "outside a pytest session).",
        ),
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
            help=irq_help,
        ),
    ]


def target_options(device: Device[Any]) -> Callable[[F], F]:
    """--umid/--iomem/--irq/--region (and --pci for a device PCI can serve), handed to
    the command as one `where` argument."""

    def decorate(func: F) -> F:
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
            return func(*args, where=Where(umid, iomem, irq, region, pci), **kwargs)

        options = [
            *instance_options(),
            click.option(
                "--region",
                metavar="NAME",
                help=f"The instance's iomem region (default: {device.region}).",
            ),
        ]
        if device.pci_model is not None:
            options.append(
                click.option(
                    "--pci",
                    metavar="SLOT",
                    help=f"The instance's PCI {device.name} (pci0, ...; default: the only "
                    f"one, when there is no iomem region {device.region}).",
                )
            )
        decorated: Callable[..., Any] = wrapper
        for option in reversed(options):
            decorated = option(decorated)
        return cast(F, decorated)

    return decorate


def seconds_option(name: str, help: str, default: float | None = None) -> Callable[[F], F]:
    """An option of a positive number of seconds."""
    return click.option(
        name,
        type=click.FloatRange(min=0, min_open=True),
        default=default,
        show_default=default is not None,
        metavar="SECONDS",
        help=help,
    )


def timeout_option(func: F) -> F:
    return seconds_option(
        "--timeout", "Seconds to wait for the driver to acknowledge an interrupt.", DEFAULT_TIMEOUT
    )(func)
