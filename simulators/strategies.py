"""hypothesis strategies for weird register contents, derived from a construct register map.

The first piece of fuzzing from the device side (docs/faults.md): what a
driver may read from its device, drawn register by register. Each
register's bytes come from one of:

- any bytes at all, so reserved bits and values no datasheet lists turn up;
- all zeros or all ones (a device in reset, or gone);
- for a bit-field register, each field drawn over its whole range and the
  register built by construct (values that look right, combined oddly);
- for an integer register, its smallest, largest or any value.

hypothesis shrinks a failing example towards zeros, so a reproducer ends up
naming only the registers that matter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from .regfile import Register, layout_registers


def register_bytes(register: Register) -> st.SearchStrategy[bytes]:
    """The bytes of one register, as a driver might find them."""
    size = register.size
    extremes = st.sampled_from([bytes(size), b"\xff" * size])
    anything = st.binary(min_size=size, max_size=size)
    if register.is_bitfield:
        fields = {
            field.name: st.booleans() if field.flag else st.integers(0, (1 << field.width) - 1)
            for field in register.fields.values()
        }
        structured = st.fixed_dictionaries(fields).map(
            lambda values: bytes(register.subcon.build(values))
        )
    else:
        low, high = register.value_range
        structured = st.one_of(st.sampled_from([low, high]), st.integers(low, high)).map(
            lambda value: bytes(register.subcon.build(value))
        )
    return st.one_of(extremes, structured, anything)


def register_contents(
    layout: Any, *, fixed: Mapping[str, bytes] | None = None
) -> st.SearchStrategy[bytes]:
    """The bytes of a whole register map (a construct Struct), each register drawn
    with `register_bytes`; the registers in `fixed` keep the bytes given (an ID
    the driver checks before anything else, say). Gaps between registers are
    drawn as any bytes."""
    fixed = dict(fixed or {})
    registers = layout_registers(layout)
    unknown = sorted(set(fixed) - set(registers))
    if unknown:
        raise ValueError(f"no register named {', '.join(unknown)} in the map")
    for name, data in fixed.items():
        if len(data) != registers[name].size:
            raise ValueError(f"{name} is {registers[name].size} bytes, not {len(data)}")
    size = int(layout.sizeof())
    parts: list[st.SearchStrategy[bytes]] = []
    at = 0
    for register in sorted(registers.values(), key=lambda r: r.offset):
        if register.offset > at:
            gap = register.offset - at
            parts.append(st.binary(min_size=gap, max_size=gap))
        if register.name in fixed:
            parts.append(st.just(fixed[register.name]))
        else:
            parts.append(register_bytes(register))
        at = register.offset + register.size
    if size > at:
        parts.append(st.binary(min_size=size - at, max_size=size - at))
    return st.tuples(*parts).map(b"".join)
