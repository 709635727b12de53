"""Members' progress on missions, moved on in the transaction that records each purchase or activity.

Why in that transaction and not in a consumer of campaign's own events: campaign records every
purchase (RecordPurchase, IngestTransactions) and every activity (RecordActivity, the `activity.*`
consumer) itself, once per transaction id or activity id. Counting the fact in the same
transaction makes progress exactly-once by construction (a replay, a redelivery or a retried
batch is a duplicate before it gets here), needs no second de-duplication table, and costs the
bulk path one query when the program has no live missions. Ingest batches do not publish a
PurchaseRecorded per transaction, so a consumer would not even see them.

A completion is recorded with the progress; its points are returned to the caller, which posts
them with the purchase or activity, under the key `mission:<mission id>` of the member (so a
replay is a duplicate in the ledger); its badge and the MissionCompleted and BadgeAwarded events
are written here, through the outbox.
"""

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg

from loyalty.campaign.v1 import engagement_pb2
from loyalty.events.v1 import events_pb2
from services.campaign import events
from services.campaign import repository_missions as store
from services.campaign import repository_segments as segment_store
from services.campaign.ledger_client import ProgramSettings
from services.campaign.metrics import CampaignMetrics
from services.campaign.missions import Fact, advance, concerns
from services.shared.outbox import Outbox
from services.shared.timestamps import from_unix_micros

if TYPE_CHECKING:
    from services.campaign.transactions import Transactions


@dataclass(frozen=True)
class Completion:
    member_id: str
    mission_id: str
    points: int


class MissionTracker:
    def __init__(self, outbox: Outbox, metrics: CampaignMetrics | None = None) -> None:
        self.outbox = outbox
        self.metrics = metrics or CampaignMetrics.create()

    async def on_purchases(
        self,
        connection: asyncpg.Connection,
        program: ProgramSettings,
        transactions: "Transactions",
        indexes: list[int],
    ) -> list[Completion]:
        """Count the freshly recorded purchases `indexes` of the batch toward the live missions."""
        missions = await store.active_missions(connection, program.program_id)
        if not missions:
            return []
        categories = line_categories(transactions.line_counts, transactions.line_categories)
        facts = [
            Fact(
                member_id=transactions.members[i],
                at=from_unix_micros(transactions.micros[i]),
                channel=transactions.channels[i],
                amount_minor=transactions.amounts[i],
                currency=program.currency,
                categories=categories[i],
            )
            for i in indexes
        ]
        return await self._count(connection, program.program_id, missions, facts)

    async def on_activity(
        self,
        connection: asyncpg.Connection,
        program: ProgramSettings,
        activity: engagement_pb2.Activity,
    ) -> list[Completion]:
        """Count an activity that was recorded (or verified) and not rejected."""
        missions = await store.active_missions(connection, program.program_id)
        if not missions:
            return []
        fact = Fact(
            member_id=activity.member_id,
            at=activity.occurred_at.ToDatetime(tzinfo=dt.UTC),
            channel=activity.channel,
            activity_kind=activity.kind,
        )
        return await self._count(connection, program.program_id, missions, [fact])

    async def _count(
        self,
        connection: asyncpg.Connection,
        program_id: str,
        missions: list[engagement_pb2.Mission],
        facts: list[Fact],
    ) -> list[Completion]:
        relevant = [
            (fact, mission) for fact in facts for mission in missions if concerns(mission, fact)
        ]
        relevant = await _targeted(connection, program_id, relevant)
        if not relevant:
            return []
        pairs = {(f.member_id, m.mission_id, len(m.steps)) for f, m in relevant}
        progress = await store.lock_progress(connection, program_id, list(pairs))
        completions = []
        # In the facts' own order within the batch: earlier facts start windows first.
        relevant.sort(key=lambda pair: pair[0].at)
        for fact, mission in relevant:
            if advance(mission, progress[(fact.member_id, mission.mission_id)], fact):
                completions.append(await self._complete(connection, program_id, mission, fact))
        changed = {key: p for key, p in progress.items() if p.changed}
        if changed:
            await store.store_progress(connection, program_id, changed)
        return completions

    async def _complete(
        self,
        connection: asyncpg.Connection,
        program_id: str,
        mission: engagement_pb2.Mission,
        fact: Fact,
    ) -> Completion:
        self.metrics.missions_completed.labels(program_id).inc()
        if mission.badge_code:
            await self.award_badge(
                connection,
                program_id,
                fact.member_id,
                badge_code=mission.badge_code,
                name=mission.badge_name or mission.badge_code,
                mission_id=mission.mission_id,
            )
        await self.outbox.enqueue(
            connection,
            events.MISSION_COMPLETED,
            events_pb2.Event(
                program_id=program_id,
                mission_completed=events_pb2.MissionCompleted(
                    mission_id=mission.mission_id,
                    member_id=fact.member_id,
                    points=mission.reward_points,
                    badge_code=mission.badge_code,
                ),
            ),
        )
        return Completion(fact.member_id, mission.mission_id, mission.reward_points)

    async def award_badge(
        self,
        connection: asyncpg.Connection,
        program_id: str,
        member_id: str,
        *,
        badge_code: str,
        name: str,
        mission_id: str = "",
        milestone_code: str = "",
    ) -> bool:
        """Record the badge and announce it, once per member and badge; False if held already."""
        if not await store.insert_badge(
            connection,
            program_id,
            member_id,
            badge_code=badge_code,
            name=name,
            mission_id=mission_id,
            milestone_code=milestone_code,
            awarded_at=dt.datetime.now(dt.UTC),
        ):
            return False
        self.metrics.badges_awarded.labels(program_id).inc()
        await self.outbox.enqueue(
            connection,
            events.BADGE_AWARDED,
            events_pb2.Event(
                program_id=program_id,
                badge_awarded=events_pb2.BadgeAwarded(
                    badge_code=badge_code,
                    member_id=member_id,
                    badge_name=name,
                    mission_id=mission_id,
                    milestone_code=milestone_code,
                ),
            ),
        )
        return True


