"""Take back what accruing counted for purchases the ledger refused.

A merged member's purchases are refused before accrual once campaign's `identity.member_merged`
consumer has recorded the merge (purchases.py). One that arrives before that is accrued, and the
ledger refuses its points (its account is closed): campaign then takes back all it counted, in the
transaction that finishes the batch, so a purchase the ledger refuses leaves no trace here either.

The bonuses a batch triggers are posted after its purchases' answers (ingest.py), so a bonus the
refused purchase earned is held, never posted: `withdraw_purchases` names those to hold. A
milestone, a referral or a mission taken back is given when a purchase really reaches it, under
the same ledger key (nothing was posted under it).

Mission progress is stored as counts per member, mission and step, so the ingest batch keeps the
step each purchase counted for (in its stored plan: no query added) and the withdrawal takes that
count back; see missions.take_back. An attempt whose window the refused purchase opened starts
again with the first fact it still counts, read from the facts' step records
(purchase_mission_steps, activity_mission_steps; mission_tracker.take_back).

The MissionCompleted and BadgeAwarded events of what is taken back were published when it was
counted: a MissionCompletionWithdrawn for each completion re-opened and a BadgeWithdrawn for each
badge deleted (a mission's or a milestone's) go through the outbox in the withdrawal's
transaction, so they are written once, with the withdrawal (mission_tracker.take_back). They name
the member's final survivor if campaign has recorded its merge by then (announced_members), as a
return's PurchaseRecorded does; what is withdrawn stays stored under the merged member.
"""

from dataclasses import dataclass

import asyncpg
import numpy as np

import ledger_core
from loyalty.campaign.v1 import engagement_pb2
from services.campaign import repository_engagement as engagement_store
from services.campaign import repository_missions as mission_store
from services.campaign import repository_purchases as store
from services.campaign import repository_segment_facts as segment_facts
from services.campaign.accrual import parsed_applications
from services.campaign.columnar import ArchivedPurchases
from services.campaign.ledger_client import ProgramSettings
from services.campaign.mission_tracker import RefusedStep, badge_withdrawn, take_back
from services.campaign.purchases import (
    counts_of,
    milestone_key,
    milestones_of,
    mission_key,
    referral_items,
)
from services.shared.outbox import Outbox
from services.shared.timestamps import from_unix_micros

NTH_PURCHASE = engagement_pb2.MILESTONE_KIND_NTH_PURCHASE


@dataclass(frozen=True)
class Archived:
    """Where a batch's fresh purchases are archived: the row, and the refused ones' positions."""

    archive_seq: int
    positions: list[int]


