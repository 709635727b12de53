"""The job that writes the member-cap history counters left before campaign migration 013.

cap_history (migration 013) is written when a member's cap counter moves on from a period, so the
periods counters had left before it was applied have no rows: a purchase arriving late for one of
those days, weeks or months (services/campaign/member_caps.py) was capped as if the period had
used nothing. The day, week and month a purchase falls in are the program's local ones, and the
time zone is the ledger's (ProgramSettings), which SQL does not have; hence a job rather than a
migration.

For each program with cap counters, once (job_runs 'cap_history_backfill', '013'): per page of
members, in one transaction that locks their counters and bumps their versions (a batch that read
them meanwhile runs again, as store_counters checks), the points each rule gave the member's
recorded purchases are summed per local period, for the periods wholly before the migration was
applied and before the counter's own, and written as those periods' history. Set, not added: a
late purchase recorded since added only its own points to such a period's row, and the sum over
the recorded purchases counts it too, so a run repeated after a crash writes the same. Periods
before the retention (`CAMPAIGN_CAP_HISTORY_RETENTION_DAYS`) are left out, as the pruning job
would delete them, and so are periods the rule did not cap (its counter keeps only the capped
ones up to date, as the history does). Once every program is done, a row for no
program ('') marks the job finished, and later runs read only that row: a program created since
has no counter older than the migration.
"""

import collections
import datetime as dt
import logging
from dataclasses import dataclass

import asyncpg
import numpy as np

import ledger_core
from ledger_core import limits
from services.campaign import member_caps
from services.campaign import repository_cap_history as store
from services.campaign import repository_engagement as engagement_store
from services.campaign.accrual import parsed_applications
from services.campaign.errors import CampaignError
from services.campaign.ledger_client import LedgerClient
from services.shared.periodic import IncompleteRun
from services.shared.timestamps import unix_micros

logger = logging.getLogger(__name__)

JOB = "cap_history_backfill"
PERIOD = "013"
EVERY_PROGRAM = ""
MEMBERS_PER_TRANSACTION_MAX = 200
# A page that deadlocks with accruing batches (which lock counters rule by rule) is run again.
PAGE_ATTEMPTS_MAX = 5
PERIODS = (limits.CAP_DAY, limits.CAP_WEEK, limits.CAP_MONTH)


def missing_history(
    counters: list[store.Counter],
    purchases: list[store.CappedPurchase],
    time_zone: str,
    *,
    history_keys: tuple[int, int, int],
    first_kept_keys: tuple[int, int, int],
) -> list[tuple[str, str, int, int, int]]:
    """(member, rule id, period, period key, points): what each counter's rule gave the member's
    purchases in each local period before both `history_keys` (the periods holding the instant
    history began) and the counter's own keys, from `first_kept_keys` (the retention) on."""
    if not purchases:
        return []
    held = {(c.member_id, c.rule_id): c.keys for c in counters}
    seconds = np.array([p.occurred_micros // 1_000_000 for p in purchases], dtype=np.int64)
    keys = ledger_core.period_keys(time_zone, seconds).T.tolist()
    used: dict[tuple[str, str, int, int], int] = collections.defaultdict(int)
    for purchase, purchase_keys in zip(purchases, keys, strict=True):
        for rule_id, _, points in parsed_applications(purchase.applications):
            counter_keys = held.get((purchase.member_id, rule_id))
            if counter_keys is None or points <= 0:
                continue
            for period in PERIODS:
                key = purchase_keys[period]
                before = min(history_keys[period], counter_keys[period])
                if first_kept_keys[period] <= key < before:
                    used[(purchase.member_id, rule_id, period, key)] += points
    return [(m, r, p, k, points) for (m, r, p, k), points in sorted(used.items())]


@dataclass(frozen=True)
class CapHistoryBackfill:
    pool: asyncpg.Pool
    ledger: LedgerClient
    # 0 keeps history for ever (as the pruning job's setting).
    retention_days: int

    async def run_once(self, now: dt.datetime) -> int:
        """Backfill the programs not done yet; returns the history rows written, or ends with
        IncompleteRun naming the programs whose time zone the ledger did not give."""
        started = await store.history_started_at(self.pool)
        if started is None or await self._done(EVERY_PROGRAM):
            return 0
        first_kept = (
            member_caps.history_horizon(int(now.timestamp()), self.retention_days)
            if self.retention_days
            else (0, 0, 0)
        )
        written, problems = 0, []
        for program_id in await store.programs_with_counters(self.pool):
            if await self._done(program_id):
                continue
            try:
                program = await self.ledger.program(program_id)
            except CampaignError as error:
                problems.append(f"{program_id}: {error.details()}")
                continue
            written += await self._program(program_id, program.time_zone, started, first_kept)
            await self._claim(program_id)
        if problems:
            raise IncompleteRun(problems)
        await self._claim(EVERY_PROGRAM)
        if written:
            logger.info("wrote %d cap history rows of periods before migration 013", written)
        return written

    async def _program(
        self,
        program_id: str,
        time_zone: str,
        started: dt.datetime,
        first_kept: tuple[int, int, int],
    ) -> int:
        start_seconds = int(started.timestamp())
        history_keys = ledger_core.period_keys(time_zone, [start_seconds])[:, 0].tolist()
        written, after = 0, ""
        while True:
            members = await store.counter_members(
                self.pool, program_id, after=after, limit=MEMBERS_PER_TRANSACTION_MAX
            )
            if not members:
                return written
            for attempt in range(1, PAGE_ATTEMPTS_MAX + 1):
                try:
                    written += await self._page(
                        program_id,
                        members,
                        time_zone,
                        started,
                        history_keys=(history_keys[0], history_keys[1], history_keys[2]),
                        first_kept=first_kept,
                    )
                    break
                except asyncpg.DeadlockDetectedError:
                    if attempt == PAGE_ATTEMPTS_MAX:
                        raise
            after = members[-1]

    async def _page(
        self,
        program_id: str,
        members: list[str],
        time_zone: str,
        started: dt.datetime,
        *,
        history_keys: tuple[int, int, int],
        first_kept: tuple[int, int, int],
    ) -> int:
        async with self.pool.acquire() as connection, connection.transaction():
            counters = await store.lock_counters(connection, program_id, members)
            purchases = await store.capped_purchases(
                connection, program_id, members, before_micros=unix_micros(started)
            )
            rows = missing_history(
                counters,
                purchases,
                time_zone,
                history_keys=history_keys,
                first_kept_keys=first_kept,
            )
            await store.set_cap_history(connection, program_id, rows)
        return len(rows)

    async def _done(self, program_id: str) -> bool:
        return await store.job_done(self.pool, program_id, JOB, PERIOD)

    async def _claim(self, program_id: str) -> None:
        async with self.pool.acquire() as connection:
            await engagement_store.claim_job_run(connection, program_id, JOB, PERIOD)
