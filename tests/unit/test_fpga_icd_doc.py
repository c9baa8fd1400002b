"""docs/icd.md is generated from the ICD's definitions and must not drift from them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from simulators.fpga import icd, icd_doc, regs

DOC = Path(__file__).resolve().parents[2] / "docs" / "icd.md"
REGENERATE = "python -m simulators.fpga.icd_doc > docs/icd.md"


def test_docs_icd_md_is_up_to_date() -> None:
    assert DOC.read_text() == icd_doc.render(), f"docs/icd.md is stale: run `{REGENERATE}`"


def test_the_module_prints_the_page() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "simulators.fpga.icd_doc"],
        capture_output=True,
        text=True,
        check=True,
        cwd=DOC.parents[1],
    ).stdout
    assert printed == icd_doc.render()


def test_the_page_follows_the_definitions(monkeypatch: pytest.MonkeyPatch) -> None:
    """A changed definition changes the page, so the up-to-date test would catch it."""
    before = icd_doc.render()
    monkeypatch.setattr(icd, "PAYLOADS", {**icd.PAYLOADS, icd.ReportType.ECHO: icd.EMPTY})
    assert icd_doc.render() != before


def test_every_field_and_register_is_on_the_page() -> None:
    page = icd_doc.render()
    for layout in (icd.HEADER, icd.COMMAND_HEADER, *icd.PAYLOADS.values()):
        for subcon in layout.subcons:
            if subcon.name:
                assert f"`{subcon.name}`" in page
    for subcon in regs.FPGA.subcons:
        if subcon.name:
            assert f"`{subcon.name}`" in page
    assert "| 24 | `crc32` | u32 |" in page
    assert "| 0x0028 | `REPORT_RING_HEAD` | u32 |" in page
    assert "| 1 | `IRQ_EN` |" in page
