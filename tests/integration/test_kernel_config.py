"""A fragment option (ours or the user's) that does not survive olddefconfig stops the
build, named with the fragment that set it."""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from umlharness import Artifacts, paths
from umlharness.cache import CacheEntry
from umlharness.errors import ConfigDropped, HarnessError
from umlharness.kernel import KERNEL_ARTEFACTS, Kernel, KernelRequest, build_kernel

pytestmark = pytest.mark.slow


def test_unknown_fragment_option_is_named(tmp_path: Path) -> None:
    config_dir = tmp_path / "uml-config"
    shutil.copytree(paths.config_dir(), config_dir)
    (config_dir / "extra.config").write_text(
        "CONFIG_NOT_A_REAL_OPTION=y\n# CONFIG_MMU is not set\n"
    )
    # A user's own fragment (a project's kernel-config) is laid over ours: SND_DUMMY
    # depends on SND, which nothing turns on, so it is dropped and named with its file.
    users = tmp_path / "my-driver" / "kernel.config"
    users.parent.mkdir()
    users.write_text("CONFIG_SND_DUMMY=m\n")
    cache = tmp_path / "cache"
    request = KernelRequest(config_dir=config_dir, cache_root=cache, user_fragments=(users,))
    assert request.fragments()[-1] == users
    with pytest.raises(ConfigDropped) as caught:
        build_kernel(request)
    assert set(caught.value.dropped) == {
        "CONFIG_NOT_A_REAL_OPTION",
        "CONFIG_MMU",
        "CONFIG_SND_DUMMY",
    }
    message = str(caught.value)
    assert (
        f"CONFIG_NOT_A_REAL_OPTION=y (got unset; set in {config_dir / 'extra.config'})" in message
    )
    assert f"CONFIG_SND_DUMMY=m (got unset; set in {users})" in message
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


def compiled(kernel_log: Path) -> list[str]:
    """The objects a kernel build compiled, from Kbuild's short log."""
    return [
        line.split()[-1] for line in kernel_log.read_text().splitlines() if line.startswith("  CC ")
    ]


@pytest.mark.uml(kernel="6.12")  # one kernel shows it; each build costs up to two minutes
def test_a_changed_fragment_recompiles_only_what_it_touches(
    artifacts: Artifacts, uml_kernel: str, tmp_path: Path
) -> None:
    # Fragments that change only the release string. The first may be a whole
    # build (in a cache with no kernel recorded as a base); the second starts
    # from the tree of the kernel whose fragments are nearest its own.
    built = []
    for name in ("first", "second"):
        fragment = tmp_path / f"{name}.config"
        fragment.write_text(f'CONFIG_LOCALVERSION="-{name}{uuid.uuid4().hex[:8]}"\n')
        built.append(build_kernel(KernelRequest(series=uml_kernel, user_fragments=(fragment,))))
    try:
        meta = json.loads((built[1].path / "meta.json").read_text())
        assert meta["built_from"] is not None
        objects = compiled(built[1].log)
        assert "init/version.o" in objects
        assert len(objects) < 30, objects  # of about 850
        assert built[1].release.startswith("6.12.") and "-second" in built[1].release
        # The base's sources are shared with the new tree, its outputs are not, and
        # the base is intact.
        base = Kernel(built[1].path.parent / meta["built_from"])
        for shared, name in ((True, "Makefile"), (False, "init/version.o")):
            same = (built[1].tree / name).stat().st_ino == (base.tree / name).stat().st_ino
            assert same is shared, name
        assert (
            CacheEntry(base.path.parent.parent, "kernels", base.key, KERNEL_ARTEFACTS).damage()
            is None
        )
    finally:
        for kernel in built:
            shutil.rmtree(kernel.path)  # 2 GB of tree each, which no other test needs


@pytest.mark.skipif(shutil.which("ccache") is None, reason="ccache is not installed")
@pytest.mark.uml(kernel="6.12")
def test_a_changed_patch_rebuilds_through_ccache(
    artifacts: Artifacts, uml_kernel: str, tmp_path: Path
) -> None:
    # A patch set with one more patch (a comment in init/version.c): a fresh tree,
    # whose compiles, but for that file's, come from ccache.
    config_dir = tmp_path / "uml-config"
    shutil.copytree(paths.config_dir(), config_dir)
    original = (artifacts.kernel.tree / "init" / "version.c").read_text().splitlines(keepends=True)
    changed = [f"/* patched by a test {uuid.uuid4()} */\n", *original]
    (config_dir / "patches" / uml_kernel / "0099-a-comment.patch").write_text(
        "".join(difflib.unified_diff(original, changed, "a/init/version.c", "b/init/version.c"))
    )
    before = ccache_hits()
    kernel = build_kernel(KernelRequest(series=uml_kernel, config_dir=config_dir))
    try:
        assert "CC=ccache gcc" in kernel.log.read_text()
        assert json.loads((kernel.path / "meta.json").read_text())["built_from"] is None
        assert ccache_hits() - before > 500  # of about 850 compiles
        assert kernel.key != artifacts.kernel.key
    finally:
        shutil.rmtree(kernel.path)
