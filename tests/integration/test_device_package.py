"""A device added by a package outside this repository: its `sim` group and its
fixture work once the package is installed, with no edit here."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PACKAGE = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "mysensor"
        version = "1.0"

        [project.entry-points."umlharness.devices"]
        mysensor = "mysensor.device:DEVICE"
    """,
    "mysensor/__init__.py": "",
    "mysensor/regs.py": """
        from construct import Int32ul, Padding, Struct

        MYSENSOR = Struct("ID" / Int32ul, "VALUE" / Int32ul, Padding(8))
    """,
    "mysensor/model.py": """
        from simulators.device import DeviceModel


        class MySensor(DeviceModel):
            def set_value(self, value: int) -> None:
                self.regs.write("ID", 0x4D595345)
                self.regs.write("VALUE", value)

            def value(self) -> int:
                return self.regs.read("VALUE")
    """,
    "mysensor/device.py": """
        from simulators.devices import Device

        from .model import MySensor
        from .regs import MYSENSOR

        DEVICE = Device(
            name="mysensor",
            layout=MYSENSOR,
            model=MySensor,
            region="mysensor",
            commands="mysensor.cli:COMMANDS",
        )
    """,
    "mysensor/cli.py": """
        import click

        from simulators.cli_options import Where, target_options

        from .device import DEVICE


        @click.group()
        def mysensor() -> None:
            \"\"\"My own sensor.\"\"\"


        @mysensor.command("set")
        @target_options(DEVICE)
        @click.argument("value", type=int)
        def set_value(where: Where, value: int) -> None:
            \"\"\"Set VALUE.\"\"\"
            with where.open(DEVICE) as handle:
                handle.model.set_value(value)
            click.echo(f"VALUE={value}")


        COMMANDS = [mysensor]
    """,
}

TEST = """
    import pytest


    @pytest.mark.uml(iomem=["mysensor:4K"])
    def test_the_fixture_reaches_the_guests_region(uml, mysensor):
        mysensor.set_value(0xABCD)
        data = uml.iomem_files["mysensor"].read_bytes()
        assert data[:8] == bytes.fromhex("45 53 59 4d cd ab 00 00")
        assert mysensor.value() == 0xABCD
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The package, built and installed into a directory of its own; the environment
    that puts it on the path."""
    root = tmp_path_factory.mktemp("mysensor")
    source = root / "src"
    for name, text in PACKAGE.items():
        path = source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    site = root / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(site),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return {**os.environ, "PYTHONPATH": str(site), "CI": "1"}


def sim(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("sim")), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def test_its_sim_group_appears(installed: dict[str, str]) -> None:
    listed = sim(installed, "--help")
    assert listed.returncode == 0
    assert "mysensor  My own sensor." in listed.stdout
    assert "mysensor: iomem; region mysensor; fixture mysensor" in sim(installed, "devices").stdout


def test_its_fixture_and_sim_command_reach_a_guest(
    installed: dict[str, str], tmp_path: Path
) -> None:
    tests = tmp_path / "test_mysensor.py"
    tests.write_text(textwrap.dedent(TEST).lstrip())
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
        capture_output=True,
        text=True,
        env=installed,
        cwd=tmp_path,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
