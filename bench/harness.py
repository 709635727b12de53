"""What every benchmark uses: repeated measurement, and one JSON line per figure on stdout."""

import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

REPEATS_MIN = 3


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    params: dict[str, Any] = field(default_factory=dict)


class Reporter:
    """Prints figures as BENCH.md says; `wants` tells a benchmark whether ONLY selects a name."""

    def __init__(self, *, only: str = "") -> None:
        self.only = only
        self.figures: dict[str, Figure] = {}

    def wants(self, *names: str) -> bool:
        return any(name.startswith(self.only) for name in names)

    def emit(self, figure: Figure, *, baseline: Figure | None = None) -> None:
        self.figures[figure.name] = figure
        line: dict[str, Any] = {
            "name": figure.name,
            "value": round(figure.value, 3),
            "unit": figure.unit,
        }
        if baseline is not None:
            line["baseline"] = baseline.name
            line["ratio"] = round(figure.value / baseline.value, 4) if baseline.value else None
        line["params"] = figure.params
        print(json.dumps(line), flush=True)

    def progress(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)


def median_seconds(
    run: Callable[[], object], *, repeats: int = REPEATS_MIN, warmups: int = 1
) -> float:
    """Median wall time of `run` over `repeats` runs after `warmups` unmeasured ones."""
    assert repeats >= REPEATS_MIN
    for _ in range(warmups):
        run()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def throughput(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")
