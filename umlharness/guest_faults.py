"""Faults from the guest side: the kernel's fault injection, aimed at one module.

failslab and fail_page_alloc (Documentation/fault-injection/) make slab and
page allocations fail. Their stacktrace filter limits that to allocations
whose call stack passes through [require-start, require-end), which here is
the module's code as /proc/modules places it, so the module's own error
paths run and the rest of the kernel allocates as usual. The harness's
6.12 kernels have it (uml-config/faults.config, series/6.12.config); 6.1
has no stacktrace filter on x86_64, and says so. A module must be loaded to be
aimed at: to fail its probe, unbind its device, then bind it again inside
the `with` block:

    with uml.inject_faults("r8169", kind="slab") as faults:
        uml.run("echo 0000:00:00.0 > /sys/bus/pci/drivers/r8169/bind")
    assert faults.injected == 1

Each injected failure is counted from the kernel's ring buffer
("FAULT_INJECTION: forcing a failure"), so `injected` is known when the
block ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from .errors import GuestError, HarnessError

if TYPE_CHECKING:
    from .instance import Instance

KINDS = {"slab": "failslab", "page": "fail_page_alloc"}
DEBUGFS = "/sys/kernel/debug"
FORCED = "FAULT_INJECTION: forcing a failure"
#: Deep enough for an allocation made a few calls below a driver's probe.
STACK_DEPTH = 32
_MODULE_NAME = re.compile(r"[A-Za-z0-9_-]+")


@dataclass
class GuestFaults:
    """Allocation failures of `kind` aimed at `module` while the `with` block runs.

    `times` failures at most (-1: no limit), each allocation failing with
    `probability` percent, only every `interval`-th one considered.
    """

    instance: Instance
    module: str
    kind: str = "slab"
    times: int = 1
    probability: int = 100
    interval: int = 1
    injected: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise HarnessError(f"fault kind {self.kind!r}: one of {', '.join(KINDS)}")
        if not _MODULE_NAME.fullmatch(self.module):
            raise HarnessError(f"{self.module!r} is not a module name")
        if not (self.times == -1 or self.times >= 1):
            raise HarnessError(f"times={self.times}: at least 1, or -1 for no limit")
        if not 0 <= self.probability <= 100:
            raise HarnessError(f"probability={self.probability}: 0 to 100 (percent)")
        if self.interval < 1:
            raise HarnessError(f"interval={self.interval}: at least 1")

    @property
    def directory(self) -> str:
        return f"{DEBUGFS}/{KINDS[self.kind]}"

    def __enter__(self) -> GuestFaults:
        start, end = self._module_range()
        self._forced_before = self._forced()
        settings = {
            "require-start": start,
            "require-end": end,
            "stacktrace-depth": STACK_DEPTH,
            "ignore-gfp-wait": "N",  # sleeping allocations fail too: most of a probe's
            "verbose": 1,
            "interval": self.interval,
            "times": self.times,
            "probability": self.probability,  # last: this arms it
        }
        if self.kind == "page":
            settings = {"ignore-gfp-highmem": "N", **settings}
        self.instance.check(
            f"mountpoint -q {DEBUGFS} || mount -t debugfs debugfs {DEBUGFS}; "
            f"[ -d {self.directory} ] || {{ echo 'no {self.directory}: this kernel has no "
            f"fault injection (CONFIG_FAULT_INJECTION_DEBUG_FS)'; exit 1; }}; "
            f"[ -e {self.directory}/require-start ] || {{ echo 'this kernel cannot aim faults "
            "at a module: it has no fault-injection stacktrace filter (Linux 6.1 offers none "
            f"on x86_64; use 6.12)'; exit 1; }}; cd {self.directory}"
            + "".join(f" && echo {value} > {name}" for name, value in settings.items())
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.instance.alive:
            self.instance.run(f"echo 0 > {self.directory}/probability")
            self.injected = self._forced() - self._forced_before

    def _forced(self) -> int:
        """Failures injected since boot, as the kernel's ring buffer tells."""
        return int(self.instance.run(f"dmesg | grep -c '{FORCED}'").output.strip() or 0)

    def _module_range(self) -> tuple[int, int]:
        """Where `module`'s code is: /proc/modules gives its base and size."""
        line = self.instance.run(f"grep '^{self.module} ' /proc/modules").output.strip()
        fields = line.split()
        if len(fields) < 6:
            raise GuestError(
                f"module {self.module} is not loaded: faults are aimed at a loaded "
                "module's code (unbind its device, then bind it inside the block)"
            )
        size, base = int(fields[1]), int(fields[5], 16)
        if base == 0:
            raise GuestError(f"/proc/modules hides {self.module}'s address (kptr_restrict)")
        return base, base + size
