"""A fragment option (ours or the user's) that does not survive olddefconfig stops the
build, named with the fragment that set it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from umlharness import paths
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
