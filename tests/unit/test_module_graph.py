"""Ordering driver modules by the symbols they export and use."""

from __future__ import annotations

from pathlib import Path

import pytest

from umlharness.module_graph import DependencyError, ModuleGraph, Symbols


def graph(**modules: tuple[set[str], set[str]]) -> ModuleGraph[str]:
    """modules: name -> (exports, names used)."""
    symbols = {
        name: Symbols(frozenset(exports), frozenset(exports | used))
        for name, (exports, used) in modules.items()
    }
    return ModuleGraph.of(symbols, {name: name for name in modules})


def test_providers_come_first_and_independent_modules_keep_their_order() -> None:
    g = graph(
        app=(set(), {"core_map", "ptp_register", "printk"}),
        solo=(set(), {"printk"}),
        ptp=({"ptp_register"}, {"core_map"}),
        core=({"core_map"}, set()),
    )
    assert g.order == ("core", "ptp", "app", "solo")
    assert g.providers["app"] == {"core": ("core_map",), "ptp": ("ptp_register",)}
    assert g.providers_of("app") == ("core", "ptp")
    assert g.waves(["app", "solo", "ptp", "core"]) == [["core", "solo"], ["ptp"], ["app"]]


def test_waves_of_a_subset_skip_what_is_built_already() -> None:
    g = graph(user=(set(), {"core_map"}), core=({"core_map"}, set()))
    assert g.waves(["user"]) == [["user"]]


def test_a_cycle_is_one_error_naming_each_step() -> None:
    with pytest.raises(DependencyError) as raised:
        graph(a=({"a_fn"}, {"b_fn"}), b=({"b_fn"}, {"c_fn"}), c=({"c_fn"}, {"a_fn"}))
    message = str(raised.value)
    assert "a uses b_fn from b, b uses c_fn from c, c uses a_fn from a" in message
    assert "move the shared code into one module" in message


def test_a_symbol_exported_by_two_modules_is_refused() -> None:
    with pytest.raises(DependencyError, match="shared_fn is exported by two drivers, a and b"):
        graph(a=({"shared_fn"}, set()), b=({"shared_fn"}, set()))


def test_using_ones_own_export_is_no_dependency() -> None:
    g = graph(core=({"core_map"}, {"core_map"}))
    assert g.providers["core"] == {}


def test_scan_reads_exports_and_names_of_a_module_directory(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "prov.c").write_text(
        "int prov_answer(void) { return 42; }\n"
        "EXPORT_SYMBOL_GPL(prov_answer);\n"
        "EXPORT_SYMBOL_NS_GPL( prov_ns , MYNS);\n"
        "EXPORT_SYMBOL(prov_plain);\n"
    )
    (tmp_path / "sub" / "helper.h").write_text("int other_fn(void);\n")
    (tmp_path / "notes.txt").write_text("not_a_source_name\n")
    found = Symbols.scan(tmp_path)
    assert found.exports == {"prov_answer", "prov_ns", "prov_plain"}
    assert {"other_fn", "prov_answer"} <= found.names
    assert "not_a_source_name" not in found.names
