"""Drivers that use symbols another drivers directory exports: built in order,
with the provider's Module.symvers, loaded in order by modprobe."""

from __future__ import annotations

import re
import shutil
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from umlharness import Artifacts, BootRequest, Instance
from umlharness.drivers import BuiltDrivers, build_drivers, find_modules
from umlharness.errors import BuildFailed
from umlharness.modtree import build_module_tree
from umlharness.module_graph import DependencyError
from umlharness.paths import cache_dir
from umlharness.progress import QuietReporter

pytestmark = pytest.mark.slow

PROVIDER = """\
// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>

int uhx_prov_answer(void);

int uhx_prov_answer(void)
{{
	return {answer};
}}
EXPORT_SYMBOL_GPL(uhx_prov_answer);

MODULE_DESCRIPTION("a provider of symbols ({tag})");
MODULE_LICENSE("GPL");
"""

USER = """\
// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>

int {wanted}(void);

static int __init uhx_user_init(void)
{{
	pr_info("uhx_user: the answer is %d ({tag})\\n", {wanted}());
	return 0;
}}

static void __exit uhx_user_exit(void)
{{
}}

module_init(uhx_user_init);
module_exit(uhx_user_exit);
MODULE_DESCRIPTION("a user of another directory's symbols");
MODULE_LICENSE("GPL");
"""


class Phases(QuietReporter):
    def __init__(self) -> None:
        self.phases: list[str] = []

    def phase(self, name: str, total: int | None = None) -> None:
        self.phases.append(name)


def write(directory: Path, name: str, source: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Kbuild").write_text(f"obj-m += {name}.o\n")
    (directory / f"{name}.c").write_text(source)


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    """Two drivers directories of one project: core/ provides, app/ uses."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'two-dirs'\n")
    tag = uuid.uuid4()  # sources no earlier run built: the cache outlives test runs
    write(root / "core" / "uhx_prov", "uhx_prov", PROVIDER.format(answer=42, tag=tag))
    write(root / "app" / "uhx_user", "uhx_user", USER.format(wanted="uhx_prov_answer", tag=tag))
    return root / "core", root / "app"


def named(name: str, drivers: BuiltDrivers) -> Path:
    (module,) = [ko for ko in drivers.modules if ko.name == name]
    return module


def test_the_user_loads_after_its_provider_and_both_unload(
    artifacts: Artifacts, dirs: tuple[Path, Path]
) -> None:
    # The user's directory first: the order comes from the symbols, not the list.
    drivers = build_drivers(artifacts.kernel, [dirs[1], dirs[0]], QuietReporter())
    rootfs = replace(artifacts.rootfs, modules=build_module_tree(artifacts.kernel, drivers))
    with Instance.boot(BootRequest(artifacts.kernel, rootfs)) as vm:
        vm.check("modprobe uhx_user")
        assert re.search(r"uhx_user: the answer is 42", vm.dmesg())
        modules = vm.check("cat /proc/modules")
        assert re.search(r"^uhx_prov \d+ 1 uhx_user,", modules, re.M), modules
        vm.check("rmmod uhx_user && rmmod uhx_prov")
        assert "uhx_" not in vm.check("cat /proc/modules")


def test_an_edited_provider_rebuilds_its_user_and_nothing_else(
    artifacts: Artifacts, dirs: tuple[Path, Path]
) -> None:
    build_drivers(artifacts.kernel, list(dirs), QuietReporter())
    write(dirs[0] / "uhx_prov", "uhx_prov", PROVIDER.format(answer=43, tag=uuid.uuid4()))
    edited = Phases()
    build_drivers(artifacts.kernel, list(dirs), edited)
    (phase,) = edited.phases
    assert "uhx_prov, uhx_user" in phase  # the provider first
    assert "uh_core" not in phase


def test_a_replayed_user_gives_the_module_make_gives(
    artifacts: Artifacts, dirs: tuple[Path, Path]
) -> None:
    if artifacts.kernel.gathers_coverage:
        pytest.skip("coverage builds record no recipe (their flags name the user's directory)")
    build_drivers(artifacts.kernel, list(dirs), QuietReporter())  # make, or a recipe: either
    user = dirs[1] / "uhx_user"
    write(user, "uhx_user", USER.format(wanted="uhx_prov_answer", tag=uuid.uuid4()))
    (source,) = find_modules([dirs[1]])
    recipe = cache_dir() / "recipes" / f"{source.layout_key(artifacts.kernel, 1)}.json"
    assert recipe.is_file()
    assert ".providers/0.symvers" in recipe.read_text()  # modpost reads the provider's
    replayed = named("uhx_user.ko", build_drivers(artifacts.kernel, list(dirs), QuietReporter()))
    replayed_bytes = replayed.read_bytes()

    shutil.rmtree(replayed.parent)
    recipe.unlink()
    made = named("uhx_user.ko", build_drivers(artifacts.kernel, list(dirs), QuietReporter()))
    assert made.read_bytes() == replayed_bytes


def test_a_missing_provider_is_named(artifacts: Artifacts, dirs: tuple[Path, Path]) -> None:
    with pytest.raises(BuildFailed) as failed:
        build_drivers(artifacts.kernel, [dirs[1]], QuietReporter())
    message = str(failed.value)
    assert "uhx_prov_answer: no driver being built exports it, nor does the kernel" in message
    assert '"uhx_prov_answer" [' in message  # modpost's own line, quoted


def test_a_cycle_is_refused_before_anything_builds(
    artifacts: Artifacts, dirs: tuple[Path, Path]
) -> None:
    # The provider now uses a symbol only the user exports.
    write(
        dirs[0] / "uhx_prov",
        "uhx_prov",
        PROVIDER.format(answer="uhx_user_extra()", tag=uuid.uuid4()).replace(
            "int uhx_prov_answer(void);", "int uhx_prov_answer(void);\nint uhx_user_extra(void);"
        ),
    )
    user = dirs[1] / "uhx_user" / "uhx_user.c"
    user.write_text(
        user.read_text()
        + "\nint uhx_user_extra(void);\n\nint uhx_user_extra(void)\n{\n\treturn 1;\n}\n"
        "EXPORT_SYMBOL_GPL(uhx_user_extra);\n"
    )
    reporter = Phases()
    with pytest.raises(DependencyError) as refused:
        build_drivers(artifacts.kernel, list(dirs), reporter)
    assert "uses uhx_prov_answer from uhx_prov" in str(refused.value)
    assert "uses uhx_user_extra from uhx_user" in str(refused.value)
    assert reporter.phases == []
