"""The copy-on-write layer of a guest's root disk, written before UML starts.

UML creates a missing COW file itself, but only after an open of it has
failed with ENOENT, a branch that takes errno as it finds it: a boot in CI
once saw that open "fail" with EAGAIN instead, and gave up on its root disk
("Failed to open root.cow, errno = 11"; the kernel panics). A COW file that
exists is simply opened. The layout is UML's version 3 (arch/um/drivers/
cow_user.c): a big-endian header naming the backing file, its mtime and
size, then a bitmap of the sectors written, then the sectors; an all-zero
bitmap is a disk that reads as its backing file.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

MAGIC = 0x4F4F4F4D
VERSION = 3
SECTOR_SIZE = 512
#: What UML passes when it creates one (PAGE_SIZE): where the bitmap and the data start.
ALIGNMENT = 4096
PATH_LENGTH = 4096
HEADER = struct.Struct(f">IIIQIII{PATH_LENGTH}s")


def _divide_up(value: int, divisor: int) -> int:
    return (value + divisor - 1) // divisor


def _round_up(value: int, alignment: int) -> int:
    return _divide_up(value, alignment) * alignment


def write_cow(cow: Path, backing: Path) -> None:
    """A fresh COW file at `cow` over `backing` (an absolute path, as UML is given it)."""
    stat = backing.stat()
    name = os.fsencode(backing)
    if not backing.is_absolute() or len(name) >= PATH_LENGTH:
        raise ValueError(f"{backing}: the backing file needs an absolute path under 4096 bytes")
    header = HEADER.pack(
        MAGIC,
        VERSION,
        int(stat.st_mtime) & 0xFFFFFFFF,
        stat.st_size,
        SECTOR_SIZE,
        ALIGNMENT,
        0,  # COW_BITMAP
        name,
    )
    bitmap_offset = _round_up(HEADER.size, ALIGNMENT)
    bitmap_length = _divide_up(_divide_up(stat.st_size, SECTOR_SIZE), 8)
    data_offset = _round_up(bitmap_offset + bitmap_length, ALIGNMENT)
    with cow.open("xb") as out:
        out.write(header)
        # Sparse: the bitmap's zeros and the unwritten sectors take no space.
        out.truncate(data_offset + stat.st_size)
