"""Kernel series as values."""

from __future__ import annotations

import pytest

from umlharness.errors import HarnessError
from umlharness.series import matches, parse_list, version


def test_series_compare_as_numbers() -> None:
    assert version("6.12") > version("6.3") > version("6.1")


@pytest.mark.parametrize(
    ("series", "requirement", "expected"),
    [
        ("6.12", ">=6.3", True),
        ("6.1", ">=6.3", False),
        ("6.1", "6.1", True),
        ("6.12", "6.1", False),
        ("6.12", "<6.13,>6.3", True),
        ("6.1", "!=6.1", False),
        ("6.3", "<= 6.3", True),
    ],
)
def test_requirements(series: str, requirement: str, expected: bool) -> None:
    assert matches(series, requirement) is expected


def test_bad_input_is_one_clear_error() -> None:
    with pytest.raises(HarnessError, match=r"'~6\.1' is not like '>=6\.3'"):
        matches("6.1", "~6.1")
    with pytest.raises(HarnessError, match=r"'6' is not a kernel series"):
        parse_list("6.1,6", "--uml-kernel")
    with pytest.raises(HarnessError, match="given twice"):
        parse_list("6.1, 6.1", "--uml-kernel")
    assert parse_list(" 6.1 ,6.12", "--uml-kernel") == ("6.1", "6.12")
