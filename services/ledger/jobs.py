"""Scheduled jobs, run inside the service: vesting, expiry, hold timeouts, tier re-qualification
and expiry notices.

Each job takes a PostgreSQL advisory lock, so with several replicas one runs it at a time, and
works through what is due via an index (never a scan of the ledger), member by member, each in a
short transaction of its own through the same book the RPCs use. A job run handles at most
`MEMBERS_PER_RUN_MAX` members and the scheduler runs it again at once while work remains.
"""

import asyncio
import contextlib
import datetime as dt
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import asyncpg

from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from services.ledger import events, inactivity, repository, tiering
from services.ledger.domain import CalendarPeriod
from services.ledger.errors import HoldClosed
from services.ledger.ledger import Ledger
from services.ledger.operations import Program, load_program
from services.ledger.policy import (
    end_of_period,
    expiry_notice_days_ahead,
    expiry_notice_horizon,
    inactivity_cutoff,
)
from services.ledger.store import lock_spendable_lots
from services.shared.metrics import Metrics
from services.shared.outbox import Outbox

logger = logging.getLogger(__name__)

MEMBERS_PER_RUN_MAX = 1_000
VESTING, EXPIRY, HOLD_TIMEOUTS, TIER_REQUALIFICATION, EXPIRY_NOTICES = (
    "vesting",
    "expiry",
    "hold_timeouts",
    "tier_requalification",
    "expiry_notices",
)
JOBS = (VESTING, EXPIRY, HOLD_TIMEOUTS, TIER_REQUALIFICATION, EXPIRY_NOTICES)

# In program_jobs, with the tier re-qualification job: when it last looked for accounts holding
# a code the program's tiers no longer define.
TIER_SWEEP = "tier_sweep"
# How long after a change of the tiers a replica may still write a code it removed: its program
# cache (operations.ProgramCache, 2 s) and then a transaction begun with the cached program
# (a PostBatch within its deadline); generously above both.
TIER_SWEEP_GRACE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class JobResult:
    processed: int
    points: int


