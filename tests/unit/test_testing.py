"""umlharness.testing, as a user's own repository uses it, and `sim header`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from simulators.thermo.regs import C_HEADER as THERMO_HEADER
from umlharness.testing import FakeDriver, check_header

ROOT = Path(__file__).resolve().parents[2]
MYREGS = """\
from construct import BitsInteger, BitStruct, Flag, Int8ul, Padding, Struct

REGS = Struct("CTRL" / BitStruct("Reserved" / BitsInteger(7), "ON" / Flag), Padding(3),
              "DATA" / Int8ul)
"""


def sim(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulators", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_header_passes_the_projects_headers() -> None:
    check_header(THERMO_HEADER, root=ROOT)
    check_header("simulators.thermo.regs", ROOT / THERMO_HEADER.path)


def test_check_header_shows_a_diff(tmp_path: Path) -> None:
    stale = tmp_path / "thermo_regs.h"
    stale.write_text((ROOT / THERMO_HEADER.path).read_text().replace("0x0a", "0x0c"))
    with pytest.raises(AssertionError) as caught:
        check_header(THERMO_HEADER, stale)
    message = str(caught.value)
    assert message.startswith(
        f"{stale} is stale: run `python -m simulators.cheader simulators.thermo.regs`\n"
    )
    assert "-#define THERMO_THRESHOLD\t0x0c" in message
    assert "+#define THERMO_THRESHOLD\t0x0a" in message
    with pytest.raises(AssertionError, match="is missing: run"):
        check_header(THERMO_HEADER, tmp_path / "none.h")
    with pytest.raises(AssertionError, match="No module named 'no_such'"):
        check_header("no_such.regs", stale)


def test_sim_header_writes_your_maps_header(tmp_path: Path) -> None:
    (tmp_path / "myregs.py").write_text(MYREGS)
    result = sim(tmp_path, "header", "myregs:REGS", "--prefix", "MY_", "-o", "my_regs.h")
    assert (result.returncode, result.stderr) == (0, "wrote my_regs.h\n")
    text = (tmp_path / "my_regs.h").read_text()
    assert "#define MY_DATA\t0x04\t/* u8 */\n" in text and "#define MY_ON\tBIT(0)\n" in text
    assert " *\tsim header myregs:REGS --prefix MY_ -o my_regs.h\n" in text
    stdout = sim(tmp_path, "header", "myregs:REGS", "--prefix", "MY_", "-o", "my_regs.h")
    assert stdout.returncode == 0
    # The same generator as the project's: stdout, and a CHeader as it is.
    assert sim(tmp_path, "header", "simulators.thermo.regs:C_HEADER").stdout == (
        (ROOT / THERMO_HEADER.path).read_text()
    )


@pytest.mark.parametrize(
    ("where", "error"),
    [
        ("myregs", "sim: error: 'myregs' is not MODULE:ATTRIBUTE (mysensor.regs:REGS, say)\n"),
        (
            "nosuch.regs:REGS",
            "sim: error: nosuch.regs:REGS: cannot import it (No module named 'nosuch')\n",
        ),
        (
            "myregs:NOPE",
            "sim: error: myregs:NOPE: cannot import it (module 'myregs' has no attribute 'NOPE')\n",
        ),
        (
            "myregs:textwrap",
            "sim: error: myregs:textwrap: a register map is a construct Struct, not module\n",
        ),
    ],
)
def test_sim_header_says_what_is_wrong_in_one_line(where: str, error: str, tmp_path: Path) -> None:
    (tmp_path / "myregs.py").write_text(MYREGS + "import textwrap\n")
    result = sim(tmp_path, "header", where)
    assert (result.returncode, result.stderr, result.stdout) == (2, error, "")


def test_the_tutorial_names_the_installed_helpers() -> None:
    tutorial = (ROOT / "docs" / "tutorial.md").read_text()
    assert "umlharness.testing" in tutorial
    assert "`FakeDriver` in `tests/unit/fake_driver.py`" not in tutorial
    assert "check_header(" in tutorial and "sim header" in tutorial


def test_a_fake_driver_socket_path_too_long_is_named(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)
    deep.mkdir()
    with pytest.raises(ValueError, match="longer than a unix socket path may be"):
        FakeDriver(deep / "irq", lambda: None)


def test_sim_header_works_while_the_projects_device_is_not_written_yet(tmp_path: Path) -> None:
    (tmp_path / "myregs.py").write_text(MYREGS)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.umlharness]\nmodel-paths = ["."]\ndevices = ["mydevice:DEVICE"]\n'
    )
    result = sim(tmp_path, "header", "myregs:REGS", "-o", "my_regs.h")
    assert (result.returncode, result.stderr) == (0, "wrote my_regs.h\n")
    broken = sim(tmp_path, "mydevice")
    assert broken.returncode == 2
    assert broken.stderr.startswith("sim: error: device mydevice:DEVICE: cannot import it")
