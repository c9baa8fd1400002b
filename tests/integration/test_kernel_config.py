"""A fragment option that does not survive olddefconfig stops the build, by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from umlharness import paths
from umlharness.errors import ConfigDropped
from umlharness.kernel import KernelRequest, build_kernel

pytestmark = pytest.mark.slow


def test_unknown_fragment_option_is_named(tmp_path: Path) -> None:
    config_dir = tmp_path / "uml-config"
    shutil.copytree(paths.config_dir(), config_dir)
    (config_dir / "extra.config").write_text(
        "CONFIG_NOT_A_REAL_OPTION=y\n# CONFIG_MMU is not set\n"
    )
    cache = tmp_path / "cache"
    with pytest.raises(ConfigDropped) as caught:
        build_kernel(KernelRequest(config_dir=config_dir, cache_root=cache))
    assert set(caught.value.dropped) == {"CONFIG_NOT_A_REAL_OPTION", "CONFIG_MMU"}
    assert "CONFIG_NOT_A_REAL_OPTION=y (got unset)" in str(caught.value)
    # The half-built tree is gone; only the lock and the log stay.
    assert [p.name for p in (cache / "kernels").iterdir() if not p.name.endswith(".lock")] == []
