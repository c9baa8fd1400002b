"""Errors the harness raises. Each carries one line meant for a person."""

from __future__ import annotations

from pathlib import Path

from umlharness_shared.errors import HarnessError as HarnessError


class ToolMissing(HarnessError):
    """A host tool or package the harness needs is not installed."""


class NoKernelSource(ToolMissing):
    """No kernel source was given and none is installed where the distro puts it."""


class BuildFailed(HarnessError):
    """A kernel, driver or rootfs build failed; the log has the details."""

    def __init__(self, message: str, log: Path | None = None, tail: str = "") -> None:
        super().__init__(message)
        self.log = log
        self.tail = tail


class ConfigDropped(HarnessError):
    """Options asked for by a fragment did not survive `make olddefconfig`."""

    def __init__(
        self, dropped: dict[str, tuple[str, str | None]], origins: dict[str, Path] | None = None
    ) -> None:
        self.dropped = dropped
        origins = origins or {}
        names = ", ".join(
            f"{name}={wanted} (got {got or 'unset'}"
            + (f"; set in {origins[name]})" if name in origins else ")")
            for name, (wanted, got) in dropped.items()
        )
        super().__init__(
            f"kernel config dropped options from the fragments: {names}; "
            "their dependencies are off or they do not exist in this kernel"
        )


class GuestError(HarnessError):
    """Something went wrong inside a running guest."""

    def __init__(self, message: str, console_tail: str = "", log: Path | None = None) -> None:
        super().__init__(message)
        self.console_tail = console_tail
        self.log = log

    def details(self) -> str:
        """The console tail and log path, for printing under the message."""
        parts = []
        if self.console_tail:
            parts.append("--- console tail ---\n" + self.console_tail.rstrip())
        if self.log:
            parts.append(f"console log: {self.log}")
        return "\n".join(parts)


class BootTimeout(GuestError):
    """The guest did not reach a state in time."""


class GuestCrashed(GuestError):
    """The guest kernel printed an oops, BUG, WARN, KASAN report or panic."""

    def __init__(self, kind: str, trace: str, log: Path | None = None) -> None:
        super().__init__(f"guest kernel {kind}", console_tail=trace, log=log)
        self.kind = kind
        self.trace = trace


class GuestExited(GuestError):
    """The UML process ended while the harness still expected it to run."""
