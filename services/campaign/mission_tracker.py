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

An ingest batch keeps the steps its purchases counted for (CountedSteps, in its stored plan), so
that `take_back` can undo those of purchases the ledger then refuses (withdrawal.py). A completion
that re-opens and a badge that goes are taken back from consumers too: a
MissionCompletionWithdrawn and a BadgeWithdrawn are written through the outbox in the withdrawal's
transaction.
"""

import collections
import datetime as dt
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import asyncpg
import numpy as np
import numpy.typing as npt

from loyalty.campaign.v1 import engagement_pb2
from loyalty.events.v1 import events_pb2
from services.campaign import events, targeting
from services.campaign import repository_missions as store
from services.campaign import repository_segments as segment_store
from services.campaign.ledger_client import ProgramSettings
from services.campaign.metrics import CampaignMetrics
from services.campaign.missions import COMPLETED, Fact, Progress, concerns, count, window_from
from services.campaign.missions import take_back as take_back_step
from services.shared.outbox import Outbox
from services.shared.timestamps import from_unix_micros, unix_micros

if TYPE_CHECKING:
    from services.campaign.transactions import Transactions


WITHDRAWN_FOR_REFUSED_PURCHASE = events_pb2.AWARD_WITHDRAWAL_REASON_PURCHASE_REFUSED


@dataclass(frozen=True)
class RefusedStep:
    """A mission step a refused or returned purchase counted for, in the attempt it counted in."""

    member_id: str
    transaction_id: str
    mission_id: str
    attempt: int
    step: int


@dataclass(frozen=True)
class Completion:
    member_id: str
    mission_id: str
    points: int


@dataclass
class CountedSteps:
    """The steps facts counted for, as columns (a batch counts thousands, and keeps them as four
    int32 arrays): the fact, by its position among those counted (for a purchase, its
    transaction's index in the batch); the mission, by its place in `mission_ids`; the attempt it
    counted in; the step."""

    mission_ids: list[str] = field(default_factory=list)
    facts: list[int] = field(default_factory=list)
    missions: list[int] = field(default_factory=list)
    attempts: list[int] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.facts)

    def array(self) -> npt.NDArray[np.int32]:
        """The columns as rows of one (4, n) array, in the order above."""
        size = len(self.facts)
        columns = (self.facts, self.missions, self.attempts, self.steps)
        return np.stack([np.fromiter(c, dtype="<i4", count=size) for c in columns])


@dataclass
class Counted:
    """What counting facts gave: the completions, and the steps the facts counted for (kept
    with an ingest batch, so that a purchase the ledger refuses can be taken back)."""

    completions: list[Completion] = field(default_factory=list)
    steps: CountedSteps = field(default_factory=CountedSteps)


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
    ) -> Counted:
        """Count the freshly recorded purchases `indexes` of the batch toward the live missions;
        the steps counted name the purchases by their index in the batch."""
        missions = await store.active_missions(connection, program.program_id)
        if not missions:
            return Counted()
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
        # The holdout judges a member's completions by its latest purchase in the batch, by which
        # the batch's purchases had reached them, as its other bonuses (purchases.py).
        latest: dict[str, int] = {}
        for i in indexes:
            member = transactions.members[i]
            latest[member] = max(latest.get(member, transactions.micros[i]), transactions.micros[i])
        counted = await self._count(connection, program, missions, facts, judged_micros=latest)
        steps = counted.steps
        steps.facts = [indexes[f] for f in steps.facts]
        # Kept per purchase too, for a return in full to take back (return_takebacks.py).
        await store.insert_purchase_steps(
            connection,
            program.program_id,
            [
                (transactions.members[i], transactions.ids[i], steps.mission_ids[m], a, s)
                for i, m, a, s in zip(
                    steps.facts, steps.missions, steps.attempts, steps.steps, strict=True
                )
            ],
        )
        return counted

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
        counted = await self._count(connection, program, missions, [fact])
        steps = counted.steps
        # Kept with the activity's time, so that taking back a purchase can measure a window
        # again from the facts still counted (take_back).
        await store.insert_activity_steps(
            connection,
            program.program_id,
            [
                (
                    activity.member_id,
                    activity.activity_id,
                    steps.mission_ids[m],
                    a,
                    s,
                    unix_micros(fact.at),
                )
                for m, a, s in zip(steps.missions, steps.attempts, steps.steps, strict=True)
            ],
        )
        return counted.completions

    async def _count(
        self,
        connection: asyncpg.Connection,
        program: ProgramSettings,
        missions: list[engagement_pb2.Mission],
        facts: list[Fact],
        *,
        judged_micros: dict[str, int] | None = None,
    ) -> Counted:
        """Count `facts`; a completion's points are given unless the program-wide holdout keeps
        its member out at `judged_micros` of the member (by default the completing fact's time)."""
        program_id, zone = program.program_id, ZoneInfo(program.time_zone)
        relevant = [
            (position, fact, mission)
            for position, fact in enumerate(facts)
            for mission in missions
            if concerns(mission, fact)
        ]
        relevant = await _targeted(connection, program_id, relevant)
        counted = Counted(steps=CountedSteps([m.mission_id for m in missions]))
        if not relevant:
            return counted
        place = {mission_id: index for index, mission_id in enumerate(counted.steps.mission_ids)}
        completed: list[tuple[engagement_pb2.Mission, Fact]] = []
        steps = counted.steps
        pairs = {(f.member_id, m.mission_id, len(m.steps)) for _, f, m in relevant}
        progress = await store.lock_progress(connection, program_id, list(pairs))
        # Done already for a survivor whose merged member completed it (once per person): its
        # facts neither count nor pay the mission again.
        done = await store.completed_by_merged(
            connection, program_id, sorted({(member, mission) for member, mission, _ in pairs})
        )
        # In the facts' own order within the batch: earlier facts start windows first.
        relevant.sort(key=lambda triple: triple[1].at)
        for position, fact, mission in relevant:
            if (fact.member_id, mission.mission_id) in done:
                continue
            current = progress[(fact.member_id, mission.mission_id)]
            step = count(mission, current, fact, zone=zone)
            if step is None:
                continue
            steps.facts.append(position)
            steps.missions.append(place[mission.mission_id])
            steps.attempts.append(current.attempt)
            steps.steps.append(step)
            if current.state == COMPLETED:
                completed.append((mission, fact))
        withheld = await _held_out(connection, program_id, completed, judged_micros)
        for mission, fact in completed:
            points = (
                0 if (fact.member_id, mission.mission_id) in withheld else mission.reward_points
            )
            # Kept with the completion, so a take-back withdraws exactly what was announced.
            progress[(fact.member_id, mission.mission_id)].completed_points = points
            counted.completions.append(
                await self._complete(connection, program_id, mission, fact, points=points)
            )
        changed = {key: p for key, p in progress.items() if p.changed}
        if changed:
            await store.store_progress(connection, program_id, changed)
        return counted

    async def _complete(
        self,
        connection: asyncpg.Connection,
        program_id: str,
        mission: engagement_pb2.Mission,
        fact: Fact,
        *,
        points: int,
    ) -> Completion:
        """Record the completion and announce it with the points it gives: none for a member
        the holdout keeps out, who completes the mission (and gets its badge) all the same."""
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
                    points=points,
                    badge_code=mission.badge_code,
                ),
            ),
        )
        return Completion(fact.member_id, mission.mission_id, points)

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


