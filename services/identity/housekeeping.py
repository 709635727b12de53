"""Identity's background work: finishing merges whose ledger transfer is still pending, and
forgetting API key secrets kept for retries once the retry window has passed.

Each round is a scheduled job (`housekeeping` in loyalty_scheduled_job_runs_total): a round that
leaves a stalled merge pending counts as failed, so LoyaltyScheduledJobFailing pages while the
merged member's points have not reached the survivor.
"""

import asyncio
from typing import Protocol

import asyncpg

from services.shared.metrics import Metrics
from services.shared.periodic import IncompleteRun, periodic

HOUSEKEEPING_INTERVAL_S = 30.0
JOB = "housekeeping"


class Housekeeper(Protocol):
    async def housekeeping(self) -> list[str]:
        """One round; returns what it could not do (the round did the rest)."""
        ...


class Housekeeping:
    def __init__(
        self,
        servicer: Housekeeper,
        metrics: Metrics,
        *,
        interval_s: float = HOUSEKEEPING_INTERVAL_S,
    ) -> None:
        self.servicer = servicer
        self._worker = periodic(
            "identity",
            JOB,
            metrics,
            interval_s,
            self._round,
            failures=(asyncpg.PostgresError, OSError),
        )

    async def run(self, stop: asyncio.Event) -> None:
        await self._worker(stop)

    async def _round(self) -> None:
        problems = await self.servicer.housekeeping()
        if problems:
            raise IncompleteRun(problems)