async def withdraw_purchases(
    connection: asyncpg.Connection,
    program: ProgramSettings,
    keys: list[tuple[str, str]],
    *,
    outbox: Outbox,
    archived: Archived | None = None,
    steps: list[RefusedStep] | None = None,
) -> set[tuple[str, str]]:
    """Undo what accruing these (member, transaction id) purchases counted: their rows, the
    members' purchase counts and spend, the points they used of their rules' member caps, their
    archived columns, the milestones the counts no longer reach, the mission `steps` they counted
    for (re-opening the missions left short) and the referrals of members left without a
    purchase; marks the members' segment facts for re-evaluation; writes to the outbox the
    events taking back the completions and badges withdrawn. Returns the (member, ledger key) of
    the bonuses that are no longer earned, which the caller must not post. Only the purchases
    still recorded are undone, so running it again after a commit changes nothing (and writes no
    event)."""
    program_id = program.program_id
    withdrawn = await store.delete_purchases(connection, program_id, keys)
    if not withdrawn:
        return set()
    members = [purchase.member_id for purchase in withdrawn]
    # The steps come from the batch's plan (`steps`); their per-purchase record goes with the row.
    await mission_store.delete_purchase_steps(
        connection, program_id, [(p.member_id, p.transaction_id) for p in withdrawn]
    )
    counts = await store.uncount_purchases(
        connection, program_id, counts_of(members, [p.amount_minor for p in withdrawn])
    )
    seconds = np.array([p.occurred_micros // 1_000_000 for p in withdrawn], dtype=np.int64)
    periods = ledger_core.period_keys(program.time_zone, seconds).T.tolist()
    used = [
        (purchase.member_id, rule_id, day, week, month, points)
        for purchase, (day, week, month) in zip(withdrawn, periods, strict=True)
        for rule_id, _, points in parsed_applications(purchase.applications)
        if points > 0
    ]
    await store.uncount_cap_points(connection, program_id, used)
    if archived is not None:
        await _unarchive(connection, program_id, archived)
    buyers = sorted(set(members))
    await segment_facts.mark_dirty(connection, program_id, buyers)
    held = await _unreach_milestones(connection, program_id, counts, withdrawn, outbox=outbox)
    held |= await _take_back_missions(connection, program, withdrawn, steps or [], outbox=outbox)
    return held | await _reopen_referrals(connection, program_id, buyers)


async def announced_members(
    connection: asyncpg.Connection, program_id: str, members: list[str]
) -> dict[str, str]:
    """The member each of `members` is named as in a withdrawal event: its final survivor if
    campaign has recorded its merge (members.merged_into), else itself. Campaign keeps a merged
    member's progress and badges under its own id, but the member is gone: identity resolves
    its cards to the survivor, the ledger moved its points there and takes a withdrawn bonus
    back from there, and a return's PurchaseRecorded names the survivor too, so a consumer
    keyed by member finds the member it knows."""
    unique = sorted(set(members))
    if not unique:
        return {}
    merged = await store.fetch_merged(connection, program_id, unique)
    return {member: merged.get(member, member) for member in unique}


def unreached(
    milestones: list[engagement_pb2.Milestone], counts: dict[str, tuple[int, int]]
) -> list[tuple[str, str]]:
    """The (member, milestone code)s beyond the members' (purchases, spend)."""
    return [
        (member, milestone.code)
        for member, (purchases, spend) in sorted(counts.items())
        for milestone in milestones
        if milestone.threshold > (purchases if milestone.kind == NTH_PURCHASE else spend)
    ]


async def _unreach_milestones(
    connection: asyncpg.Connection,
    program_id: str,
    counts: dict[str, tuple[int, int]],
    purchases: list[store.StoredTransaction],
    *,
    outbox: Outbox,
) -> set[tuple[str, str]]:
    """Withdraw the awards (and their badges) of the milestones the counts fall short of again.
    The counts went back to what they were before the batch (or more, with later purchases), so
    only awards this batch gave can be among them. Each badge deleted was announced by a
    BadgeAwarded when it was given: a BadgeWithdrawn names the member's refused `purchases`."""
    milestones = await milestones_of(connection, program_id)
    if not milestones:
        return set()
    withdrawn = await engagement_store.withdraw_awards(
        connection, program_id, "milestone", unreached(milestones, counts)
    )
    deleted = await mission_store.delete_milestone_badges(connection, program_id, sorted(withdrawn))
    refused: dict[str, list[str]] = {}
    for purchase in purchases:
        refused.setdefault(purchase.member_id, []).append(purchase.transaction_id)
    named = await announced_members(connection, program_id, [b.member_id for b in deleted])
    await outbox.enqueue_all(
        connection,
        [
            badge_withdrawn(
                program_id,
                b,
                sorted(refused.get(b.member_id, [])),
                member_id=named[b.member_id],
            )
            for b in deleted
        ],
    )
    return {(member, milestone_key(code)) for member, code in withdrawn}


async def _take_back_missions(
    connection: asyncpg.Connection,
    program: ProgramSettings,
    withdrawn: list[store.StoredTransaction],
    steps: list[RefusedStep],
    *,
    outbox: Outbox,
) -> set[tuple[str, str]]:
    """Take back the mission steps the withdrawn purchases counted for; the points of the
    missions that re-opens are held."""
    deleted = {(purchase.member_id, purchase.transaction_id) for purchase in withdrawn}
    undone = [s for s in steps if (s.member_id, s.transaction_id) in deleted]
    if not undone:
        return set()
    program_id = program.program_id
    reopened = await take_back(
        connection,
        program_id,
        undone,
        time_zone=program.time_zone,
        outbox=outbox,
        named=await announced_members(connection, program_id, [s.member_id for s in undone]),
    )
    return {(member, mission_key(mission_id)) for member, mission_id in reopened}


async def _reopen_referrals(
    connection: asyncpg.Connection, program_id: str, buyers: list[str]
) -> set[tuple[str, str]]:
    """A referral completes on the referred member's first purchase: one left without any
    purchase waits again, and neither side's bonus is posted."""
    purchased = await engagement_store.purchasers(connection, program_id, buyers)
    reopened = await engagement_store.reopen_referrals(
        connection, program_id, [member for member in buyers if member not in purchased]
    )
    return {(item.member_id, item.key) for r in reopened for item in referral_items(r)}


async def _unarchive(connection: asyncpg.Connection, program_id: str, archived: Archived) -> None:
    """Rewrite the batch's archive row without the refused purchases (backtests read it)."""
    columns = await store.fetch_archive_row(connection, program_id, archived.archive_seq)
    if columns is None or not archived.positions:
        return
    kept = ArchivedPurchases.decode(columns).without(archived.positions)
    if not kept.size:
        await store.delete_archive_row(connection, program_id, archived.archive_seq)
        return
    await store.replace_archive_row(
        connection,
        program_id,
        archived.archive_seq,
        first=from_unix_micros(int(kept.micros.min())),
        last=from_unix_micros(int(kept.micros.max())),
        count=kept.size,
        columns=kept.encode(),
    )
