"""Which driver modules use symbols another exports, and so the order they build in.

A module directory that calls a function another exports (EXPORT_SYMBOL*)
is built after it, with its Module.symvers, and modprobe loads the provider
first (depmod sees the dependency in the built .ko). The edges come from the
sources: a module uses a symbol when one of its own files names it. A name
reached only through a shared header's macro is not seen; the build then
stops with modpost's "undefined" error, which names the provider.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from .errors import HarnessError

EXPORT = re.compile(r"\bEXPORT_SYMBOL(?:_GPL)?(?:_NS(?:_GPL)?)?\s*\(\s*(\w+)")
IDENTIFIER = re.compile(r"\b[A-Za-z_]\w*\b")
SOURCE_SUFFIXES = (".c", ".h")

Node = TypeVar("Node", bound=Hashable)


class DependencyError(HarnessError):
    """Modules whose symbols cannot be ordered: a cycle or a symbol exported twice."""


@dataclass(frozen=True)
class Symbols:
    """What one module directory's own files export and name."""

    exports: frozenset[str]
    names: frozenset[str]

    @classmethod
    def scan(cls, module_dir: Path) -> Symbols:
        exports: set[str] = set()
        names: set[str] = set()
        for path in sorted(module_dir.rglob("*")):
            if path.suffix in SOURCE_SUFFIXES and path.is_file():
                text = path.read_text(errors="replace")
                exports.update(EXPORT.findall(text))
                names.update(IDENTIFIER.findall(text))
        return cls(frozenset(exports), frozenset(names))


@dataclass(frozen=True)
class ModuleGraph(Generic[Node]):
    """Modules, the providers each uses (with the symbols), in build order."""

    providers: Mapping[Node, Mapping[Node, tuple[str, ...]]]
    order: tuple[Node, ...]

    @classmethod
    def of(cls, symbols: Mapping[Node, Symbols], name: Mapping[Node, str]) -> ModuleGraph[Node]:
        """`name` says how errors call each module."""
        exporter: dict[str, Node] = {}
        for node, found in symbols.items():
            for symbol in sorted(found.exports):
                other = exporter.setdefault(symbol, node)
                if other != node:
                    raise DependencyError(
                        f"{symbol} is exported by two drivers, {name[other]} and {name[node]}: "
                        "a symbol can have one provider only"
                    )
        providers: dict[Node, dict[Node, tuple[str, ...]]] = {}
        for node, found in symbols.items():
            used: dict[Node, list[str]] = {}
            for symbol in sorted(found.names - found.exports):
                provider = exporter.get(symbol)
                if provider is not None and provider != node:
                    used.setdefault(provider, []).append(symbol)
            providers[node] = {p: tuple(s) for p, s in used.items()}
        return cls(providers, _topological(providers, name))

    def providers_of(self, node: Node) -> tuple[Node, ...]:
        return tuple(p for p in self.order if p in self.providers[node])

    def waves(self, nodes: Iterable[Node]) -> list[list[Node]]:
        """`nodes` in groups that can build at once, each after the ones before."""
        wanted = set(nodes)
        depth: dict[Node, int] = {}
        for node in self.order:
            depth[node] = 1 + max((depth[p] for p in self.providers[node]), default=-1)
        groups: dict[int, list[Node]] = {}
        for node in self.order:
            if node in wanted:
                groups.setdefault(depth[node], []).append(node)
        return [groups[d] for d in sorted(groups)]


def _topological(
    providers: Mapping[Node, Mapping[Node, tuple[str, ...]]], name: Mapping[Node, str]
) -> tuple[Node, ...]:
    """Providers first; among independent modules, the given order."""
    order: list[Node] = []
    state: dict[Node, str] = {}
    path: list[Node] = []

    def visit(node: Node) -> None:
        if state.get(node) == "done":
            return
        if state.get(node) == "visiting":
            cycle = [*path[path.index(node) :], node]
            steps = ", ".join(
                f"{name[a]} uses {providers[a][b][0]} from {name[b]}"
                for a, b in itertools.pairwise(cycle)
            )
            raise DependencyError(
                f"drivers use each other's symbols in a cycle ({steps}): modules that "
                "depend on each other cannot be built or loaded; move the shared code "
                "into one module"
            )
        state[node] = "visiting"
        path.append(node)
        for provider in providers[node]:
            visit(provider)
        path.pop()
        state[node] = "done"
        order.append(node)

    for node in providers:
        visit(node)
    return tuple(order)
