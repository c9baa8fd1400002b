"""Run benchmarks and print one JSON object with their figures.

    python -m benchmarks                 # every benchmark
    python -m benchmarks boot --runs 20  # one, with its options

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


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        info.name.removeprefix("bench_")
        for info in pkgutil.iter_modules([str(here)])
        if info.name.startswith("bench_")
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    first_option = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    names, options = argv[:first_option], argv[first_option:]
    if not names:
        names = available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(available())}",
            file=sys.stderr,
        )
        return 2
    results = {}
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        parser = argparse.ArgumentParser(prog=f"benchmarks {name}")
        module.add_arguments(parser)
        args, _ = parser.parse_known_args(options)
        results[name] = module.run(args)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