async def _targeted(
    connection: asyncpg.Connection,
    program_id: str,
    relevant: list[tuple[Fact, engagement_pb2.Mission]],
) -> list[tuple[Fact, engagement_pb2.Mission]]:
    """Leave out the facts of members outside the segments their mission names (one query for
    the batch, only when a mission names segments)."""
    segment_ids = sorted({s for _, mission in relevant for s in mission.segment_ids})
    if not segment_ids:
        return relevant
    members = sorted({fact.member_id for fact, mission in relevant if mission.segment_ids})
    inside = await segment_store.members_in(connection, program_id, segment_ids, members)
    return [
        (fact, mission)
        for fact, mission in relevant
        if not mission.segment_ids
        or any((fact.member_id, s) in inside for s in mission.segment_ids)
    ]


async def offered(
    connection: asyncpg.Connection | asyncpg.Pool,
    program_id: str,
    member_id: str,
    missions: list[engagement_pb2.Mission],
) -> list[engagement_pb2.Mission]:
    """The missions among `missions` that the member is offered: those naming no segment, and
    those naming one the member is in."""
    segment_ids = sorted({s for mission in missions for s in mission.segment_ids})
    if not segment_ids:
        return missions
    pairs = await segment_store.members_in(connection, program_id, segment_ids, [member_id])
    inside = {segment_id for _, segment_id in pairs}
    return [m for m in missions if not m.segment_ids or inside.intersection(m.segment_ids)]


def line_categories(line_counts: list[int], categories: list[str]) -> list[frozenset[str]]:
    """Per transaction, the categories of its lines (the lines as CSR: counts, then values)."""
    ends = list(itertools.accumulate(line_counts))
    starts = [0, *ends[:-1]]
    return [
        frozenset(c for c in categories[start:end] if c)
        for start, end in zip(starts, ends, strict=True)
    ]
