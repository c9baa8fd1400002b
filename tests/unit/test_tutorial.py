"""The docs quote real files: each excerpt must still be in the file it names."""

from __future__ import annotations

import re

import pytest

from umlharness.paths import PROJECT_ROOT

TUTORIAL = PROJECT_ROOT / "docs" / "tutorial.md"
QUOTING = [TUTORIAL, PROJECT_ROOT / "docs" / "pci.md"]
# "From [`PATH`](../PATH):", a blank line, then a fenced block.
EXCERPT = re.compile(r"^From \[`([^`]+)`\]\(\.\./\1\):\n\n```\w*\n(.*?)\n```$", re.M | re.S)
EXCERPTS = [found for doc in QUOTING for found in EXCERPT.findall(doc.read_text())]
# The repository the tutorial walks through: each of its files is quoted.
EXAMPLE = "examples/gpio8"
EXAMPLE_FILES = [
    "pyproject.toml",
    "drivers/gpio8/Kbuild",
    "drivers/gpio8/uh_gpio8.c",
    "drivers/gpio8/gpio8_regs.h",
    "gpio8_model/regs.py",
    "gpio8_model/model.py",
    "gpio8_model/device.py",
    "gpio8_model/cli.py",
    "tests/test_gpio8.py",
]


def test_the_tutorial_has_excerpts() -> None:
    assert len(EXCERPT.findall(TUTORIAL.read_text())) >= 10


@pytest.mark.parametrize(
    ("path", "excerpt"), EXCERPTS, ids=[f"{path}:{i}" for i, (path, _) in enumerate(EXCERPTS)]
)
def test_excerpt_is_in_its_file(path: str, excerpt: str) -> None:
    lines = (PROJECT_ROOT / path).read_text().splitlines()
    quoted = excerpt.splitlines()
    starts = [i for i in range(len(lines)) if lines[i : i + len(quoted)] == quoted]
    assert starts, f"the docs quote lines that are not in {path}:\n{excerpt}"


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_the_tutorial_quotes_the_example_file(name: str) -> None:
    assert (PROJECT_ROOT / EXAMPLE / name).is_file()
    quoted = {path for path, _ in EXCERPT.findall(TUTORIAL.read_text())}
    assert f"{EXAMPLE}/{name}" in quoted, f"docs/tutorial.md quotes nothing of {EXAMPLE}/{name}"


def test_the_example_driver_has_one_description_line() -> None:
    # `python3 -m benchmarks edit-test` times the tutorial's edit-test loop by
    # rewriting this one line in a copy of the example.
    driver = (PROJECT_ROOT / EXAMPLE / "drivers/gpio8/uh_gpio8.c").read_text()
    assert len(re.findall(r'^MODULE_DESCRIPTION\(".*"\);$', driver, re.M)) == 1
