"""The tutorial's repository, examples/gpio8, used as its owner would: copied
outside this tree, with nothing of this tree on its import path but the
installed harness. Its own pytest run passes, `umlharness drivers build`
builds its driver, and a guest booted in the background is driven with
`sim gpio8` and read with `umlharness exec`."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.output import powered_off

pytestmark = pytest.mark.slow

TREE = Path(__file__).resolve().parents[2]
EXAMPLE = TREE / "examples" / "gpio8"
BIN = Path(sys.executable).parent
SYSFS = "/sys/devices/platform/uh_gpio8"
# Settings of this session that would override the copy's project file.
NOT_PASSED = {"PYTHONPATH", "PYTEST_ADDOPTS", "UMLHARNESS_DRIVERS", "UMLHARNESS_KERNEL_CONFIG"}


def copy_outside(example: Path, factory: pytest.TempPathFactory) -> Path:
    """A copy of the example repository `example`, outside this tree."""
    copy = factory.mktemp("owner") / example.name
    shutil.copytree(example, copy, ignore=shutil.ignore_patterns("__pycache__", ".*_cache"))
    assert not copy.resolve().is_relative_to(TREE)
    return copy


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of examples/gpio8, outside this tree."""
    return copy_outside(EXAMPLE, tmp_path_factory)


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    """This environment less what points into this tree or overrides the project file
    (the cache and run directories stay: the kernel is the one this session uses)."""
    return {
        **{
            key: value
            for key, value in os.environ.items()
            if key not in NOT_PASSED
            and not key.startswith(("PYTEST_XDIST", "PYTEST_CURRENT"))
            and key != "UMLHARNESS_UMID"
        },
        "CI": "1",
    }


def run(
    repo: Path, env: dict[str, str], *command: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=repo, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_its_own_tests_pass(repo: Path, env: dict[str, str]) -> None:
    tests = len(re.findall(r"^def test_", (repo / "tests" / "test_gpio8.py").read_text(), re.M))
    # --basetemp: its tmp paths away from this session's, and short: a unix
    # socket's path (its FakeDriver's) has at most 107 bytes.
    with tempfile.TemporaryDirectory(prefix="gpio8-") as basetemp:
        done = run(
            repo,
            env,
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
            f"--basetemp={basetemp}",
            timeout=900,  # its fuzz test builds the KASAN kernel, if no test did before
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(rf"^{tests} passed in ", done.stdout, re.M), done.stdout


def test_drivers_build_builds_its_driver(repo: Path, env: dict[str, str]) -> None:
    done = run(repo, env, str(BIN / "umlharness"), "drivers", "build", timeout=120)
    assert done.returncode == 0, done.stderr
    assert re.search(r"/uh_gpio8\.ko$", done.stdout, re.M), done.stdout


@pytest.fixture
def guest(repo: Path, env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """`umlharness boot --iomem gpio8` in the background (no terminal), from the copy;
    its umid once it serves `umlharness exec`."""
    umid = f"uh-ex{secrets.token_hex(4)}"
    log = tmp_path / "boot.log"
    with log.open("w") as out:
        boot = subprocess.Popen(
            [str(BIN / "umlharness"), "boot", "--iomem", "gpio8", "--umid", umid],
            cwd=repo,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        # The summary's last line comes once the guest is up.
        while "console:" not in log.read_text():
            assert boot.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield umid
        stopped = run(repo, env, str(BIN / "umlharness"), "stop", umid)
        assert stopped.returncode == 0, stopped.stderr
        # stop SIGTERMs the booting process, which powers the guest off and exits
        # as a SIGTERM'd process does.
        assert boot.wait(timeout=30) == 0, log.read_text()
        assert powered_off(log.read_text())
    finally:
        if boot.poll() is None:
            boot.terminate()  # a signal stops the guest too
            boot.wait(timeout=30)


def test_sim_drives_a_background_guest(repo: Path, env: dict[str, str], guest: str) -> None:
    sim = str(BIN / "sim")
    done = run(repo, env, sim, "gpio8", "set", "3", "1", "--umid", guest)
    assert (done.returncode, done.stdout) == (
        0,
        "pins 0x08: change interrupt acknowledged by the driver\n",
    ), done.stderr
    seen = run(
        repo, env, str(BIN / "umlharness"), "exec", "--umid", guest,
        f"cat {SYSFS}/value {SYSFS}/changes",
    )  # fmt: skip
    assert (seen.returncode, seen.stdout) == (0, "0x08\n1\n"), seen.stderr
    shown = run(repo, env, sim, "gpio8", "show", "--umid", guest)
    assert "Pins: 0x08 (00001000)\n" in shown.stdout, shown.stderr
