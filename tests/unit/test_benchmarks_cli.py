"""The benchmark runner's command line: checked before any benchmark runs."""

from __future__ import annotations

import pytest

from benchmarks.__main__ import available, main


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