async def take_back(
    connection: asyncpg.Connection,
    program_id: str,
    steps: list[RefusedStep],
    *,
    time_zone: str,
    outbox: Outbox,
    named: Mapping[str, str],
    reason: int = WITHDRAWN_FOR_REFUSED_PURCHASE,
) -> list[tuple[str, str]]:
    """Undo the steps that purchases the ledger refused counted for, and re-open the completions
    that leaves short of their goal: their badges are withdrawn (those the mission gave), and the
    (member, mission id)s are returned, whose points must not be posted.

    Consumers are told: a completion is only ever reached by counting, which writes its
    MissionCompleted (and the BadgeAwarded of a badge it inserts) in the same transaction, so each
    completion re-opened here was announced, and each badge deleted here too. A
    MissionCompletionWithdrawn and a BadgeWithdrawn (naming the refused purchases that had counted
    in the completed attempt) are written through the outbox in the caller's transaction. The
    caller takes back a refused purchase's steps with its transaction row, once, so a replay of
    the withdrawal writes them again no more than it re-opens the mission again. A return in full
    takes back its purchase's steps the same way (`reason` PURCHASE_RETURNED), once, as it
    deletes the steps it read (return_takebacks.py). The events name each member as `named`
    maps it (its survivor if it was merged away: withdrawal.announced_members), the member itself
    if it maps it to nothing."""
    missions = {
        m.mission_id: m
        for m in await store.fetch_missions(
            connection, program_id, sorted({s.mission_id for s in steps})
        )
    }
    steps = [s for s in steps if s.mission_id in missions]
    progress = await store.lock_member_progress(
        connection, program_id, sorted({(s.member_id, s.mission_id) for s in steps})
    )
    # The refused purchases that counted in each member's attempt as it stands (the completed one).
    counted: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for s in steps:
        current = progress.get((s.member_id, s.mission_id))
        if current is not None and current.attempt == s.attempt:
            counted[(s.member_id, s.mission_id)].add(s.transaction_id)
    # The points each completion announced, read before re-opening it: a held-out member's
    # were none, and its withdrawal takes back none (older completions: the mission's reward).
    announced = {
        key: missions[key[1]].reward_points if p.completed_points is None else p.completed_points
        for key, p in progress.items()
    }
    reopened = []
    # The latest first, undoing the counting in reverse.
    for s in reversed(steps):
        current = progress.get((s.member_id, s.mission_id))
        if current is not None and take_back_step(
            missions[s.mission_id], current, attempt=s.attempt, step=s.step
        ):
            reopened.append((s.member_id, s.mission_id))
    await _measure_windows_again(connection, program_id, missions, progress, ZoneInfo(time_zone))
    changed = {key: p for key, p in progress.items() if p.changed}
    if changed:
        await store.store_progress(connection, program_id, changed)
    deleted = await store.delete_mission_badges(
        connection,
        program_id,
        [(m, x, missions[x].badge_code) for m, x in reopened if missions[x].badge_code],
    )
    await outbox.enqueue_all(
        connection,
        [
            *(
                completion_withdrawn(
                    program_id,
                    missions[x],
                    named.get(m, m),
                    sorted(counted[(m, x)]),
                    points=announced[(m, x)],
                    reason=reason,
                )
                for m, x in sorted(reopened)
            ),
            *(
                badge_withdrawn(
                    program_id,
                    b,
                    sorted(counted[(b.member_id, b.mission_id)]),
                    member_id=named.get(b.member_id, b.member_id),
                    reason=reason,
                )
                for b in deleted
            ),
        ],
    )
    return reopened


