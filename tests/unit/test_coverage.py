"""The guest's gcov dump, read back (umlharness/coverage.py)."""

from __future__ import annotations

import base64
from pathlib import Path

from umlharness.coverage import parse_dump
from umlharness.drivers import ModuleSource
from umlharness.kernel import Kernel


def test_a_dump_gives_each_object_its_counts() -> None:
    one, two = b"\x00gcda" * 40, b"adcg\x01"
    text = "\n".join(
        [
            "UHCOV ./tmp/build/drivers/thermo/uh_thermo.gcda",
            *[chunk for chunk in base64.encodebytes(one).decode().splitlines()],
            "UHCOV ./x/uh_fpga.gcda",
            base64.b64encode(two).decode(),
            "",
        ]
    )
    assert parse_dump(text) == {"uh_thermo": one, "uh_fpga": two}


def test_an_empty_dump_is_no_counts() -> None:
    assert parse_dump("") == {}


def _checkout(root: Path) -> ModuleSource:
    module = root / "drivers" / "thermo"
    module.mkdir(parents=True)
    (module / "uh_thermo.c").write_text("int x;\n")
    (module / "Kbuild").write_text("obj-m += uh_thermo.o\n")
    (root / "pyproject.toml").write_text("[tool.umlharness]\n")
    return ModuleSource(root / "drivers", module)


def _kernel(path: Path, config: str) -> Kernel:
    path.mkdir(parents=True)
    (path / "config").write_text(config)
    return Kernel(path)


def test_modules_for_a_cov_kernel_are_cached_per_checkout(tmp_path: Path) -> None:
    """Their notes files name the sources by path: a module built in another
    checkout would report on files the filters leave out (it did, in CI)."""
    one, two = _checkout(tmp_path / "one"), _checkout(tmp_path / "two")
    plain = _kernel(tmp_path / "k" / "plain", "CONFIG_UML=y\n")
    cov = _kernel(tmp_path / "k" / "cov", "CONFIG_UML=y\nCONFIG_GCOV_KERNEL=y\n")
    assert one.key(plain) == two.key(plain)
    assert one.key(cov) != two.key(cov)
