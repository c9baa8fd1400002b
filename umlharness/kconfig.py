"""Kconfig as a value: parse fragments and .config files, merge them, compare them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import HarnessError

_SET = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
_UNSET = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")


@dataclass(frozen=True)
class Kconfig:
    """A set of options, each `CONFIG_NAME -> value`; "n" stands for "is not set"."""

    options: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, origin: str = "<text>") -> Kconfig:
        options: dict[str, str] = {}
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line:
                continue
            if match := _SET.match(line):
                options[match[1]] = match[2]
            elif match := _UNSET.match(line):
                options[match[1]] = "n"
            elif line.startswith("#"):
                continue
            else:
                raise HarnessError(f"{origin}:{number}: not a Kconfig line: {raw!r}")
        return cls(options)

    @classmethod
    def read(cls, path: Path) -> Kconfig:
        return cls.parse(path.read_text(), origin=str(path))

    @classmethod
    def merge_files(cls, paths: Iterable[Path]) -> Kconfig:
        merged = cls()
        for path in paths:
            merged = merged.merged(cls.read(path))
        return merged

    def merged(self, other: Kconfig) -> Kconfig:
        """This config with `other`'s options laid over it."""
        return Kconfig({**self.options, **other.options})

    def dropped_from(self, result: Kconfig) -> dict[str, tuple[str, str | None]]:
        """Options of this fragment that `result` (a full .config) does not hold.

        Returns `{name: (wanted, got)}`; `got` is None where `result` lacks the option.
        """
        dropped: dict[str, tuple[str, str | None]] = {}
        for name, wanted in self.options.items():
            got = result.options.get(name)
            if got == wanted or (wanted == "n" and got is None):
                continue
            dropped[name] = (wanted, got)
        return dropped

    def to_text(self) -> str:
        lines = []
        for name in sorted(self.options):
            value = self.options[name]
            lines.append(f"# {name} is not set" if value == "n" else f"{name}={value}")
        return "\n".join(lines) + "\n"
