"""Kernel series ("6.1", "6.12") as values: parsed, compared, matched against a
requirement such as ">=6.3" (`@pytest.mark.uml(kernel=...)`)."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

from .errors import HarnessError

_REQUIREMENT = re.compile(r"^\s*(>=|<=|==|!=|>|<)?\s*(\d+\.\d+)\s*$")
_OPERATORS: dict[str, Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}


def version(series: str) -> tuple[int, ...]:
    """ "6.12" -> (6, 12), for comparing series numerically."""
    if not re.fullmatch(r"\d+\.\d+", series):
        raise HarnessError(f"{series!r} is not a kernel series such as 6.12")
    return tuple(int(part) for part in series.split("."))


def matches(series: str, requirement: str) -> bool:
    """Whether `series` meets `requirement`: "6.12", ">=6.3", "<6.4", "!=6.1"; several
    joined with "," must all hold."""
    for part in requirement.split(","):
        match = _REQUIREMENT.match(part)
        if match is None:
            raise HarnessError(f"kernel requirement {part.strip()!r} is not like '>=6.3'")
        compare = _OPERATORS[match[1] or "=="]
        if not compare(version(series), version(match[2])):
            return False
    return True


def parse_list(text: str, named: str) -> tuple[str, ...]:
    """ "6.1,6.12" -> ("6.1", "6.12"), each checked, none twice."""
    found = tuple(part.strip() for part in text.split(",") if part.strip())
    if not found:
        raise HarnessError(f"{named}: no kernel series given")
    for series in found:
        version(series)
    if len(set(found)) != len(found):
        raise HarnessError(f"{named}: a kernel series is given twice ({text})")
    return found