class Jobs:
    def __init__(
        self,
        pool: asyncpg.Pool,
        ledger: Ledger,
        outbox: Outbox,
        metrics: Metrics,
        *,
        clock: Callable[[], dt.datetime],
        interval_s: float,
    ) -> None:
        self.pool = pool
        self.ledger = ledger
        self.outbox = outbox
        self.metrics = metrics
        for job in JOBS:
            metrics.expect_job("ledger", job, outcomes=("ok", "failed"))
        self.clock = clock
        self.interval_s = interval_s

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for job in JOBS:
                if stop.is_set():
                    return
                try:
                    while (
                        await self.run_locked(job)
                    ).processed >= MEMBERS_PER_RUN_MAX and not stop.is_set():
                        pass
                except (OSError, asyncpg.PostgresError) as error:
                    self.metrics.job_runs.labels("ledger", job, "failed").inc()
                    logger.warning("job %s failed, retrying next round: %r", job, error)
                except Exception:
                    # A bug, or a value no code path allows for: failing the worker would
                    # restart the round at its first job, so one job failing on every run
                    # would starve those behind it (vesting comes first). Counted as failed,
                    # which the job alert watches, and the next job runs.
                    self.metrics.job_runs.labels("ledger", job, "failed").inc()
                    logger.exception("job %s failed unexpectedly, retrying next round", job)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)

    async def run_locked(
        self, job: str, *, program_id: str | None = None, force: bool = False
    ) -> JobResult:
        """Run `job` unless another replica runs it now (then nothing is processed)."""
        key = zlib.crc32(f"loyalty.ledger.job.{job}".encode()) - 2**31
        async with self.pool.acquire() as lock:
            if not await lock.fetchval("SELECT pg_try_advisory_lock($1)", key):
                return JobResult(0, 0)
            try:
                result = await self.run(job, program_id=program_id, force=force)
            finally:
                await lock.execute("SELECT pg_advisory_unlock($1)", key)
        self.metrics.job_runs.labels("ledger", job, "ok").inc()
        return result

    async def run(self, job: str, *, program_id: str | None, force: bool = False) -> JobResult:
        now = self.clock()
        if job == VESTING:
            return await self._refresh_due(
                "SELECT DISTINCT program_id, member_id FROM lots WHERE NOT vested AND vests_at <= $1"
                " AND ($2::text IS NULL OR program_id = $2) LIMIT $3",
                now,
                program_id,
            )
        if job == EXPIRY:
            due = await self._refresh_due(
                # expiry_noticed: both values, so that lots_expiring (noticed first) is used.
                "SELECT DISTINCT program_id, member_id FROM lots WHERE remaining > 0 AND expires_at <= $1"
                " AND expiry_noticed IN (false, true) AND ($2::text IS NULL OR program_id = $2) LIMIT $3",
                now,
                program_id,
            )
            inactive = await self._expire_inactive(now, program_id)
            return JobResult(due.processed + inactive.processed, due.points + inactive.points)
        if job == HOLD_TIMEOUTS:
            return await self._void_lapsed_holds(now, program_id)
        if job == TIER_REQUALIFICATION:
            return await self._requalify(now, program_id, force=force)
        if job == EXPIRY_NOTICES:
            return await self._notice_expiry(now, program_id, force=force)
        raise ValueError(f"unknown job {job}")

    async def _programs(self, program_id: str | None) -> list[Program]:
        ids = (
            [program_id]
            if program_id
            else [
                row["program_id"]
                for row in await self.pool.fetch(
                    "SELECT program_id FROM programs ORDER BY program_id"
                )
            ]
        )
        return [await load_program(self.pool, pid) for pid in ids]

    async def _refresh_due(self, query: str, now: dt.datetime, program_id: str | None) -> JobResult:
        rows = await self.pool.fetch(query, now, program_id, MEMBERS_PER_RUN_MAX)
        programs: dict[str, Program] = {}
        points = 0
        for row in rows:
            program = programs.get(row["program_id"]) or await load_program(
                self.pool, row["program_id"]
            )
            programs[program.program_id] = program
            async with self.pool.acquire() as connection, connection.transaction():
                # A merged member's account too: the merge moved its pending lots empty, and
                # they still vest (refused as MEMBER_CLOSED, this job failed at them on each
                # run, and the jobs after it in the round never ran).
                book = await self.ledger.open_book(
                    connection, program, row["member_id"], now, create=False, allow_closed=True
                )
                points += book.expired_points
                await self.ledger.close_book(book, program)
        return JobResult(len(rows), points)

    async def _expire_inactive(self, now: dt.datetime, program_id: str | None) -> JobResult:
        processed = points = 0
        for program in await self._programs(program_id):
            cutoff = inactivity_cutoff(program.settings, now)
            if cutoff is None:
                continue
            rows = await self.pool.fetch(
                "SELECT member_id FROM member_accounts WHERE program_id = $1 AND last_activity_at < $2"
                " AND vested + pending > 0 ORDER BY last_activity_at LIMIT $3",
                program.program_id,
                cutoff,
                MEMBERS_PER_RUN_MAX,
            )
            for row in rows:
                async with self.pool.acquire() as connection, connection.transaction():
                    book = await self.ledger.open_book(
                        connection, program, row["member_id"], now, create=False
                    )
                    if book.account.last_activity_at >= cutoff:
                        # Active since it was read (an earn or a spend committed in between):
                        # its points, the new ones too, were taken all the same.
                        continue
                    lots = await lock_spendable_lots(
                        connection, program.program_id, row["member_id"], include_pending=True
                    )
                    await book.expire_lots(
                        [(lot.lot_id, lot.remaining, lot.vested) for lot in lots]
                    )
                    points += book.expired_points
                    await self.ledger.close_book(book, program)
            processed += len(rows)
        return JobResult(processed, points)

    async def _void_lapsed_holds(self, now: dt.datetime, program_id: str | None) -> JobResult:
        rows = await self.pool.fetch(
            "SELECT program_id, hold_id, amount FROM holds WHERE status = 1 AND expires_at <= $1"
            " AND ($2::text IS NULL OR program_id = $2) ORDER BY expires_at LIMIT $3",
            now,
            program_id,
            MEMBERS_PER_RUN_MAX,
        )
        points = 0
        for row in rows:
            program = await load_program(self.pool, row["program_id"])
            try:
                async with self.pool.acquire() as connection, connection.transaction():
                    await self.ledger.void_hold(
                        connection,
                        program,
                        now,
                        hold_id=row["hold_id"],
                        reason=common_pb2.HOLD_VOID_REASON_TIMEOUT,
                        note="",
                    )
                points += row["amount"]
            except HoldClosed:
                pass  # committed in the meantime
        return JobResult(len(rows), points)

    async def _requalify(
        self, now: dt.datetime, program_id: str | None, *, force: bool
    ) -> JobResult:
        """Take what left the tier window off the counters, then, at the first run after a
        re-qualification boundary (the end of a requalification_period in the program's zone)
        or when forced, re-qualify every account: downgrades too.

        A member stands by its qualifying amount of the window (tiering.evaluate): a rolling
        window as it is at the run; a calendar-year window by the greater of this year's so far
        and the amount kept for the year that ended last when the window moved on 1 January
        (tiering.keep_previous_window, in this same transaction, before the days are taken off).
        So the run after 1 January judges the year just ended however late it comes (a run on
        3 January, or after missed years, judges the same year), points earned since midnight
        count for the new year only, and a run at another boundary of a shorter period (or a
        forced one) takes a tier only from those neither year reaches."""
        processed = 0
        for program in await self._programs(program_id):
            async with self.pool.acquire() as connection, connection.transaction():
                # Before any account is locked, as SetTierDefinitions locks the program first.
                await repository.share_program(connection, program.program_id)
                processed += await tiering.decay_qualifying(connection, program, now)
                last = await connection.fetchval(
                    "SELECT last_run_at FROM program_jobs WHERE program_id = $1 AND job = $2 FOR UPDATE",
                    program.program_id,
                    TIER_REQUALIFICATION,
                )
                requalifying = force or (
                    last is not None and _period_ended_since(program, last, now)
                )
                if requalifying or await _sweep_due(connection, program.program_id):
                    # Re-qualification moves accounts on removed codes too; between periods,
                    # only they are evaluated (without downgrades).
                    evaluation = await tiering.evaluate(
                        connection,
                        self.outbox,
                        program,
                        now,
                        member_ids=None,
                        requalify=requalifying,
                        undefined_only=not requalifying,
                    )
                    processed += len(evaluation.changes)
                    await _mark_run(connection, program.program_id, TIER_SWEEP, now)
                if force or last is None or _period_ended_since(program, last, now):
                    await _mark_run(connection, program.program_id, TIER_REQUALIFICATION, now)
        return JobResult(processed, 0)

    async def _notice_expiry(
        self, now: dt.datetime, program_id: str | None, *, force: bool
    ) -> JobResult:
        processed = points = 0
        for program in await self._programs(program_id):
            if program.settings.expiry_notice_days == 0:
                continue
            async with self.pool.acquire() as connection, connection.transaction():
                rows = await connection.fetch(
                    "WITH due AS (UPDATE lots SET expiry_noticed = true WHERE (program_id, member_id, lot_id) IN ("
                    "   SELECT program_id, member_id, lot_id FROM lots WHERE program_id = $1 AND remaining > 0"
                    "   AND NOT expiry_noticed AND expires_at > $2 AND expires_at <= $3 LIMIT $4)"
                    " RETURNING member_id, remaining, expires_at)"
                    " SELECT member_id, sum(remaining)::bigint AS points, min(expires_at) AS first FROM due"
                    " GROUP BY member_id ORDER BY member_id",
                    program.program_id,
                    now,
                    expiry_notice_horizon(program.settings, now),
                    MEMBERS_PER_RUN_MAX,
                )
                for row in rows:
                    expires = events_pb2.PointsExpiring(
                        member_id=row["member_id"],
                        points=row["points"],
                        days_ahead=expiry_notice_days_ahead(program.settings, now, row["first"]),
                    )
                    expires.expires_at.FromDatetime(row["first"])
                    await self.outbox.enqueue(
                        connection,
                        events.POINTS_EXPIRING,
                        events_pb2.Event(program_id=program.program_id, points_expiring=expires),
                    )
                    points += row["points"]
                processed += len(rows)
            # Under the inactivity policy: the members' deadlines (inactivity.py).
            members, announced = await inactivity.notice(
                self.pool, self.outbox, program.program_id, program.settings, now, force=force
            )
            processed, points = processed + members, points + announced
        return JobResult(processed, points)


