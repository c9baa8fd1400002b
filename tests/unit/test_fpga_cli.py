"""`sim fpga` on an explicit iomem file, with uh_fpga's side played in Python."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from simulators.cli import main, sim
from simulators.fpga import icd
from simulators.fpga.doorbell import Doorbell, doorbell_path, in_use

from .fpga_driver import PyDriver


@pytest.fixture
def iomem(tmp_path: Path) -> Path:
    path = tmp_path / "iomem-fpga0"
    path.write_bytes(bytes(1 << 20))
    return path


@pytest.fixture
def driver(iomem: Path) -> PyDriver:
    return PyDriver(np.memmap(iomem, np.uint8, mode="r+"))


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(sim, ["fpga", *args])
    return result.exit_code, result.output


def test_stream_writes_the_reports_it_says(iomem: Path, driver: PyDriver) -> None:
    code, output = run("stream", "--iomem", str(iomem), "--rate", "0", "--count", "500")
    assert code == 0, output
    assert output.startswith("fpga0 streamed=500 written=500 dropped=0 bytes=32000 ")
    reports = driver.read_headers()
    assert [r.sequence for r in reports] == list(range(500)) and all(r.crc_ok for r in reports)


def test_stream_options_shape_the_reports(iomem: Path, driver: PyDriver) -> None:
    code, output = run(
        "stream", "--iomem", str(iomem), "--rate", "0", "--count", "3", "--type", "event",
        "--size", "100",
    )  # fmt: skip
    assert code == 0, output
    assert {(r.type, r.size) for r in driver.read_headers()} == {(icd.ReportType.EVENT, 100)}


def test_odd_samples_size_is_refused(iomem: Path) -> None:
    result = CliRunner().invoke(sim, ["fpga", "stream", "--iomem", str(iomem), "--size", "65"])
    assert result.exit_code != 0 and "even size" in str(result.exception)


def test_inject_and_status(iomem: Path, driver: PyDriver) -> None:
    crafted = iomem.parent / "bad.bin"
    crafted.write_bytes(icd.build_report(1, 0, b"\0" * 4, magic=0xBADBAD))
    code, output = run("inject", "--iomem", str(iomem), str(crafted))
    assert (code, output) == (0, "fpga0: injected 32 bytes\n")
    assert driver.read_raw() == crafted.read_bytes()
    code, output = run("status", "--iomem", str(iomem))
    assert code == 0 and "report ring: 524288 bytes at 0x20000, 0 in use" in output
    code, output = run("status", "--iomem", str(iomem), "--registers")
    assert "REPORT_RING_SIZE" in output and "0x00080000" in output


def test_errors_are_one_line(
    iomem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crafted = tmp_path / "x.bin"
    crafted.write_bytes(b"x")
    with pytest.raises(SystemExit) as exit_info:
        main(["fpga", "inject", "--iomem", str(iomem), str(crafted)])  # no driver: no ring
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("sim: error: fpga0: the driver has not set up the report ring")
    assert len(err.strip().splitlines()) == 1


def test_inject_refuses_while_a_simulator_runs(iomem: Path, driver: PyDriver) -> None:
    irq = iomem.parent / "fpga0"
    crafted = iomem.parent / "x.bin"
    crafted.write_bytes(b"x" * 40)
    with Doorbell(doorbell_path(irq)):
        code, output = run("inject", "--iomem", str(iomem), "--irq", str(irq), str(crafted))
    assert code != 0 and driver.reports.used() == 0
    code, output = run("inject", "--iomem", str(iomem), "--irq", str(irq), str(crafted))
    assert code == 0, output  # once it has gone (no driver socket: no interrupt, no error)
    assert driver.read_raw() == b"x" * 40


# --- an explicit driver socket that is missing or goes away ---------------------------

ROOT = Path(__file__).resolve().parents[2]


def sim_process(*args: str) -> subprocess.Popen[str]:
    """`sim fpga ARGS` as a user runs it (in a process of its own, so a hang fails the test)."""
    return subprocess.Popen(
        [sys.executable, "-m", "simulators", "fpga", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    """Its exit status and stderr; a simulator still running after 30 s fails the test."""
    try:
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    return process.returncode, stderr


@pytest.mark.parametrize(
    "command", [["stream"], ["serve"], ["inject", "{crafted}", "--wait", "--timeout", "60"]]
)
def test_a_missing_driver_socket_is_an_error_not_a_wait(
    iomem: Path, tmp_path: Path, command: list[str]
) -> None:
    PyDriver(np.memmap(iomem, np.uint8, mode="r+"), enable=False)  # no reader: a stream waits
    crafted = tmp_path / "x.bin"
    crafted.write_bytes(b"x" * 40)
    missing = tmp_path / "missing.sock"
    args = [arg.format(crafted=crafted) for arg in command]
    code, err = finish(sim_process(*args, "--iomem", str(iomem), "--irq", str(missing)))
    assert code == 2
    assert err.startswith(f"sim: error: no interrupt socket at {missing}: the driver is not loaded")
    assert len(err.strip().splitlines()) == 1


def test_a_stream_waiting_for_a_reader_stops_when_the_driver_socket_goes_stale(
    iomem: Path, tmp_path: Path
) -> None:
    PyDriver(np.memmap(iomem, np.uint8, mode="r+"), enable=False)
    irq = tmp_path / "fpga0"
    driver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    driver.bind(str(irq))
    stream = sim_process("stream", "--iomem", str(iomem), "--irq", str(irq))
    deadline = time.monotonic() + 30
    while not in_use(doorbell_path(irq)) and time.monotonic() < deadline:
        time.sleep(0.05)  # until the simulator is up and waiting
    assert stream.poll() is None, stream.communicate()
    driver.close()  # the socket file stays, nobody receives: its guest was killed, say
    code, err = finish(stream)
    assert code == 2
    assert err == (
        f"sim: error: interrupt socket {irq} is stale (nobody listens on it): the driver was "
        "unloaded or its instance is gone; fpga0 stopped after 0 reports (0 dropped) and "
        "0 commands\n"
    )
