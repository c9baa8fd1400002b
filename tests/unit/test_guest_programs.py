"""The guest programs of userspace/: which directories are programs, the
headers they share in userspace/include/, and the rootfs key covering them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from umlharness import paths
from umlharness.drivers import tree_digest
from umlharness.rootfs import build_programs, program_dirs


def test_include_is_not_a_program() -> None:
    userspace = paths.userspace_dir()
    assert (userspace / "include" / "uh_crc32.h").is_file()
    names = [p.name for p in program_dirs(userspace)]
    assert "include" not in names
    assert {"fpga_reader", "udpcheck"} <= set(names)


def test_rootfs_key_covers_the_shared_headers() -> None:
    # build_rootfs keys the image on tree_digest(userspace): an edited header
    # makes a new image.
    assert "include/uh_crc32.h" in tree_digest(paths.userspace_dir())


def test_programs_build_with_the_shared_headers(tmp_path: Path) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("no gcc")
    userspace = tmp_path / "userspace"
    (userspace / "include").mkdir(parents=True)
    (userspace / "include" / "answer.h").write_text("static int answer(void) { return 42; }\n")
    (userspace / "hello").mkdir()
    (userspace / "hello" / "hello.c").write_text(
        '#include <stdio.h>\n#include "answer.h"\n'
        'int main(void) { printf("%d\\n", answer()); return 0; }\n'
    )
    bindir = tmp_path / "bin"
    bindir.mkdir()
    built = build_programs(userspace, bindir, tmp_path / "build.log")
    assert built == [bindir / "hello"]
    out = subprocess.run([str(bindir / "hello")], capture_output=True, text=True, check=True)
    assert out.stdout == "42\n"
