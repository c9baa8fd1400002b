"""A driver developer's own repository, outside this tree: the project file, the
CLI's --drivers and UMLHARNESS_DRIVERS, models imported from model-paths in
any directory, plugin paths resolved against their file, build errors quoted
once."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.integration.modules import write_module

pytestmark = pytest.mark.slow

UMLHARNESS = str(Path(sys.executable).with_name("umlharness"))


MODEL = """\
from simulators.pcitest.model import PciTest


class NuWork(PciTest):
    \"\"\"The user's own PCI model (here: pcitest under another name).\"\"\"
"""


def write_driver(drivers: Path, name: str, body: str = "") -> str:
    token = uuid.uuid4().hex[:8]  # a source no earlier run built
    write_module(drivers, name, greeting=f"loaded {token}", body=body)
    return token


def run(
    *argv: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UMLHARNESS_DRIVERS")}
    clean.pop("PYTHONPATH", None)
    return subprocess.run(
        argv,
        cwd=cwd,
        env={**clean, "CI": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "nuwork"
    (root / "models").mkdir(parents=True)
    (root / "models" / "nuwork.py").write_text(MODEL)
    (root / "pyproject.toml").write_text(
        "[project]\nname = 'nuwork'\n\n[tool.umlharness]\n"
        'drivers = ["drivers"]\nmodel-paths = ["models"]\n'
    )
    write_driver(root / "drivers", "uhn_main")
    (root / "deep" / "inside").mkdir(parents=True)
    return root


def test_the_cli_reads_the_project_file_from_any_subdirectory(repo: Path) -> None:
    inside = repo / "deep" / "inside"
    built = run(UMLHARNESS, "drivers", "build", cwd=inside)
    assert built.returncode == 0, built.stderr
    assert [Path(line).name for line in built.stdout.split()] == ["uh_core.ko", "uhn_main.ko"]

    booted = run(
        UMLHARNESS, "boot", "--pci", "nuwork:NuWork", "--trace", "access.trace",
        "--run", "modprobe uhn_main && cat /sys/bus/pci/devices/*/vendor",
        cwd=inside,
    )  # fmt: skip
    assert booted.returncode == 0, booted.stderr
    assert "0x5548" in booted.stdout  # pcitest's vendor ID, through the user's subclass
    trace = run(UMLHARNESS, "trace", "access.trace", "--import-model", "--limit", "3", cwd=inside)
    assert trace.returncode == 0, trace.stderr
    assert "cfg 0x000 VendorID+DeviceID -> 0x74015548" in trace.stdout


def test_drivers_on_the_command_line_and_in_the_environment_win(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-drivers"
    write_driver(other, "uhn_other")
    by_option = run(UMLHARNESS, "drivers", "build", "--drivers", str(other), cwd=repo)
    assert by_option.returncode == 0, by_option.stderr
    assert [Path(line).name for line in by_option.stdout.split()] == ["uh_core.ko", "uhn_other.ko"]
    by_env = run(UMLHARNESS, "drivers", "build", cwd=repo, env={"UMLHARNESS_DRIVERS": str(other)})
    assert by_env.returncode == 0, by_env.stderr
    assert [Path(line).name for line in by_env.stdout.split()] == ["uh_core.ko", "uhn_other.ko"]


def test_a_bad_project_file_is_one_line(repo: Path) -> None:
    (repo / "pyproject.toml").write_text("[tool.umlharness]\ndriver = ['drivers']\n")
    result = run(UMLHARNESS, "drivers", "build", cwd=repo)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"umlharness: error: [tool.umlharness] in {repo / 'pyproject.toml'}: unknown key "
        "'driver' (known: devices, drivers, kernel, kernel-config, kernel-source, mem, "
        "model-paths, timeout)"
    ]


PLUGIN_TEST = """\
def test_loads(uml):
    uml.check("modprobe {name}")
    assert "{name}: loaded" in uml.dmesg()
"""


def test_ini_paths_resolve_against_the_ini_file_from_any_directory(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    write_driver(suite / "mydrivers", "uhn_ini")
    (suite / "tests").mkdir()
    (suite / "tests" / "test_ini.py").write_text(PLUGIN_TEST.format(name="uhn_ini"))
    (suite / "pytest.ini").write_text("[pytest]\numl_drivers = mydrivers\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run(
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "-c", str(suite / "pytest.ini"), "--rootdir", str(suite), str(suite / "tests"),
        cwd=elsewhere,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 passed" in result.stdout


def test_a_driver_warning_is_quoted_once_with_the_users_line(repo: Path) -> None:
    write_driver(repo / "drivers", "uhn_main", body="\tint unused;")
    (repo / "tests").mkdir()
    for number in (1, 2, 3):
        (repo / "tests" / f"test_{number}.py").write_text(PLUGIN_TEST.format(name="uhn_main"))
    result = run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=repo)
    assert result.returncode == 1
    source = repo / "drivers" / "uhn_main" / "uhn_main.c"
    errors = result.stdout.partition("short test summary info")[0]
    assert errors.count(f"{source}:7:13: warning: unused variable 'unused'") == 1, errors
    assert errors.count("its error is reported at tests/test_1.py::test_loads") == 2
    assert "3 errors" in result.stdout


def test_the_cli_quotes_a_build_warning_line_by_line(repo: Path) -> None:
    write_driver(repo / "drivers", "uhn_main", body="\tint unused;")
    result = run(UMLHARNESS, "drivers", "build", cwd=repo)
    assert result.returncode == 2
    # (After the progress lines.)
    lines = result.stderr.partition("umlharness: error: ")[2].splitlines()
    lines[0] = "umlharness: error: " + lines[0]
    assert lines[0] == (
        "umlharness: error: driver uhn_main builds with 1 warning(s) "
        "(W=1; warnings fail the build):"
    )
    source = repo / "drivers" / "uhn_main" / "uhn_main.c"
    assert lines[1] == f"  {source}:7:13: warning: unused variable 'unused' [-Wunused-variable]"
    assert lines[2].strip() == "7 |         int unused;"
