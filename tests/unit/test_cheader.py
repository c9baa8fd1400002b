"""The drivers' register headers are generated from the construct maps and must not drift."""

from __future__ import annotations

import enum
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from construct import (
    BitsInteger,
    BitStruct,
    ByteSwapped,
    Flag,
    Int8sl,
    Int8ul,
    Int16sl,
    Int16ub,
    Int32ul,
    Padding,
    Struct,
)

from simulators import cheader
from simulators.cheader import CHeader, render
from simulators.fpga import regs as fpga_regs
from umlharness.testing import check_header

ROOT = Path(__file__).resolve().parents[2]
HEADERS = [cheader.load(module) for module in cheader.PROJECT]


@pytest.mark.parametrize("header", HEADERS, ids=[h.path for h in HEADERS])
def test_the_committed_header_is_up_to_date(header: CHeader) -> None:
    check_header(header, root=ROOT)


@pytest.mark.parametrize("header", HEADERS, ids=[h.path for h in HEADERS])
def test_its_driver_includes_it(header: CHeader) -> None:
    device = header.module.split(".")[1]
    driver = ROOT / "drivers" / device / f"uh_{device}.c"
    assert f"#include <{header.include}>" in driver.read_text()


def test_check_passes_in_the_project() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "simulators.cheader", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")


class Mode(enum.IntEnum):
    """Operating modes."""

    OFF = 0
    FAST = 12


class Cmd(enum.IntFlag):
    """Commands."""

    GO = 0x80
    BOTH = 0x03


IRQ_BITS = ByteSwapped(
    BitStruct(
        "Reserved" / BitsInteger(8),
        "LEVEL" / BitsInteger(4),
        "Reserved" / BitsInteger(2),
        "ERROR" / Flag,
        "READY" / Flag,
    )
)
WIDE_BITS = ByteSwapped(
    BitStruct("VALID" / Flag, "Reserved" / BitsInteger(23), "HI" / BitsInteger(40))
)
MAP = Struct(
    "ID" / Int32ul,
    "IRQ_STATUS" / IRQ_BITS,
    "IRQ_MASK" / IRQ_BITS,
    "TEMP" / Int16sl,
    Padding(0x10 - 0x0A),
    "STAMP" / WIDE_BITS,
    Padding(0x100 - 0x18),
)
MESSAGE = Struct("magic" / Int32ul, "kind" / Int8ul, Padding(1), "len" / Int16ub, "delta" / Int8sl)
DEMO = CHeader(
    path="include/demo/dev_regs.h",
    module="demo.regs",
    title="a demo device",
    registers=MAP,
    prefix="DEV_",
    field_prefixes={"IRQ_STATUS": "DEV_IRQ_", "IRQ_MASK": "DEV_IRQ_", "STAMP": "DEV_STAMP_"},
    constants={"DEV_SIZE": 0x100, "DEV_ID_VALUE": 0x44454D4F, "DEV_VERSION": 2},
    enums={"DEV_MODE_": Mode, "DEV_CMD_": Cmd},
    structs={"dev_message": MESSAGE},
)
EXPECTED = """\
/* SPDX-License-Identifier: GPL-2.0 */
/*
 * demo/dev_regs.h - a demo device
 *
 * Generated from demo/regs.py,
 * do not edit; regenerate with:
 *	python -m simulators.cheader demo.regs
 */
#ifndef DEMO_DEV_REGS_H
#define DEMO_DEV_REGS_H

#include <linux/bits.h>
#include <linux/build_bug.h>
#include <linux/types.h>

#define DEV_SIZE	0x100
#define DEV_ID_VALUE	0x44454d4f		/* "DEMO" */
#define DEV_VERSION	2

/* Registers: offsets in the map */
#define DEV_ID		0x00			/* u32 */
#define DEV_IRQ_STATUS	0x04			/* u16 */
#define DEV_IRQ_MASK	0x06			/* u16 */
#define DEV_TEMP	0x08			/* s16 */
#define DEV_STAMP	0x10			/* u64 */

/* IRQ_STATUS, IRQ_MASK bits */
#define DEV_IRQ_LEVEL	GENMASK(7, 4)
#define DEV_IRQ_ERROR	BIT(1)
#define DEV_IRQ_READY	BIT(0)

/* STAMP bits */
#define DEV_STAMP_VALID	BIT_ULL(63)
#define DEV_STAMP_HI	GENMASK_ULL(39, 0)

/* Operating modes */
#define DEV_MODE_OFF	0
#define DEV_MODE_FAST	12

/* Commands */
#define DEV_CMD_GO	BIT(7)
#define DEV_CMD_BOTH	0x3

struct dev_message {
	__le32 magic;
	u8 kind;
	u8 pad2[1];
	__be16 len;
	s8 delta;
} __packed;

static_assert(sizeof(struct dev_message) == 9);

#endif /* DEMO_DEV_REGS_H */
"""


