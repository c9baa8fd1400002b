"""C headers generated from a device's construct register map: `python -m simulators.cheader`.

A driver needs the offsets, bits and constants the simulator uses. Rather
than copy them by hand, the module that defines a register map also defines
`C_HEADER`, a `CHeader` saying what goes into the driver's header and where
the header lives, and

    python -m simulators.cheader [--check] [MODULE ...]

writes the header of each MODULE's `C_HEADER` (by default the project's
devices) to its `path`, relative to the current directory. The header names
the command that regenerates it; tests/unit/test_cheader.py fails when a
committed one is stale.

What a header holds, in kernel style: `#define`s for the constants, the
register offsets (`prefix` + register name), the bit fields of bit
registers (`BIT()` or `GENMASK()`, named by the field's prefix + field
name), and enum members; and packed structs, with their size asserted, for
fixed layouts such as a message header. Registers that share a bit layout
(an interrupt status and its mask) share one set of bit definitions.
"""

from __future__ import annotations

import argparse
import enum
import importlib
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import construct as cs

from .regfile import BitField, Register, layout_registers

COMMAND = "python -m simulators.cheader"
# The modules whose C_HEADER the command writes when it is given none.
PROJECT = ("simulators.thermo.regs", "simulators.fpga.regs", "simulators.rtl8111.regs")

Line = tuple[str, str, str]  # #define name, value, comment


@dataclass(frozen=True)
class CHeader:
    """One generated header: where it goes and what it holds."""

    path: str  # relative to where the command runs: "drivers/include/uh/thermo_regs.h"
    module: str  # the module that defines this (its `__name__`): the command names it
    title: str  # what the header describes, for its first comment line
    registers: Any  # the register map: a construct Struct, as RegisterFile takes it
    prefix: str = ""  # of the register offsets' names: "THERMO_" -> THERMO_CTRL
    # Prefix of a register's bit fields' names, by register (default: `prefix`).
    field_prefixes: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, int] = field(default_factory=dict)  # C name -> value
    # Prefix -> an enum whose members become #defines (an IntFlag's as BIT()).
    enums: Mapping[str, type[enum.Enum]] = field(default_factory=dict)
    structs: Mapping[str, Any] = field(default_factory=dict)  # C struct name -> construct Struct
    sources: tuple[str, ...] = ()  # files other than `module`'s that the definitions come from
    # The command the header says regenerates it (default: `python -m simulators.cheader MODULE`).
    command: str = ""

    @property
    def include(self) -> str:
        """The name a driver includes: the path below its `include/` directory."""
        parts = Path(self.path).parts
        below = parts[len(parts) - parts[::-1].index("include") :] if "include" in parts else ()
        return "/".join(below or parts[-1:])


def render(header: CHeader) -> str:
    """The header's text."""
    names = _Names()
    blocks: list[tuple[str, list[Line]]] = []
    if header.constants:
        lines = [(name, _number(value), _ascii(value)) for name, value in header.constants.items()]
        blocks.append(("", lines))
    registers = layout_registers(header.registers)
    unknown = sorted(set(header.field_prefixes) - set(registers))
    if unknown:
        raise ValueError(f"field_prefixes names no register of the map: {', '.join(unknown)}")
    blocks.append(("Registers: offsets in the map", _offsets(header, registers)))
    blocks += _bit_blocks(header, registers)
    for prefix, members in header.enums.items():
        lines = [(prefix + name, _enum_value(m), "") for name, m in members.__members__.items()]
        blocks.append((_enum_doc(members), lines))
    for _, lines in blocks:
        for name, _, _ in lines:
            names.claim(name)
    guard = re.sub(r"\W", "_", header.include).upper()
    sources = [header.module.replace(".", "/") + ".py", *header.sources]
    out = [
        "/* SPDX-License-Identifier: GPL-2.0 */",
        "/*",
        f" * {header.include} - {header.title}",
        " *",
        f" * Generated from {' and '.join(sources)},",
        " * do not edit; regenerate with:",
        f" *\t{header.command or f'{COMMAND} {header.module}'}",
        " */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        "#include <linux/bits.h>",
    ]
    if header.structs:
        out += ["#include <linux/build_bug.h>", "#include <linux/types.h>"]
    rows = [line for _, lines in blocks for line in lines]
    value_at = _tab_stop(max(len(f"#define {name}") for name, _, _ in rows))
    comment_at = _tab_stop(value_at + max(len(value) for _, value, _ in rows))
    for title, lines in blocks:
        out += ["", *([f"/* {title} */"] if title else [])]
        out += [_define(line, value_at, comment_at) for line in lines]
    for name, layout in header.structs.items():
        names.claim(f"struct {name}")
        out += ["", *_struct(name, layout)]
    out += ["", f"#endif /* {guard} */", ""]
    return "\n".join(out)


