"""A fragment option (ours or the user's) that does not survive olddefconfig stops the
build, named with the fragment that set it."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from umlharness import Artifacts, paths
from umlharness.errors import ConfigDropped, HarnessError
from umlharness.kernel import KernelRequest, build_kernel

pytestmark = pytest.mark.slow


def test_unknown_fragment_option_is_named(tmp_path: Path) -> None:
    config_dir = tmp_path / "uml-config"
    shutil.copytree(paths.config_dir(), config_dir)
    (config_dir / "extra.config").write_text(
        "CONFIG_NOT_A_REAL_OPTION=y\n# CONFIG_MMU is not set\n"
    )
    # A user's own fragment (a project's kernel-config) is laid over ours: GPIO_MOCKUP
    # depends on GPIOLIB, which nothing turns on, so it is dropped and named with its file.
    users = tmp_path / "my-driver" / "kernel.config"
    users.parent.mkdir()
    users.write_text("CONFIG_GPIO_MOCKUP=m\n")
    cache = tmp_path / "cache"
    request = KernelRequest(config_dir=config_dir, cache_root=cache, user_fragments=(users,))
    assert request.fragments()[-1] == users
    with pytest.raises(ConfigDropped) as caught:
        build_kernel(request)
    assert set(caught.value.dropped) == {
        "CONFIG_NOT_A_REAL_OPTION",
        "CONFIG_MMU",
        "CONFIG_GPIO_MOCKUP",
    }
    message = str(caught.value)
    assert (
        f"CONFIG_NOT_A_REAL_OPTION=y (got unset; set in {config_dir / 'extra.config'})" in message
    )
    assert f"CONFIG_GPIO_MOCKUP=m (got unset; set in {users})" in message
    # The half-built tree is gone; only the lock and the log stay.
    assert [p.name for p in (cache / "kernels").iterdir() if not p.name.endswith(".lock")] == []


def test_a_missing_fragment_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"kernel config fragment .*nope\.config does not exist"):
        KernelRequest(user_fragments=(tmp_path / "nope.config",))


def ccache_hits() -> int:
    stats = subprocess.run(
        ["ccache", "--print-stats"],
        env={**os.environ, "CCACHE_DIR": str(paths.cache_dir() / "ccache")},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    counts = dict(line.split("\t", 1) for line in stats.splitlines() if "\t" in line)
    return int(counts["direct_cache_hit"]) + int(counts["preprocessed_cache_hit"])


@pytest.mark.skipif(shutil.which("ccache") is None, reason="ccache is not installed")
@pytest.mark.uml(kernel="6.12")  # one kernel shows it; each rebuild costs a minute or two
def test_a_rebuild_after_a_changed_fragment_comes_from_ccache(
    artifacts: Artifacts, uml_kernel: str, tmp_path: Path
) -> None:
    # Fragments that change only the release string: new kernel entries, nearly
    # all the same objects. The first may have to fill ccache (for a kernel built
    # before ccache was installed).
    built = []
    for name in ("first", "second"):
        fragment = tmp_path / f"{name}.config"
        fragment.write_text(f'CONFIG_LOCALVERSION="-{name}{uuid.uuid4().hex[:8]}"\n')
        before = ccache_hits()
        built.append(build_kernel(KernelRequest(series=uml_kernel, user_fragments=(fragment,))))
    assert "CC=ccache gcc" in built[-1].log.read_text()
    assert ccache_hits() - before > 500  # of about 850 compiles
    assert built[-1].key != artifacts.kernel.key
    for kernel in built:
        shutil.rmtree(kernel.path)  # 2 GB of tree each, which no other test needs
