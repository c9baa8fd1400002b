"""The COW file the harness writes for UML (its layout is checked by every boot too)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from umlharness.cow import ALIGNMENT, HEADER, MAGIC, SECTOR_SIZE, write_cow


def test_the_header_names_the_backing_file_its_mtime_and_size(tmp_path: Path) -> None:
    backing = tmp_path / "rootfs.ext4"
    backing.write_bytes(b"\0" * (1 << 20))
    os.utime(backing, (1_700_000_000, 1_700_000_000))
    cow = tmp_path / "root.cow"
    write_cow(cow, backing)
    magic, version, mtime, size, sector, align, fmt, name = HEADER.unpack_from(cow.read_bytes())
    assert (magic, version, mtime, size, sector, align, fmt) == (
        MAGIC,
        3,
        1_700_000_000,
        1 << 20,
        SECTOR_SIZE,
        ALIGNMENT,
        0,
    )
    assert name.rstrip(b"\0") == os.fsencode(backing)
    # Header in the first 8 KiB, a 256-byte bitmap (2048 sectors) in the next 4 KiB,
    # then the disk: UML's create_cow_file gives the same size.
    assert cow.stat().st_size == 8192 + 4096 + (1 << 20)


def test_an_existing_file_or_a_relative_backing_path_is_refused(tmp_path: Path) -> None:
    backing = tmp_path / "rootfs.ext4"
    backing.write_bytes(b"\0" * 4096)
    cow = tmp_path / "root.cow"
    write_cow(cow, backing)
    with pytest.raises(FileExistsError):
        write_cow(cow, backing)
    os.chdir(tmp_path)
    with pytest.raises(ValueError, match="absolute path"):
        write_cow(tmp_path / "other.cow", Path("rootfs.ext4"))
