"""Periodic jobs run inside a service process, each run counted in
`loyalty_scheduled_job_runs_total` as ok or failed, so the alert on failing jobs covers them all.

A job that must not let one program's trouble hold up the others catches per program, carries
on, and ends its run with `IncompleteRun`: the run counts as failed and the next one tries again.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from services.shared.metrics import Metrics
from services.shared.server import Worker

logger = logging.getLogger(__name__)
PROBLEMS_SHOWN_MAX = 5


class IncompleteRun(Exception):
    """A run that went on past failures; it did the rest of its work."""

    def __init__(self, problems: list[str]) -> None:
        shown = "; ".join(problems[:PROBLEMS_SHOWN_MAX])
        more = len(problems) - PROBLEMS_SHOWN_MAX
        super().__init__(shown + (f"; and {more} more" if more > 0 else ""))
        self.problems = problems


def periodic(
    service: str,
    job: str,
    metrics: Metrics,
    interval_s: float,
    run_once: Callable[[], Awaitable[object]],
    *,
    failures: tuple[type[BaseException], ...],
) -> Worker:
    """A worker running `run_once` every `interval_s` until stopped. The exceptions in `failures`
    (a dependency down, the database away) fail the run; anything else crashes the worker, which
    the server's supervisor counts and restarts."""
    metrics.expect_job(service, job, outcomes=("ok", "failed"))
    caught: tuple[type[BaseException], ...] = (IncompleteRun, *failures)

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await run_once()
            except caught as error:
                metrics.job_runs.labels(service, job, "failed").inc()
                logger.warning("%s could not finish: %s", job, _describe(error))
            else:
                metrics.job_runs.labels(service, job, "ok").inc()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)

    return run


def _describe(error: BaseException) -> str:
    details = getattr(error, "details", None)
    return details() if callable(details) else str(error) or repr(error)
