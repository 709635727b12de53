"""Keeping segment membership current: the full computation and the scheduled refresh job.

Events change members' facts (purchases and returns through the accrual, tiers, consents,
enrolment and erasure through the consumers); each marks the member in `segment_dirty_members`,
and activities are found by their `recorded_at`. Every `interval_s` the job re-evaluates the
marked members against the program's segments (incrementally: the same query restricted to
those members). Conditions relative to now (recency, windows, enrolment age) also change with
time alone; the job recomputes a segment in full when its `refresh_interval_seconds` has passed
(and at once when it was never computed), which brings every member to the current time.
ComputeSegment does the same full computation on demand.

Tier conditions follow the ledger's renames (program_tiers' mappings, applied to the query;
services/campaign/tier_codes.py). The mappings are read in the computation's transaction after
the segment's row lock, not from the 5 s cache accrual uses: the tier consumer keeps a new
version and makes the segments it remaps due in one transaction, so a computation either ends
before it (and the segment is computed again) or sees its mappings. One row by primary key per
segment computation, never per member.

Marks are taken before the evaluation and put back if it fails; a process killed in between
loses them, and the members are then brought up to date by the segment's next full computation
(its refresh interval, or ComputeSegment).
"""

import datetime as dt
import logging
import time
from collections.abc import Sequence

import asyncpg

from loyalty.campaign.v1 import segments_pb2
from services.campaign import repository_segment_facts as facts
from services.campaign import repository_segments as store
from services.campaign import repository_tiers
from services.campaign.errors import CampaignError
from services.campaign.insight_metrics import InsightMetrics
from services.campaign.ledger_client import LedgerClient, ProgramSettings
from services.shared.periodic import IncompleteRun

logger = logging.getLogger(__name__)

DIRTY_BATCH_MAX = 5_000
DIRTY_BATCHES_PER_PASS_MAX = 20
DUE_SEGMENTS_MAX = 10


async def evaluate(
    connection: asyncpg.Connection,
    segment: segments_pb2.Segment,
    *,
    program: ProgramSettings,
    now: dt.datetime,
    metrics: InsightMetrics | None,
    members: Sequence[str] | None = None,
) -> store.Change:
    """Compute the segment (in full, or for `members`) under its row lock, with metrics,
    following the ledger's tier renames; windows of days count the program's local days."""
    started = time.perf_counter()
    await store.fetch_segment(connection, segment.program_id, segment.segment_id, lock=True)
    tiers = await repository_tiers.fetch_tiers(connection, segment.program_id)
    change = await store.compute(
        connection,
        segment,
        entry_tier=program.entry_tier_code,
        now=now,
        time_zone=program.time_zone,
        members=members,
        tier_mappings=tiers.mappings if tiers is not None else None,
    )
    if metrics is not None:
        program = segment.program_id
        metrics.segment_computation.labels(
            program, "full" if members is None else "incremental"
        ).observe(time.perf_counter() - started)
        metrics.segment_members.labels(program, segment.segment_id).set(change.member_count)
        metrics.segment_changes.labels(program, "joined").inc(change.joined)
        metrics.segment_changes.labels(program, "left").inc(change.left)
    return change


class SegmentRefresh:
    def __init__(
        self,
        pool: asyncpg.Pool,
        ledger: LedgerClient,
        metrics: InsightMetrics | None,
    ) -> None:
        self.pool = pool
        self.ledger = ledger
        self.metrics = metrics

    async def run_once(self, now: dt.datetime) -> dict[str, int]:
        """One pass; returns the members re-evaluated and the segments recomputed, or ends with
        IncompleteRun naming the segments it could not recompute (after doing the rest)."""
        done = {"members": 0, "segments": 0}
        problems = []
        for program_id in await facts.programs_with_segments(self.pool):
            async with self.pool.acquire() as connection, connection.transaction():
                members = await facts.recent_activity_members(
                    connection, program_id, now, DIRTY_BATCH_MAX
                )
                await facts.mark_dirty(connection, program_id, members)
        # Bounded, so due full computations still run while purchases keep marking members.
        for _ in range(DIRTY_BATCHES_PER_PASS_MAX):
            taken = await self._changed_members(now)
            done["members"] += taken
            if taken < DIRTY_BATCH_MAX:
                break
        for program_id, segment_id in await store.due_segments(self.pool, now, DUE_SEGMENTS_MAX):
            try:
                program = await self.ledger.program(program_id)
            except CampaignError as error:
                logger.warning("segment %s of %s: %s", segment_id, program_id, error.details())
                problems.append(f"segment {segment_id} of {program_id}: {error.details()}")
                continue
            async with self.pool.acquire() as connection, connection.transaction():
                stored = await store.fetch_segment(connection, program_id, segment_id)
                if stored is None:
                    continue
                await evaluate(
                    connection, stored.segment, program=program, now=now, metrics=self.metrics
                )
                done["segments"] += 1
        if problems:
            raise IncompleteRun(problems)
        return done

    async def _changed_members(self, now: dt.datetime) -> int:
        # The marks are taken in a short transaction of their own: holding them (deleted, not
        # yet committed) through the evaluation would make every accrual that marks one of
        # these members wait for it. If the evaluation fails they are marked again.
        async with self.pool.acquire() as connection, connection.transaction():
            taken = await facts.take_dirty(connection, DIRTY_BATCH_MAX)
        for program_id, members in taken.items():
            try:
                await self._evaluate_members(program_id, members, now)
            except BaseException:
                await facts.mark_dirty(self.pool, program_id, members)
                raise
        return sum(len(members) for members in taken.values())

    async def _evaluate_members(
        self, program_id: str, members: list[str], now: dt.datetime
    ) -> None:
        program = await self.ledger.program(program_id)
        async with self.pool.acquire() as connection, connection.transaction():
            segments = await store.computed_segments(connection, program_id)
            for segment in segments:
                await evaluate(
                    connection,
                    segment,
                    program=program,
                    now=now,
                    metrics=self.metrics,
                    members=members,
                )
