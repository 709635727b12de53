"""Run the benchmarks whose names start with --only (all by default)."""

import argparse
import importlib
import pkgutil
from pathlib import Path

from bench.harness import Reporter


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", default="", help="run figures whose name starts with this")
    args = parser.parse_args()
    reporter = Reporter(only=args.only)
    # Each module bench/<part>.py has run(reporter) and checks reporter.wants(name) per figure.
    for module_info in sorted(
        pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name
    ):
        if module_info.name == "__main__":
            continue
        module = importlib.import_module(f"bench.{module_info.name}")
        # Benchmark modules have run(reporter); the others (harness, infra...) are what they use.
        if hasattr(module, "run"):
            module.run(reporter)


if __name__ == "__main__":
    main()
