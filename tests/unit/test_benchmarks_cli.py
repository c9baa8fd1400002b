"""The benchmark runner's command line: checked before any benchmark runs."""

from __future__ import annotations

import pytest

from benchmarks.__main__ import available, main, take_kernels
from benchmarks.kernels import ratios


def test_help_without_a_name_shows_every_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in available():
        assert f"python3 -m benchmarks {name}" in out


def test_an_option_no_named_benchmark_takes_fails_before_any_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["boot", "pci", "--rnus", "3"]) == 2
    assert capsys.readouterr().err.strip() == "no benchmark named takes --rnus"


def test_an_unknown_benchmark_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bogus"]) == 2
    assert "unknown benchmark(s): bogus" in capsys.readouterr().err


def test_kernels_are_taken_out_of_the_arguments() -> None:
    assert take_kernels(["boot", "--kernels", "6.1,6.12", "--runs", "3"]) == (
        ("6.1", "6.12"),
        ["boot", "--runs", "3"],
    )
    assert take_kernels(["boot", "--kernels=6.12"]) == (("6.12",), ["boot"])
    assert take_kernels(["boot"]) == (None, ["boot"])


def test_ratios_compare_the_medians_both_kernels_have() -> None:
    base = {"boot": {"to_shell": {"median": 0.2}, "kernel": "6.1.192"}}
    other = {"boot": {"to_shell": {"median": 0.3}, "kernel": "6.12.117"}}
    assert ratios(base, other) == {"boot": {"to_shell": 1.5}}
