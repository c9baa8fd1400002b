import shutil
from pathlib import Path

import pytest

from umlharness import paths
from umlharness.errors import HarnessError
from umlharness.kconfig import Kconfig
from umlharness.kernel import KernelRequest, cache_key
from umlharness.source import KernelSource


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    copy = tmp_path / "uml-config"
    shutil.copytree(paths.config_dir(), copy)
    return copy


@pytest.fixture
def source(tmp_path: Path) -> KernelSource:
    tarball = tmp_path / "linux-source-6.1.tar.xz"
    tarball.write_bytes(b"not really a tarball")
    return KernelSource(tarball)


def key(config_dir: Path, source: KernelSource) -> str:
    request = KernelRequest(config_dir=config_dir)
    return cache_key(request, source, Kconfig.merge_files(request.fragments()))


def test_key_is_stable(config_dir: Path, source: KernelSource) -> None:
    assert key(config_dir, source) == key(config_dir, source)


def test_changed_fragment_changes_the_key(config_dir: Path, source: KernelSource) -> None:
    before = key(config_dir, source)
    with (config_dir / "drivers.config").open("a") as fragment:
        fragment.write("CONFIG_DUMMY=m\n")
    assert key(config_dir, source) != before


def test_changed_patch_changes_the_key(config_dir: Path, source: KernelSource) -> None:
    before = key(config_dir, source)
    patch = sorted((config_dir / "patches" / "6.1").glob("*.patch"))[0]
    patch.write_text(patch.read_text() + "\n")
    assert key(config_dir, source) != before


def test_unsupported_series_is_named(config_dir: Path) -> None:
    with pytest.raises(HarnessError, match=r"no patch set for Linux 9\.9"):
        KernelRequest(config_dir=config_dir).patches("9.9")


def test_unknown_variant_is_named(config_dir: Path) -> None:
    with pytest.raises(HarnessError, match="unknown kernel variant 'nope'"):
        KernelRequest(config_dir=config_dir, variant="nope").fragments()