async def _measure_windows_again(
    connection: asyncpg.Connection,
    program_id: str,
    missions: dict[str, engagement_pb2.Mission],
    progress: dict[tuple[str, str], Progress],
    zone: ZoneInfo,
) -> None:
    """Start the window of each attempt a take-back changed, and that still counts facts, with
    the first of them (missions.window_from). The caller deleted the taken-back purchases' step
    records first, so those recorded are the facts the attempt still counts; an attempt counting
    facts recorded before their steps were (purchases before campaign migration 021, activities
    before 024) has fewer records than counts, and keeps its window."""
    windowed = {
        key: p
        for key, p in progress.items()
        if p.changed and p.started_at is not None and any(p.counts)
    }
    if not windowed:
        return
    facts = await store.counted_facts(
        connection, program_id, [(m, x, p.attempt) for (m, x), p in sorted(windowed.items())]
    )
    for (member, mission_id), current in windowed.items():
        found = facts.get((member, mission_id, current.attempt))
        if found is not None and found.count == sum(current.counts):
            first_at = from_unix_micros(found.first_micros)
            window_from(missions[mission_id], current, first_at, zone=zone)


async def _held_out(
    connection: asyncpg.Connection,
    program_id: str,
    completed: list[tuple[engagement_pb2.Mission, Fact]],
    judged_micros: dict[str, int] | None,
) -> set[tuple[str, str]]:
    """The (member, mission) of the completions whose points the program-wide holdout withholds:
    its members', judged at or after its start (targeting.exclusions)."""
    if not any(mission.reward_points for mission, _ in completed):
        return set()
    holdout = await targeting.holdout_of(connection, program_id)
    if holdout is None:
        return set()
    members = sorted({fact.member_id for _, fact in completed})
    out = {m for m, held in zip(members, holdout.members(members), strict=True) if held}
    return {
        (fact.member_id, mission.mission_id)
        for mission, fact in completed
        if fact.member_id in out
        and (judged_micros or {}).get(fact.member_id, unix_micros(fact.at)) >= holdout.start_micros
    }


