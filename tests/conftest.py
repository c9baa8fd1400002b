"""Shared fixtures: the real kernel, drivers and rootfs, built once per session."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from umlharness import Artifacts, BootRequest, Instance, prepare
from umlharness.progress import LineReporter
from umlharness_shared.procs import pid_alive
from umlharness_shared.registry import UMID_ENV

# The guest a developer selected in this shell is not the tests': a bare
# lookup in a test (and in the commands it starts) must not find it.
os.environ.pop(UMID_ENV, None)


@pytest.fixture(scope="session")
def artifacts() -> Artifacts:
    """Kernel, drivers and rootfs from the cache, built on first use (minutes when cold)."""
    return prepare(reporter=LineReporter(sys.stderr))


@pytest.fixture
def vm(artifacts: Artifacts) -> Iterator[Instance]:
    """A freshly booted guest with no iomem regions."""
    with Instance.boot(BootRequest(artifacts.kernel, artifacts.rootfs)) as instance:
        yield instance


def assert_gone(instance: Instance, pid: int | None) -> None:
    """Nothing of `instance` is left: no live process, no directory."""
    assert pid is not None
    assert not pid_alive(pid)
    assert not instance.dir.exists()


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    import os

    return {**os.environ, "CI": "1"}


pytest_plugins = ["pytester"]
