"""iomem regions: the files UML maps as a device's register space.

On the command line a region is `NAME[=FILE][:SIZE]`. Without a file the
harness makes a fresh zeroed one of SIZE (default 1 MiB) in the instance's
directory for every boot, since UML keeps a file's contents between boots. A
file the user names is used as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from umlharness_shared.iomemfile import check_register_file

from .errors import HarnessError

DEFAULT_SIZE = 1 << 20
MAX_SIZE = 1 << 30
PAGE_SIZE = 4096
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
_SIZE = re.compile(r"^(0x[0-9a-fA-F]+|\d+)([KkMmGg]?)$")
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_size(text: str) -> int:
    """'4096', '0x1000', '64K', '1M' -> bytes."""
    match = _SIZE.match(text.strip())
    if not match:
        raise HarnessError(f"bad size {text!r}: use bytes, hex, or a K/M/G suffix (e.g. 64K)")
    return int(match[1], 0) * _UNITS[match[2].lower()]


@dataclass(frozen=True)
class IomemSpec:
    """One region as asked for: its name, and a user file or a size for a fresh one."""

    name: str
    file: Path | None = None
    size: int = DEFAULT_SIZE

    @classmethod
    def parse(cls, text: str) -> IomemSpec:
        name, _, rest = text.partition("=")
        size_text = None
        if rest:
            _file_text, sep, maybe_size = rest.rpartition(":")
            if sep and _SIZE.match(maybe_size):
                raise HarnessError(
                    f"--iomem {text}: a named file is used at its own size; drop ':{maybe_size}'"
                )
            file = Path(rest).expanduser()
        else:
            name, sep, size_part = name.partition(":")
            file = None
            if sep and not size_part:
                raise HarnessError(f"--iomem {text}: empty size")
            size_text = size_part or None
        if not _NAME.match(name):
            raise HarnessError(
                f"--iomem {text}: region name {name!r} must be a C identifier of up to 32 chars"
            )
        size = DEFAULT_SIZE if size_text is None else parse_size(size_text)
        if not 0 < size <= MAX_SIZE:
            raise HarnessError(f"--iomem {text}: size must be between 1 byte and 1G")
        return cls(name, file, size)

    def materialise(self, instance_dir: Path) -> Path:
        """The file UML should map: the user's (checked) or a fresh zeroed one."""
        if self.file is None:
            path = instance_dir / f"iomem-{self.name}"
            with path.open("wb") as handle:
                handle.truncate(self.size)
            return path
        return check_register_file(self.file)


def region_size(file_size: int) -> int:
    """How much UML maps for a file: its size rounded up to a page, plus one page."""
    return (file_size + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE + PAGE_SIZE


def check_unique(specs: list[IomemSpec]) -> None:
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise HarnessError(f"--iomem {spec.name} is given twice")
        seen.add(spec.name)