class _Names:
    """Each C name once: a clash is an error that says which names collide."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def claim(self, name: str) -> None:
        if not re.fullmatch(r"(struct )?[A-Za-z_]\w*", name):
            raise ValueError(f"{name!r} is not a C name")
        if name in self.taken:
            raise ValueError(f"{name} is defined twice: give the header other prefixes")
        self.taken.add(name)


def _offsets(header: CHeader, registers: Mapping[str, Register]) -> list[Line]:
    digits = max(2, len(f"{max(r.offset for r in registers.values()):x}"))
    return [
        (header.prefix + r.name, f"{r.offset:#0{digits + 2}x}", f"{'us'[r.signed]}{8 * r.size}")
        for r in registers.values()
    ]


def _bit_blocks(header: CHeader, registers: Mapping[str, Register]) -> list[tuple[str, list[Line]]]:
    """One block of bit definitions per bit layout: registers sharing one share the block."""
    blocks: dict[tuple[Line, ...], list[str]] = {}
    for register in registers.values():
        prefix = header.field_prefixes.get(register.name, header.prefix)
        fields = [f for f in register.fields.values() if f.name != "Reserved"]
        lines = tuple((prefix + f.name, _mask(f), "") for f in fields)
        if lines:
            blocks.setdefault(lines, []).append(register.name)
    return [(f"{', '.join(owners)} bits", list(lines)) for lines, owners in blocks.items()]


def _mask(bits: BitField) -> str:
    wide = "_ULL" if bits.bit + bits.width > 32 else ""
    if bits.width == 1:
        return f"BIT{wide}({bits.bit})"
    return f"GENMASK{wide}({bits.bit + bits.width - 1}, {bits.bit})"


def _number(value: int) -> str:
    return str(value) if -10 < value < 10 else f"{value:#x}"


def _ascii(value: int) -> str:
    """'"THMO"' for a 32-bit ID that spells a word, as device IDs often do."""
    text = value.to_bytes(4, "big").decode("latin-1") if 1 << 24 <= value < 1 << 32 else ""
    return f'"{text}"' if text.isascii() and text.isalpha() else ""


def _enum_value(member: enum.Enum) -> str:
    """An enum's value in decimal; a flag's as BIT(n), or in hexadecimal if it is several bits."""
    value = int(member.value)
    if not isinstance(member, enum.IntFlag):
        return str(value)
    return f"BIT({value.bit_length() - 1})" if value.bit_count() == 1 else f"{value:#x}"


def _enum_doc(members: type[enum.Enum]) -> str:
    """The enum's own docstring's first line (not one it inherits), or its name."""
    doc = vars(members).get("__doc__")
    first = doc.strip().splitlines()[0].rstrip(".") if isinstance(doc, str) and doc.strip() else ""
    return first or members.__name__


def _define(line: Line, value_at: int, comment_at: int) -> str:
    """A #define line, its value and comment at their columns (tab stops)."""
    name, value, comment = line
    text = _pad(f"#define {name}", value_at) + value
    return _pad(text, comment_at) + f"/* {comment} */" if comment else text


def _tab_stop(column: int) -> int:
    return (column // 8 + 1) * 8


def _pad(text: str, column: int) -> str:
    """`text` and the tabs that take it to `column`, a tab stop past its end."""
    return text + "\t" * ((column - len(text.expandtabs()) + 7) // 8)


def _struct(name: str, layout: Any) -> list[str]:
    """A packed C struct of a construct Struct's integer fields, its size asserted."""
    members = []
    for index, subcon in enumerate(layout.subcons):
        base = subcon
        while isinstance(base, cs.Renamed):
            base = base.subcon
        if subcon.name is None and isinstance(base, cs.Padded):
            members.append(f"\tu8 pad{index}[{base.length}];")
        elif subcon.name is not None and isinstance(base, cs.FormatField):
            members.append(f"\t{_c_type(base)} {subcon.name};")
        else:
            raise TypeError(f"struct {name}: field {subcon.name} is not an integer or Padding")
    size = int(layout.sizeof())
    return [
        f"struct {name} {{",
        *members,
        "} __packed;",
        "",
        f"static_assert(sizeof(struct {name}) == {size});",
    ]


def _c_type(subcon: Any) -> str:
    """u8, s8, __le32, __be16, u64: a FormatField's type as a driver declares it."""
    order, code = subcon.fmtstr[0], subcon.fmtstr[-1]
    bits = 8 * int(subcon.sizeof())
    if bits == 8 or order not in "<>":
        return f"{'s' if code.islower() else 'u'}{bits}"
    return f"__{'le' if order == '<' else 'be'}{bits}"


# --- the command -------------------------------------------------------------


def load(module: str) -> CHeader:
    """The `C_HEADER` of a module."""
    header = getattr(importlib.import_module(module), "C_HEADER", None)
    if not isinstance(header, CHeader):
        raise SystemExit(f"{COMMAND}: {module} defines no C_HEADER (a simulators.cheader.CHeader)")
    return header


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=COMMAND,
        description="Write the C header of each MODULE's C_HEADER to its path, "
        "relative to the current directory.",
    )
    parser.add_argument(
        "modules",
        nargs="*",
        metavar="MODULE",
        help=f"a module that defines C_HEADER (default: {' '.join(PROJECT)})",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a header is stale"
    )
    args = parser.parse_args(argv)
    stale = 0
    for module in args.modules or PROJECT:
        header = load(module)
        path = Path(header.path)
        try:
            text = render(header)
        except (TypeError, ValueError) as error:  # what the map or the spec gets wrong
            raise SystemExit(f"{COMMAND}: {module}: {error}") from None
        if path.is_file() and path.read_text() == text:
            continue
        if args.check:
            state = "stale" if path.exists() else "missing"
            print(f"{path} is {state}: run `{COMMAND} {module}`", file=sys.stderr)
            stale += 1
        elif not path.parent.is_dir():
            raise SystemExit(
                f"{COMMAND}: {path.parent} does not exist: run this in the directory "
                f"that {header.path} is relative to"
            )
        else:
            path.write_text(text)
            print(f"wrote {path}")
    return 1 if stale else 0


if __name__ == "__main__":
    # The specs import simulators.cheader, whose CHeader is not this __main__'s.
    from simulators import cheader

    sys.exit(cheader.main())
