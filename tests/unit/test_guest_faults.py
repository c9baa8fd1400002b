"""Checks of a guest fault request, before it reaches a guest."""

from __future__ import annotations

from typing import Any

import pytest

from umlharness.errors import HarnessError
from umlharness.guest_faults import GuestFaults


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kind": "disk"}, "one of slab, page"),
        ({"module": "r8169; reboot"}, "is not a module name"),
        ({"times": 0}, "at least 1, or -1"),
        ({"probability": 101}, "0 to 100"),
        ({"interval": 0}, "interval=0"),
    ],
)
def test_bad_requests_are_one_line_errors(options: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"module": "r8169", **options}
    with pytest.raises(HarnessError, match=message):
        GuestFaults(None, **arguments)  # type: ignore[arg-type]
