"""Driver builds of a user's own drivers directory: one cache entry per module,
errors quoted with the user's file and line, modules reaching the guest
without a new root file system image."""

from __future__ import annotations

import re
import shutil
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from tests.integration.modules import write_module
from umlharness import Artifacts, BootRequest, Instance
from umlharness.drivers import BuiltDrivers, build_drivers, find_modules
from umlharness.errors import BuildFailed
from umlharness.modtree import build_module_tree
from umlharness.paths import cache_dir, include_dir
from umlharness.progress import QuietReporter

pytestmark = pytest.mark.slow


class Phases(QuietReporter):
    def __init__(self) -> None:
        self.phases: list[str] = []

    def phase(self, name: str, total: int | None = None) -> None:
        self.phases.append(name)


def module_named(name: str, drivers: BuiltDrivers) -> Path:
    (module,) = [ko for ko in drivers.modules if ko.name == name]
    return module


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "my-driver"
    (root / "pyproject.toml").parent.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'mine'\n")
    # Sources no earlier run built: the cache outlives test runs.
    write_module(root / "drivers", "uhx_one", greeting=f"hello {uuid.uuid4()}")
    write_module(root / "drivers", "uhx_two", greeting=f"hello {uuid.uuid4()}")
    return root


def test_an_edit_rebuilds_only_its_module_and_a_second_clone_none(
    artifacts: Artifacts, repo: Path, tmp_path: Path
) -> None:
    first = Phases()
    built = build_drivers(artifacts.kernel, [repo / "drivers"], first)
    # uh_core, which uh_iomem.h's functions come from, is built with every driver.
    assert [ko.name for ko in built.modules] == ["uh_core.ko", "uhx_one.ko", "uhx_two.ko"]

    write_module(repo / "drivers", "uhx_two", greeting=f"edited {uuid.uuid4()}")
    edited = Phases()
    build_drivers(artifacts.kernel, [repo / "drivers"], edited)
    assert len(edited.phases) == 1 and "uhx_two" in edited.phases[0]
    assert "uhx_one" not in edited.phases[0]

    clone = tmp_path / "elsewhere" / "my-driver"
    shutil.copytree(repo, clone)
    again = Phases()
    build_drivers(artifacts.kernel, [clone / "drivers"], again)
    assert again.phases == []


def test_a_warning_fails_with_the_users_file_and_line(artifacts: Artifacts, repo: Path) -> None:
    source = write_module(repo / "drivers", "uhx_two", body="\tint unused;\n")
    with pytest.raises(BuildFailed) as failed:
        build_drivers(artifacts.kernel, [repo / "drivers"], QuietReporter())
    message = str(failed.value)
    assert f"{source}:7:13: warning: unused variable 'unused'" in message
    assert "int unused;" in message  # the source line gcc quotes
    assert ".tmp-" not in message  # not the build's temporary copy


def test_an_error_names_the_users_file_and_line(artifacts: Artifacts, repo: Path) -> None:
    source = write_module(repo / "drivers", "uhx_one", body="\tnot_declared();\n")
    with pytest.raises(BuildFailed) as failed:
        build_drivers(artifacts.kernel, [repo / "drivers"], QuietReporter())
    assert f"{source}:7:9: error: implicit declaration of function 'not_declared'" in str(
        failed.value
    )


def test_a_copied_uh_iomem_h_of_another_version_is_refused(
    artifacts: Artifacts, repo: Path
) -> None:
    copy = repo / "drivers" / "uhx_one" / "uh_iomem.h"
    text = (include_dir() / "uh_iomem.h").read_text()
    copy.write_text(
        re.sub(r"(?m)^#define UH_IOMEM_VERSION \d+$", "#define UH_IOMEM_VERSION 0", text)
    )
    source = repo / "drivers" / "uhx_one" / "uhx_one.c"
    source.write_text(source.read_text().replace("<uh_iomem.h>", '"uh_iomem.h"'))
    with pytest.raises(BuildFailed, match="not the one of the installed umlharness"):
        build_drivers(artifacts.kernel, [repo / "drivers"], QuietReporter())


def test_an_edited_driver_reaches_the_guest_in_the_same_image(
    artifacts: Artifacts, repo: Path
) -> None:
    def boot_and_load(greeting: str) -> str:
        write_module(repo / "drivers", "uhx_one", greeting=greeting)
        drivers = build_drivers(artifacts.kernel, [repo / "drivers"], QuietReporter())
        rootfs = replace(artifacts.rootfs, modules=build_module_tree(artifacts.kernel, drivers))
        with Instance.boot(BootRequest(artifacts.kernel, rootfs)) as vm:
            vm.check("modprobe uhx_one")
            return vm.dmesg()

    assert "uhx_one: before" in boot_and_load("before")
    image = artifacts.rootfs.image.stat()
    assert "uhx_one: after" in boot_and_load("after")
    assert artifacts.rootfs.image.stat().st_mtime_ns == image.st_mtime_ns


def test_a_replayed_build_gives_the_module_make_gives(artifacts: Artifacts, repo: Path) -> None:
    if artifacts.kernel.gathers_coverage:
        pytest.skip("coverage builds record no recipe (their flags name the user's directory)")
    drivers = repo / "drivers"
    build_drivers(artifacts.kernel, [drivers], QuietReporter())  # make, or a recipe: either
    write_module(drivers, "uhx_one", greeting=f"replayed {uuid.uuid4()}")
    (source,) = [s for s in find_modules([drivers]) if s.name == "uhx_one"]
    layout = source.layout_key(artifacts.kernel)
    recipe = cache_dir() / "recipes" / f"{layout}.json"
    assert recipe.is_file()  # recorded by a make build of this layout
    replayed = module_named(
        "uhx_one.ko", build_drivers(artifacts.kernel, [drivers], QuietReporter())
    )
    replayed_bytes = replayed.read_bytes()

    # The same sources again, with neither the module's cache entry nor the recipe.
    shutil.rmtree(replayed.parent)
    recipe.unlink()
    made = module_named("uhx_one.ko", build_drivers(artifacts.kernel, [drivers], QuietReporter()))
    assert made.read_bytes() == replayed_bytes
    assert recipe.is_file()
