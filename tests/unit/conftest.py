"""Fixtures for unit tests that need the instance registry without booting UML."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from umlharness_shared import registry
from umlharness_shared.procs import ProcessId

#: recorded_guest(umid, umid_dir, iomem, by_pytest) -> the instance directory it recorded
GuestRecorder = Callable[..., Path]


@pytest.fixture
def recorded_guest() -> Iterator[GuestRecorder]:
    """Record instances whose "UML" is a sleeping process with `umid=ID` on its
    command line, as a real UML has: the registry sees them running."""
    started: list[subprocess.Popen[bytes]] = []

    def record(
        umid: str, umid_dir: Path, iomem: dict[str, str] | None = None, by_pytest: bool = False
    ) -> Path:
        process = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(600)", f"umid={umid}"],
            start_new_session=True,
        )
        started.append(process)
        uml = ProcessId.of(process.pid)
        assert uml is not None
        deadline = time.monotonic() + 10
        while not uml.is_ours(registry.uml_needle(umid)):  # until it has exec'd
            assert time.monotonic() < deadline
            time.sleep(0.001)
        directory = registry.claim(umid)
        registry.record(
            directory, uml=uml, iomem=iomem or {}, umid_dir=str(umid_dir), by_pytest=by_pytest
        )
        return directory

    yield record
    for process in started:
        process.kill()
        process.wait()
