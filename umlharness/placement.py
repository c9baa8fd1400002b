"""Which host CPUs a guest and its PCI device backends run on.

Every virt-pci access is a round trip between UML and a backend process
over a unix socket, and UML spins while it waits for the answer. AF_UNIX
wakes the reader with a sync hint, so the host scheduler tends to put the
backend on the CPU of the UML that woke it, where it waits for UML to be
preempted: about a millisecond per access (docs/net.md has the figures).
On a host with two CPUs or more, a guest with PCI devices therefore runs
on one CPU and its backends on the others. The CPU is chosen from the
umid, so that guests booted side by side spread over the host.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class CpuPlacement:
    """CPU sets for UML and for its device backends; None: wherever the host likes."""

    uml: frozenset[int] | None = None
    devices: frozenset[int] | None = None

    @classmethod
    def choose(cls, umid: str, cpus: frozenset[int] | None = None) -> CpuPlacement:
        """UML on one of `cpus` (this process's, by default), picked by `umid`; the
        backends on the rest. Nothing is pinned with fewer than two CPUs."""
        available = sorted(cpus if cpus is not None else os.sched_getaffinity(0))
        if len(available) < 2:
            return cls()
        uml_cpu = available[zlib.crc32(umid.encode()) % len(available)]
        return cls(frozenset({uml_cpu}), frozenset(available) - {uml_cpu})

    def pin_uml(self) -> None:
        """In UML's process before exec: its processes inherit the set."""
        if self.uml is not None:
            os.sched_setaffinity(0, self.uml)

    def pin_device(self, pid: int) -> None:
        """A backend, just started (the threads it starts later inherit the set)."""
        if self.devices is not None:
            # One that died already is reported by the wait for it to be ready.
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(pid, self.devices)


ANYWHERE = CpuPlacement()