async def _sweep_due(connection: asyncpg.Connection, program_id: str) -> bool:
    """Whether to look for accounts holding a code the tiers no longer define: on each run
    until TIER_SWEEP_GRACE after the tiers last changed, and once more after it. That is
    how long a replica may still write a removed code (its program cache, then a
    transaction begun with it); the look is a read of all the program's accounts, so it
    is not made on every run."""
    changed = await repository.tiers_changed_at(connection, program_id)
    if changed is None:
        return False
    swept = await connection.fetchval(
        "SELECT last_run_at FROM program_jobs WHERE program_id = $1 AND job = $2",
        program_id,
        TIER_SWEEP,
    )
    return swept is None or swept < changed + TIER_SWEEP_GRACE


async def _mark_run(
    connection: asyncpg.Connection, program_id: str, job: str, now: dt.datetime
) -> None:
    await connection.execute(
        "INSERT INTO program_jobs (program_id, job, last_run_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (program_id, job) DO UPDATE SET last_run_at = EXCLUDED.last_run_at",
        program_id,
        job,
        now,
    )


def _period_ended_since(program: Program, last_run: dt.datetime, now: dt.datetime) -> bool:
    """Whether a re-qualification period boundary (in the program's zone) lies in (last_run, now]."""
    zone = ZoneInfo(program.settings.time_zone)
    period = program.settings.tier_requalification_period or CalendarPeriod.YEAR
    boundary = end_of_period(last_run.astimezone(zone), period)
    return boundary <= now.astimezone(zone)
