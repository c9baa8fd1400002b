from pathlib import Path

import pytest

from umlharness import source as source_module
from umlharness.errors import HarnessError
from umlharness.source import KernelSource


def test_no_distro_source_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source_module, "DISTRO_SOURCE_DIR", tmp_path)
    with pytest.raises(HarnessError, match=r"apt-get install linux-source-6\.1"):
        KernelSource.find()


def test_the_tarball_of_the_series_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source_module, "DISTRO_SOURCE_DIR", tmp_path)
    for version in ("5.10", "6.1", "6.12"):
        (tmp_path / f"linux-source-{version}.tar.xz").write_bytes(b"")
    assert KernelSource.find().path.name == "linux-source-6.1.tar.xz"  # the default
    assert KernelSource.find(series="6.12").path.name == "linux-source-6.12.tar.xz"
    with pytest.raises(HarnessError, match=r"apt-get install linux-source-6\.6"):
        KernelSource.find(series="6.6")


def test_tree_series_from_makefile(tmp_path: Path) -> None:
    (tmp_path / "arch" / "um").mkdir(parents=True)
    (tmp_path / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 99\n")
    assert KernelSource.find(tmp_path).series == "6.1"


def test_explicit_path_must_exist_and_be_a_kernel(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="does not exist"):
        KernelSource.find(tmp_path / "missing")
    with pytest.raises(HarnessError, match="not a kernel tree"):
        KernelSource.find(tmp_path)


def test_identity_changes_with_the_tarball(tmp_path: Path) -> None:
    tarball = tmp_path / "linux-source-6.1.tar.xz"
    tarball.write_bytes(b"a")
    before = KernelSource(tarball).identity()
    tarball.write_bytes(b"ab")
    assert KernelSource(tarball).identity() != before
