"""The project file: [tool.umlharness] found above a directory, checked, paths resolved."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from umlharness_shared.errors import HarnessError
from umlharness_shared.project import Project, add_model_paths


def write(root: Path, table: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n[tool.umlharness]\n{table}")
    return root / "pyproject.toml"


def test_found_from_a_subdirectory_with_paths_resolved_against_the_file(tmp_path: Path) -> None:
    (tmp_path / "repo" / "drivers").mkdir(parents=True)
    (tmp_path / "repo" / "kernel.config").write_text("CONFIG_GPIOLIB=y\n")
    file = write(
        tmp_path / "repo",
        'drivers = ["drivers"]\nkernel-config = "kernel.config"\nmodel-paths = ["."]\n'
        'kernel-source = "../linux"\nmem = "256M"\ntimeout = 20\n'
        'devices = ["mine.device:DEVICE"]\n',
    )
    deep = tmp_path / "repo" / "tests" / "unit"
    deep.mkdir(parents=True)
    project = Project.find(deep)
    assert project.file == file
    assert project.drivers == (tmp_path / "repo" / "drivers",)
    assert project.kernel_config == (tmp_path / "repo" / "kernel.config",)
    assert project.model_paths == (tmp_path / "repo",)
    assert project.kernel_source == tmp_path / "linux"
    assert (project.mem, project.timeout, project.devices) == (
        "256M",
        20.0,
        ("mine.device:DEVICE",),
    )


def test_the_first_pyproject_up_the_tree_counts_even_without_a_table(tmp_path: Path) -> None:
    write(tmp_path, 'mem = "256M"\n')
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "pyproject.toml").write_text("[project]\nname = 'inner'\n")
    assert Project.find(inner) == Project(file=inner / "pyproject.toml")


def test_no_project_file_gives_empty_settings(tmp_path: Path) -> None:
    assert Project.find(tmp_path).drivers == ()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("bogus = 1\n", "unknown key 'bogus' (known: devices, drivers,"),
        ('drivers = ["missing"]\n', "missing is not a directory"),
        ("drivers = [1]\n", "drivers (.*) must be a path or a list of paths"),
        ('kernel-config = ["nope.config"]\n', "nope.config is not a file"),
        ("mem = 128\n", 'mem (.*) must be a string such as "128M"'),
        ("timeout = -1\n", "timeout (.*) must be a positive number of seconds"),
        ('timeout = "10"\n', "timeout (.*) must be a positive number of seconds"),
        ('devices = ["no_colon"]\n', 'devices (.*) must be a list of "package.module:ATTRIBUTE"'),
        ("drivers = [\n", "cannot read (.*)pyproject.toml"),
    ],
)
def test_bad_settings_are_one_clear_error(tmp_path: Path, table: str, message: str) -> None:
    write(tmp_path, table)
    pattern = ".*".join(re.escape(part) for part in message.split("(.*)"))
    with pytest.raises(HarnessError, match=pattern):
        Project.find(tmp_path)


def test_model_paths_go_first_on_the_import_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "models").mkdir()
    write(tmp_path, 'model-paths = ["models"]\n')
    monkeypatch.setattr(sys, "path", list(sys.path))
    add_model_paths(Project.find(tmp_path))
    assert sys.path[0] == str(tmp_path / "models")