def test_a_header_from_a_map() -> None:
    assert render(DEMO) == EXPECTED


def test_the_header_follows_the_map() -> None:
    moved = Struct(*MAP.subcons[:3], Padding(2), *MAP.subcons[3:6], Padding(0x100 - 0x1A))
    text = render(CHeader(**{**DEMO.__dict__, "registers": moved}))
    assert "#define DEV_TEMP\t0x0a\t\t\t/* s16 */\n" in text


def test_a_name_defined_twice_is_an_error() -> None:
    # STATUS.OVERFLOW and INTR_STATUS.OVERFLOW are both FPGA_OVERFLOW without field prefixes.
    clashing = CHeader(**{**fpga_regs.C_HEADER.__dict__, "field_prefixes": {}})
    with pytest.raises(ValueError, match="FPGA_OVERFLOW is defined twice"):
        render(clashing)


def test_field_prefixes_name_registers() -> None:
    typo = CHeader(**{**DEMO.__dict__, "field_prefixes": {"IRQ_STAT": "DEV_IRQ_"}})
    with pytest.raises(ValueError, match="field_prefixes names no register of the map: IRQ_STAT"):
        render(typo)


def test_a_struct_of_other_fields_is_refused() -> None:
    greedy = CHeader(**{**DEMO.__dict__, "structs": {"bad": Struct("data" / Int8ul[4])}})
    with pytest.raises(TypeError, match="struct bad: field data is not an integer or Padding"):
        render(greedy)


def test_your_own_device(tmp_path: Path) -> None:
    """As docs/tutorial.md has it: a module of yours, a header in your drivers directory."""
    (tmp_path / "mydev.py").write_text(
        textwrap.dedent(
            """\
            from construct import BitsInteger, BitStruct, Flag, Int8ul, Padding, Struct

            from simulators.cheader import CHeader

            MYDEV = Struct("CTRL" / BitStruct("Reserved" / BitsInteger(7), "ON" / Flag), Padding(3),
                           "DATA" / Int8ul)
            C_HEADER = CHeader(path="drivers/include/mydev_regs.h", module=__name__,
                               title="my device", registers=MYDEV, prefix="MYDEV_")
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "simulators.cheader", *args, "mydev"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    missing = command()
    assert missing.returncode != 0
    assert "drivers/include does not exist" in missing.stderr
    (tmp_path / "drivers" / "include").mkdir(parents=True)
    assert "mydev_regs.h is missing" in command("--check").stderr
    assert command().stdout == "wrote drivers/include/mydev_regs.h\n"
    header = (tmp_path / "drivers" / "include" / "mydev_regs.h").read_text()
    assert "#include <linux/bits.h>" in header and "#define MYDEV_ON\tBIT(0)\n" in header
    assert " *\tpython -m simulators.cheader mydev\n" in header
    assert command("--check").returncode == 0
    (tmp_path / "drivers" / "include" / "mydev_regs.h").write_text(header + "/* edited */\n")
    stale = command("--check")
    assert stale.returncode == 1
    assert "mydev_regs.h is stale: run `python -m simulators.cheader mydev`" in stale.stderr
