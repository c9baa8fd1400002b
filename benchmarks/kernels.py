"""The kernel the benchmarks boot; `--kernels 6.1,6.12` runs them once per series."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from umlharness import Artifacts, prepare
from umlharness.artifacts import ArtifactRequest
from umlharness.kernel import KernelRequest
from umlharness.source import DEFAULT_SERIES

_series = DEFAULT_SERIES


def artifacts(variant: str = "default") -> Artifacts:
    """Kernel, drivers and rootfs of the series being measured (built if missing)."""
    return prepare(ArtifactRequest(KernelRequest(series=_series, variant=variant)))


@contextmanager
def on_kernel(series: str) -> Iterator[None]:
    """Measure on `series`; the harness commands a benchmark starts use it too."""
    global _series
    previous, previous_env = _series, os.environ.get("UMLHARNESS_KERNEL")
    _series = series
    os.environ["UMLHARNESS_KERNEL"] = series
    try:
        yield
    finally:
        _series = previous
        if previous_env is None:
            os.environ.pop("UMLHARNESS_KERNEL", None)
        else:
            os.environ["UMLHARNESS_KERNEL"] = previous_env


def ratios(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """other/base for every median the two results share, by benchmark and figure."""
    found: dict[str, Any] = {}
    for name, figures in base.items():
        for figure, value in figures.items():
            theirs = other.get(name, {}).get(figure)
            if isinstance(value, dict) and isinstance(theirs, dict) and value.get("median"):
                found.setdefault(name, {})[figure] = round(theirs["median"] / value["median"], 3)
    return found
