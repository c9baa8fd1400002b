"""`sim` against an iomem file and a socket served by a thread that acts as the driver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from simulators.cli import main, sim
from simulators.regfile import RegisterFile
from simulators.rtl8111.regs import RTL8111, PhyStatus
from umlharness.testing import FakeDriver

from .conftest import GuestRecorder
from .fake_driver import LinkHandler, rtl8111_file

UP_1000_FULL = PhyStatus.LinkStatus | PhyStatus._1000bpsF | PhyStatus.FullDup


@pytest.fixture
def iomem(tmp_path: Path) -> Path:
    return rtl8111_file(tmp_path / "iomem-mock")


@pytest.fixture
def regs(iomem: Path) -> RegisterFile:
    """The driver's view of the registers: a mapping of its own, like the guest's."""
    return RegisterFile(RTL8111, np.memmap(iomem, np.uint8, mode="r+"))


@pytest.fixture
def handler(regs: RegisterFile) -> LinkHandler:
    return LinkHandler(regs)


@pytest.fixture
def sock(tmp_path: Path, handler: LinkHandler) -> Iterator[Path]:
    with FakeDriver(tmp_path / "mock", handler):
        yield tmp_path / "mock"


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(sim, [str(arg) for arg in args], catch_exceptions=False)
    return result.exit_code, result.output


def test_link_up(iomem: Path, sock: Path, handler: LinkHandler, regs: RegisterFile) -> None:
    assert run("link", "up", "--iomem", iomem, "--irq", sock) == (
        0,
        "Changing Link Status to UP\n",
    )
    assert handler.seen == [UP_1000_FULL]
    assert regs.read_field("IntrStatus.LinkChg") == 0


def test_link_toggle_alternates(iomem: Path, sock: Path, handler: LinkHandler) -> None:
    outputs = [run("link", "toggle", "--iomem", iomem, "--irq", sock)[1] for _ in range(3)]
    assert outputs == [
        "Changing Link Status to UP\n",
        "Changing Link Status to DOWN\n",
        "Changing Link Status to UP\n",
    ]
    assert handler.seen == [UP_1000_FULL, 0, UP_1000_FULL]


def test_link_down_and_status(iomem: Path, sock: Path) -> None:
    run("link", "up", "--iomem", iomem, "--irq", sock, "--speed", "100", "--half-duplex")
    assert run("link", "status", "--iomem", iomem) == (
        0,
        "Link: UP\nSpeed: 100 Mb/s\nDuplex: half\n",
    )
    assert run("link", "down", "--iomem", iomem, "--irq", sock) == (
        0,
        "Changing Link Status to DOWN\n",
    )
    assert run("link", "status", "--iomem", iomem) == (0, "Link: DOWN\nSpeed: -\nDuplex: -\n")


def test_fast_flap_ends_in_the_final_state(
    iomem: Path, sock: Path, handler: LinkHandler, regs: RegisterFile
) -> None:
    code, output = run(
        "link", "flap", "--count", "1000", "--interval", "0", "--iomem", iomem, "--irq", sock
    )
    assert code == 0
    assert output.startswith("Changed the link 1000 times in ")
    assert output.endswith("; it is DOWN\n")  # from down, an even number of changes
    assert handler.seen[-1] == 0
    assert regs.read("PHYstatus") == 0
    assert regs.read_field("IntrStatus.LinkChg") == 0


def test_regs_dump(iomem: Path) -> None:
    code, output = run("regs", "dump", "--iomem", iomem)
    assert code == 0
    lines = output.splitlines()
    assert lines[0] == "RTL8111 registers (0x100 bytes)"
    assert any(line.split() == ["0x003c", "IntrMask", "2", "0x0120"] for line in lines)
    assert any(line.split() == ["0x006c", "PHYstatus", "1", "0x00"] for line in lines)


def test_registry_lookup_finds_the_socket_in_the_umid_dir(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    iomem: Path,
    sock: Path,
    recorded_guest: GuestRecorder,
    handler: LinkHandler,
) -> None:
    monkeypatch.setenv("UMLHARNESS_RUN", str(tmp_path / "run"))
    # The fake driver's socket is tmp_path/mock: tmp_path plays the umid directory.
    recorded_guest("t1", tmp_path, {"mock": str(iomem)})
    assert run("link", "up") == (0, "Changing Link Status to UP\n")
    assert run("link", "status", "--umid", "t1") == (
        0,
        "Link: UP\nSpeed: 1000 Mb/s\nDuplex: full\n",
    )
    assert handler.seen == [UP_1000_FULL]


def error_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """main()'s exit status and its stderr."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    code = caught.value.code
    assert isinstance(code, int)
    return code, capsys.readouterr().err


def test_masked_interrupt_is_one_line_and_status_2(
    tmp_path: Path, sock: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    masked = rtl8111_file(tmp_path / "masked", loaded=False)
    code, err = error_of(["link", "up", "--iomem", str(masked), "--irq", str(sock)], capsys)
    assert code == 2
    assert err == (
        "sim: error: the driver has not enabled the link-change interrupt (IntrMask bit 5): "
        "is it loaded?\n"
    )


def test_driver_not_loaded(tmp_path: Path, iomem: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = error_of(
        ["link", "toggle", "--iomem", str(iomem), "--irq", str(tmp_path / "no")], capsys
    )
    assert code == 2
    assert err.startswith(f"sim: error: no interrupt socket at {tmp_path / 'no'}: the driver")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_link_change_needs_the_socket(iomem: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = error_of(["link", "down", "--iomem", str(iomem)], capsys)
    assert (code, err) == (2, "sim: error: --iomem FILE needs --irq SOCKET to raise interrupts\n")


def test_ack_timeout(tmp_path: Path, iomem: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeDriver(tmp_path / "deaf", lambda: None):  # receives, never acknowledges
        argv = ["link", "up", "--iomem", str(iomem), "--irq", str(tmp_path / "deaf")]
        code, err = error_of([*argv, "--timeout", "0.1"], capsys)
    assert code == 2
    assert "did not acknowledge interrupt LinkChg" in err
    assert "within 0.1s (" in err
    assert err.endswith("is the driver loaded and its interrupt enabled?\n")
    assert err.count("\n") == 1


def test_no_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("UMLHARNESS_RUN", str(tmp_path / "run"))
    code, err = error_of(["link", "status"], capsys)
    assert (code, err) == (2, "sim: error: no running instance: start one with `umlharness boot`\n")


def test_usage_errors_exit_2_with_click_message(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = error_of(["link", "up", "--speed", "42"], capsys)
    assert code == 2
    assert "Invalid value for '--speed'" in err
