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
