"""`sim thermo` against an iomem file and a socket served by a thread that acts as the driver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from simulators.cli import main, sim
from simulators.regfile import RegisterFile
from simulators.thermo.regs import THERMO, THERMO_ID
from umlharness.testing import FakeDriver

from .conftest import GuestRecorder
from .fake_driver import AlertHandler, load_thermo


@pytest.fixture
def iomem(tmp_path: Path) -> Path:
    path = tmp_path / "iomem-thermo"
    path.write_bytes(bytes(4096))
    return path


@pytest.fixture
def regs(iomem: Path) -> RegisterFile:
    """The driver's view of the registers, as uh_thermo leaves them once loaded."""
    regs = RegisterFile(THERMO, np.memmap(iomem, np.uint8, mode="r+"))
    load_thermo(regs)
    return regs


@pytest.fixture
def handler(regs: RegisterFile) -> AlertHandler:
    return AlertHandler(regs)


@pytest.fixture
def sock(tmp_path: Path, handler: AlertHandler) -> Iterator[Path]:
    with FakeDriver(tmp_path / "thermo", handler):
        yield tmp_path / "thermo"


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(sim, [str(arg) for arg in args], catch_exceptions=False)
    return result.exit_code, result.output


def test_set_over_the_threshold_raises_the_alert(
    iomem: Path, sock: Path, handler: AlertHandler, regs: RegisterFile
) -> None:
    assert run("thermo", "set", "85", "--iomem", iomem, "--irq", sock) == (
        0,
        "Temperature 85.00 C, over 80.00 C: alert acknowledged by the driver\n",
    )
    assert handler.wait_for(1) == [(8500, 8000)]
    assert regs.read("ID") == THERMO_ID  # set resets the sensor first
    assert run("thermo", "set", "86", "--iomem", iomem, "--irq", sock) == (
        0,
        "Temperature 86.00 C, over 80.00 C: no new alert, it was over already\n",
    )


def test_set_negative_and_status(iomem: Path, sock: Path) -> None:
    assert run("thermo", "status", "--iomem", iomem) == (
        0,
        "ID: 0x00000000\nSensor: on\nAlert interrupt: enabled\nTemperature: -\n"
        "Threshold: 80.00 C\nAlert pending: no\n",
    )
    assert run("thermo", "set", "-5", "--iomem", iomem, "--irq", sock) == (
        0,
        "Temperature -5.00 C, threshold 80.00 C\n",
    )
    assert run("thermo", "status", "--iomem", iomem)[1].splitlines()[::3] == [
        "ID: 0x54484d4f",
        "Temperature: -5.00 C",
    ]


def test_registry_lookup_uses_the_thermo_region(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    iomem: Path,
    sock: Path,
    recorded_guest: GuestRecorder,
) -> None:
    monkeypatch.setenv("UMLHARNESS_RUN", str(tmp_path / "run"))
    # The fake driver's socket is tmp_path/thermo: tmp_path plays the umid directory.
    recorded_guest("t1", tmp_path, {"mock": str(tmp_path / "other"), "thermo": str(iomem)})
    assert run("thermo", "set", "90")[0] == 0
    assert "Temperature: 90.00 C" in run("thermo", "status", "--umid", "t1")[1]


def test_sensor_off_is_one_line_and_status_2(
    iomem: Path, sock: Path, regs: RegisterFile, capsys: pytest.CaptureFixture[str]
) -> None:
    regs.write("CTRL", 0)
    with pytest.raises(SystemExit) as caught:
        main(["thermo", "set", "20", "--iomem", str(iomem), "--irq", str(sock)])
    assert caught.value.code == 2
    assert capsys.readouterr().err == (
        "sim: error: the sensor is off (CTRL.ENABLE is 0): is uh_thermo loaded?\n"
    )
