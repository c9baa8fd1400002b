"""examples/tmp42, an I2C sensor's own repository (its driver, its model, its tests),
copied outside this tree and tested as its owner would, on both kernels."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest

from tests.integration.test_example_repo import TREE, copy_outside, env, run

pytestmark = pytest.mark.slow

EXAMPLE = TREE / "examples" / "tmp42"
__all__ = ["env"]  # the fixture, shared with the gpio8 example's tests


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_outside(EXAMPLE, tmp_path_factory)


@pytest.mark.parametrize("series", ["6.1", "6.12"])
def test_its_own_tests_pass(repo: Path, env: dict[str, str], series: str) -> None:
    with tempfile.TemporaryDirectory(prefix="tmp42-") as basetemp:
        done = run(
            repo,
            env,
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
            f"--basetemp={basetemp}",
            f"--uml-kernel={series}",
            timeout=600,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed in " in done.stdout, done.stdout


def test_its_model_is_a_device_of_the_cli(repo: Path, env: dict[str, str]) -> None:
    listed = run(repo, env, str(Path(sys.executable).parent / "sim"), "devices")
    assert "tmp42: i2c; no region; fixture tmp42" in listed.stdout, listed.stdout + listed.stderr
    booted = run(
        repo,
        env,
        str(Path(sys.executable).parent / "umlharness"),
        *(
            "boot",
            "--i2c",
            "tmp42@0x4a,celsius=30.5",
            "--run",
            "cat /sys/class/hwmon/hwmon0/temp1_input",
        ),
        timeout=300,
    )
    assert (booted.returncode, booted.stdout) == (0, "30500\n"), booted.stderr
