"""Summaries of repeated measurements."""

from __future__ import annotations

import statistics


def summary(samples: list[float], scale: float = 1.0, digits: int = 4) -> dict[str, float]:
    """Median, p99, min and max of `samples`, multiplied by `scale`."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "median": round(statistics.median(ordered) * scale, digits),
        "p99": round(p99 * scale, digits),
        "min": round(ordered[0] * scale, digits),
        "max": round(ordered[-1] * scale, digits),
        "n": len(ordered),
    }
