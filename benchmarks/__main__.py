"""Run benchmarks and print one JSON object with their figures.

    python -m benchmarks                 # every benchmark but the minutes-long ones
    python -m benchmarks kernel-rebuild  # those run only when named
    python -m benchmarks boot --runs 20  # one, with its options
    python -m benchmarks boot irq pci --kernels 6.1,6.12   # on each kernel, and the ratios

Each benchmark is a module `benchmarks/bench_NAME.py` with `add_arguments(parser)`
and `run(args) -> dict`. Figures are medians (and percentiles) of repeated
runs measured in this one invocation.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from umlharness.errors import HarnessError
from umlharness.kernel import supported_series
from umlharness.series import parse_list

from . import kernels


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        info.name.removeprefix("bench_").replace("_", "-")
        for info in pkgutil.iter_modules([str(here)])
        if info.name.startswith("bench_")
    )


def run_by_default(name: str) -> bool:
    """Benchmarks of minutes per run (DEFAULT = False) run only when named."""
    return bool(getattr(parser_for(name)[0], "DEFAULT", True))


def parser_for(name: str) -> tuple[ModuleType, argparse.ArgumentParser]:
    module = importlib.import_module(f"benchmarks.bench_{name.replace('-', '_')}")
    parser = argparse.ArgumentParser(prog=f"python3 -m benchmarks {name}")
    module.add_arguments(parser)
    return module, parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        series, argv = take_kernels(argv)
    except HarnessError as error:
        print(error, file=sys.stderr)
        return 2
    first_option = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    names, options = argv[:first_option], argv[first_option:]
    if not names and {"-h", "--help"} & set(options):
        print(__doc__.strip().splitlines()[0])
        for name in available():
            print()
            parser_for(name)[1].print_help()
        return 0
    names = names or [name for name in available() if run_by_default(name)]
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(available())}",
            file=sys.stderr,
        )
        return 2
    # Options are shared by the benchmarks named; parse them all before the
    # first one runs, so a mistyped option fails now and not minutes later.
    planned = []
    unclaimed: set[str] | None = None
    for name in names:
        module, parser = parser_for(name)
        args, rest = parser.parse_known_args(options)
        planned.append((name, module, args))
        unclaimed = set(rest) if unclaimed is None else unclaimed & set(rest)
    stray = [option for option in unclaimed or () if option.startswith("-")]
    if stray:
        print(f"no benchmark named takes {', '.join(sorted(stray))}", file=sys.stderr)
        return 2
    if series is None:
        results: dict[str, Any] = {name: module.run(args) for name, module, args in planned}
    else:
        # One kernel after the other, in one run, so that the ratios compare like with like.
        results = {}
        for one in series:
            with kernels.on_kernel(one):
                results[one] = {name: module.run(args) for name, module, args in planned}
        results["ratio"] = {
            f"{other}/{series[0]}": kernels.ratios(results[series[0]], results[other])
            for other in series[1:]
        }
    print(json.dumps(results, indent=2))
    return 0


def take_kernels(argv: list[str]) -> tuple[tuple[str, ...] | None, list[str]]:
    """`--kernels A,B` (or `--kernels=A,B`) out of `argv`: the series, and the rest."""
    for index, arg in enumerate(argv):
        if arg == "--kernels" and index + 1 < len(argv):
            value, rest = argv[index + 1], argv[:index] + argv[index + 2 :]
        elif arg.startswith("--kernels="):
            value, rest = arg.partition("=")[2], argv[:index] + argv[index + 1 :]
        else:
            continue
        found = parse_list(value, "--kernels")
        unknown = [one for one in found if one not in supported_series()]
        if unknown:
            raise HarnessError(
                f"--kernels: no patch set for Linux {', '.join(unknown)} "
                f"(supported: {', '.join(supported_series())})"
            )
        return found, rest
    return None, argv


if __name__ == "__main__":
    sys.exit(main())