def completion_withdrawn(
    program_id: str,
    mission: engagement_pb2.Mission,
    member_id: str,
    transaction_ids: list[str],
    *,
    points: int,
    reason: int = WITHDRAWN_FOR_REFUSED_PURCHASE,
) -> tuple[str, events_pb2.Event]:
    """The event taking back the member's MissionCompleted of `mission`, naming the points
    that completion announced (`points`, kept with it)."""
    return events.MISSION_COMPLETION_WITHDRAWN, events_pb2.Event(
        program_id=program_id,
        mission_completion_withdrawn=events_pb2.MissionCompletionWithdrawn(
            mission_id=mission.mission_id,
            member_id=member_id,
            points=points,
            transaction_ids=transaction_ids,
            reason=reason,  # type: ignore[arg-type]
        ),
    )


def badge_withdrawn(
    program_id: str,
    badge: store.DeletedBadge,
    transaction_ids: list[str],
    *,
    member_id: str,
    reason: int = WITHDRAWN_FOR_REFUSED_PURCHASE,
) -> tuple[str, events_pb2.Event]:
    """The event taking back the BadgeAwarded of a deleted badge, naming `member_id` (the
    holder's survivor if it was merged away: withdrawal.announced_members)."""
    return events.BADGE_WITHDRAWN, events_pb2.Event(
        program_id=program_id,
        badge_withdrawn=events_pb2.BadgeWithdrawn(
            badge_code=badge.badge_code,
            member_id=member_id,
            mission_id=badge.mission_id,
            milestone_code=badge.milestone_code,
            transaction_ids=transaction_ids,
            reason=reason,  # type: ignore[arg-type]
        ),
    )


async def _targeted(
    connection: asyncpg.Connection,
    program_id: str,
    relevant: list[tuple[int, Fact, engagement_pb2.Mission]],
) -> list[tuple[int, Fact, engagement_pb2.Mission]]:
    """Leave out the facts of members outside the segments their mission names (one query for
    the batch, only when a mission names segments)."""
    segment_ids = sorted({s for _, _, mission in relevant for s in mission.segment_ids})
    if not segment_ids:
        return relevant
    members = sorted({fact.member_id for _, fact, mission in relevant if mission.segment_ids})
    inside = await segment_store.members_in(connection, program_id, segment_ids, members)
    return [
        (position, fact, mission)
        for position, fact, mission in relevant
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
