"""Periodic jobs count each run, so the alert on failing scheduled jobs sees every service's."""

import asyncio

import pytest

from services.shared.metrics import Metrics
from services.shared.periodic import IncompleteRun, periodic


def runs(metrics: Metrics, outcome: str) -> float | None:
    return metrics.registry.get_sample_value(
        "loyalty_scheduled_job_runs_total",
        {"service": "svc", "scheduled_job": "sweep", "outcome": outcome},
    )


async def test_runs_are_counted_ok_or_failed_and_the_job_goes_on_after_a_failure() -> None:
    metrics = Metrics.create()
    outcomes: list[BaseException | None] = [
        ConnectionRefusedError("the database is away"),
        IncompleteRun([f"program p{index}: the ledger is unavailable" for index in range(7)]),
        None,
    ]
    stop = asyncio.Event()

    async def run_once() -> None:
        outcome = outcomes.pop(0)
        if not outcomes:
            stop.set()
        if outcome is not None:
            raise outcome

    worker = periodic("svc", "sweep", metrics, 0.01, run_once, failures=(OSError,))
    # Exported at zero before the first run, so increase() sees a first failure.
    assert (runs(metrics, "ok"), runs(metrics, "failed")) == (0, 0)
    await asyncio.wait_for(worker(stop), 10)
    assert (runs(metrics, "ok"), runs(metrics, "failed")) == (1, 2)


async def test_an_unexpected_error_is_left_to_the_supervisor() -> None:
    metrics = Metrics.create()

    async def run_once() -> None:
        raise ValueError("a bug")

    worker = periodic("svc", "sweep", metrics, 0.01, run_once, failures=(OSError,))
    with pytest.raises(ValueError):
        await worker(asyncio.Event())
    assert runs(metrics, "failed") == 0


def test_an_incomplete_run_names_its_first_problems_and_counts_the_rest() -> None:
    error = IncompleteRun([f"p{index}" for index in range(8)])
    assert str(error) == "p0; p1; p2; p3; p4; and 3 more"
    assert error.problems[-1] == "p7"
