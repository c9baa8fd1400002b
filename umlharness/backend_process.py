"""A device backend process of an instance: started and listening before UML boots, then watched.

UML's virtio_uml connects to each vhost-user socket once, while it boots,
and never retries; so each backend (a PCI device's, or the I2C/GPIO
board's) must listen first. The harness starts it, waits for it to say
`ready`, and watches it: a backend that dies while the guest runs, or a
model error it logs, is reported with its log instead of leaving the
guest's driver waiting on a device that is gone.
"""

from __future__ import annotations

import contextlib
import os
import select
import site
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar

from umlharness_shared.handshake import FAILED, MODEL_ERROR, READY
from umlharness_shared.procs import ProcessId

from .errors import GuestError, HarnessError


def backend_env() -> dict[str, str]:
    """The environment of a backend: it imports what this process imports (a
    project's `model-paths`, pytest's rootdir), not only what its cwd holds."""
    installed = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, *site.getsitepackages())}
    own = []
    for entry in sys.path:
        path = Path(entry or os.getcwd()).resolve()
        if path.is_dir() and not any(path.is_relative_to(i) for i in installed):
            own.append(str(path))
    inherited = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([*own, *filter(None, [inherited])])}


class BackendDied(GuestError):
    """A backend process ended while the guest was using its devices."""


class ModelRaised(GuestError):
    """A model raised while it served the driver."""


class BackendFailed(GuestError):
    """A backend could not start: a model refused its options or raised."""


class BackendProcess:
    """One backend process; `title` names it in errors, `option` is the boot option it serves."""

    died_error_class: ClassVar[type[BackendDied]] = BackendDied
    failed_error_class: ClassVar[type[BackendFailed]] = BackendFailed

    def __init__(self, title: str, option: str, log: Path) -> None:
        self.title = title
        self.option = option
        self.log = log
        self._process: subprocess.Popen[str] | None = None
        self.stopping = False
        self._log_seen = 0

    def command(self) -> list[str]:
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def process(self) -> ProcessId | None:
        """The backend process, for records that outlive this object."""
        return ProcessId.of(self._process.pid) if self._process is not None else None

    def start(self) -> None:
        with self.log.open("w") as log:
            self._process = subprocess.Popen(
                self.command(),
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
                text=True,
                env=backend_env(),
            )

    def wait_ready(self, timeout: float) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HarnessError(f"{self.title} not ready within {timeout:g}s; log: {self.log}")
            readable, _, _ = select.select([process.stdout], [], [], remaining)
            if readable:
                line = process.stdout.readline()
                if line.strip() == READY:
                    return
                if line.startswith(FAILED):
                    process.wait(timeout=5)
                    why = line.removeprefix(FAILED).strip()
                    raise self.failed_error_class(
                        f"{self.option}: {why} (its log has the details)", log=self.log
                    )
                if not line:
                    process.wait(timeout=5)
                    raise HarnessError(f"{self.title} failed to start: {self.log_tail(1)}")

    def exited(self) -> int | None:
        """The exit status if the process has ended, else None."""
        return self._process.poll() if self._process is not None else None

    def died_error(self, status: int) -> BackendDied:
        how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
        return self.died_error_class(
            f"{self.title} {how} while the guest was running; its log: {self.log}",
            console_tail=self.log_tail(),
            log=self.log,
        )

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def model_error(self) -> str | None:
        """The first line of a model error its log reported since the last call, if any.

        Called on every wait of the guest: a log that has not grown costs one stat.
        """
        try:
            if self.log.stat().st_size <= self._log_seen:
                return None
            with self.log.open("rb") as log:
                log.seek(self._log_seen)
                new = log.read()
        except OSError:
            return None
        # Only whole lines count: one still being written is read next time.
        complete = new[: new.rfind(b"\n") + 1]
        self._log_seen += len(complete)
        for line in complete.decode(errors="replace").splitlines():
            if line.startswith(MODEL_ERROR):
                return line.removeprefix(MODEL_ERROR).strip()
        return None

    def expect_exit(self) -> None:
        """From now on the backend's end is expected (the guest powers off), no failure."""
        self.stopping = True

    def stop(self, timeout: float = 3.0) -> None:
        """End the backend: after UML has gone it exits by itself; else SIGTERM, then SIGKILL."""
        self.stopping = True
        process = self._process
        if process is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.5)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()
