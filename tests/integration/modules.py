"""Small modules of a driver developer's own, written into a drivers directory by tests."""

from __future__ import annotations

from pathlib import Path

MODULE = """\
// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <uh_iomem.h>

static int __init {name}_init(void)
{{
{body}
	pr_info("{name}: {greeting}\\n");
	return 0;
}}

static void __exit {name}_exit(void)
{{
}}

module_init({name}_init);
module_exit({name}_exit);
MODULE_DESCRIPTION("a test module");
MODULE_LICENSE("GPL");
"""


def write_module(drivers: Path, name: str, greeting: str = "hello", body: str = "") -> Path:
    """drivers/NAME/{Kbuild,NAME.c}: a module that prints `greeting` on load; `body`
    goes first in its init function (line 7). The source's path."""
    directory = drivers / name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Kbuild").write_text(f"obj-m += {name}.o\n")
    source = directory / f"{name}.c"
    source.write_text(MODULE.format(name=name, greeting=greeting, body=body))
    return source
