"""Shared fixtures: the real kernel, drivers and rootfs, built once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from umlharness import Artifacts, BootRequest, Instance
from umlharness_shared.procs import pid_alive
from umlharness_shared.registry import UMID_ENV

# The guest a developer selected in this shell is not the tests': a bare
# lookup in a test (and in the commands it starts) must not find it.
os.environ.pop(UMID_ENV, None)


@pytest.fixture(scope="session")
def artifacts(uml_artifacts: Artifacts, uml_kernel: str) -> Iterator[Artifacts]:
    """Kernel, drivers and rootfs from the cache, built on first use (minutes when
    cold), once per `--uml-kernel` series; the harness commands tests start use
    that series too."""
    previous = os.environ.get("UMLHARNESS_KERNEL")
    os.environ["UMLHARNESS_KERNEL"] = uml_kernel
    yield uml_artifacts
    if previous is None:
        del os.environ["UMLHARNESS_KERNEL"]
    else:
        os.environ["UMLHARNESS_KERNEL"] = previous


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
