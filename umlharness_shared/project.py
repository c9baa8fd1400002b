"""The user's project file: `[tool.umlharness]` in pyproject.toml.

    [tool.umlharness]
    drivers = ["drivers"]               # directories of module directories (Kbuild)
    kernel-config = ["kernel.config"]   # Kconfig fragments laid over the harness's
    model-paths = ["."]                 # where models (`--pci package.module:Class`) import from
    devices = ["mysensor.device:DEVICE"]  # devices for `sim` and the fixtures, uninstalled
    kernel = "6.12"                     # the distro source's series (default 6.1)
    kernel-source = "/usr/src/linux-source-6.1.tar.xz"  # or a tree, tarball, checkout
    mem = "128M"
    timeout = 60

Found by walking up from a directory (the current one for the CLIs, pytest's
rootdir for the plugin) to the first pyproject.toml. Paths resolve against
the file's directory. `umlharness`, `sim` and the pytest plugin all read it;
the command line and the environment win over it, and it wins over pytest's
ini options. Types are checked here; values such as `mem` where they are used.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import HarnessError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

FILE_NAME = "pyproject.toml"
TABLE = "tool.umlharness"


@dataclass(frozen=True)
class Project:
    """The settings of one project file (all empty when there is none)."""

    file: Path | None = None
    drivers: tuple[Path, ...] = ()
    kernel_config: tuple[Path, ...] = ()
    model_paths: tuple[Path, ...] = ()
    kernel: str | None = None
    kernel_source: Path | None = None
    mem: str | None = None
    timeout: float | None = None
    devices: tuple[str, ...] = ()
    #: Keys given, for "is this set here?" in error messages.
    keys: frozenset[str] = field(default_factory=frozenset)

    @property
    def where(self) -> str:
        return f"[{TABLE}] in {self.file}"

    @classmethod
    def find(cls, start: Path | None = None) -> Project:
        """The project file at or above `start` (default: the current directory)."""
        start = (start or Path.cwd()).resolve()
        for directory in (start, *start.parents):
            candidate = directory / FILE_NAME
            if candidate.is_file():
                return cls.read(candidate)
        return cls()

    @classmethod
    def read(cls, file: Path) -> Project:
        try:
            data = tomllib.loads(file.read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise HarnessError(f"cannot read {file}: {error}") from None
        table = data.get("tool", {}).get("umlharness")
        if table is None:
            return cls(file=file)
        if not isinstance(table, dict):
            raise HarnessError(f"{file}: [{TABLE}] must be a table")
        return cls.from_table(table, file)

    @classmethod
    def from_table(cls, table: dict[str, Any], file: Path) -> Project:
        where = f"[{TABLE}] in {file}"
        unknown = sorted(set(table) - set(_READERS))
        if unknown:
            raise HarnessError(
                f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_READERS))})"
            )
        base = file.parent
        values = {
            key.replace("-", "_"): reader(table[key], f"{key} ({where})", base)
            for key, reader in _READERS.items()
            if key in table
        }
        return cls(file=file, keys=frozenset(table), **values)


def _paths(value: Any, named: str, base: Path) -> tuple[Path, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise HarnessError(f"{named} must be a path or a list of paths")
    return tuple((base / v).resolve() for v in value)


def _existing_dirs(value: Any, named: str, base: Path) -> tuple[Path, ...]:
    found = _paths(value, named, base)
    for path in found:
        if not path.is_dir():
            raise HarnessError(f"{named}: {path} is not a directory")
    return found


def _existing_files(value: Any, named: str, base: Path) -> tuple[Path, ...]:
    found = _paths(value, named, base)
    for path in found:
        if not path.is_file():
            raise HarnessError(f"{named}: {path} is not a file")
    return found


def _one_path(value: Any, named: str, base: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise HarnessError(f"{named} must be a path")
    return (base / value).resolve()


def _series(value: Any, named: str, base: Path) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"\d+\.\d+", value):
        raise HarnessError(f'{named} must be a kernel series such as "6.12"')
    return value


def _mem(value: Any, named: str, base: Path) -> str:
    if not isinstance(value, str):
        raise HarnessError(f'{named} must be a string such as "128M"')
    return value


def _seconds(value: Any, named: str, base: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise HarnessError(f"{named} must be a positive number of seconds")
    return float(value)


def _objects(value: Any, named: str, base: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and ":" in v for v in value):
        raise HarnessError(f'{named} must be a list of "package.module:ATTRIBUTE"')
    return tuple(value)


_READERS: dict[str, Callable[[Any, str, Path], Any]] = {
    "drivers": _existing_dirs,
    "kernel-config": _existing_files,
    "model-paths": _existing_dirs,
    "kernel": _series,
    "kernel-source": _one_path,
    "mem": _mem,
    "timeout": _seconds,
    "devices": _objects,
}


def add_model_paths(project: Project) -> None:
    """Make the project's models importable here, and in the processes this one
    starts (PCI backends get this process's import path: umlharness/pci.py)."""
    for path in reversed(project.model_paths):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
