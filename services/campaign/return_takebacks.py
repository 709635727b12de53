"""What a return takes back besides its purchase's points: the purchase's share of the member's
counts, and the bonuses of a purchase returned in full.

Milestones, referrals and the counts behind them are judged on what the member kept:

- Every return lowers the member's counted spend by what it refunds (never by more than the
  purchase's amount less its earlier returns), so spend milestones are judged on net spend. A
  return that completes the purchase's refunds (the returns of a purchase add up; partial ones
  included) lowers the member's purchase count by one: a purchase returned in full is not a
  purchase. recount_purchases counts the same way.
- A partial return takes no bonus back: the milestones reached stand, even if net spend falls
  below one, and so does a referral.
- A return in full takes back, through the ledger, the milestones the member's counts no longer
  reach (their points, reversed from the member or its survivor, and their badges, with a
  BadgeWithdrawn), and, if it leaves the member without any purchase it kept, both sides of the
  referral its first purchase completed (the referral is then REFERRAL_RETURNED).
- A return in full takes back the mission steps its purchase counted for (recorded per purchase
  since migration 021), as a refused purchase's are (mission_tracker.take_back): a completion
  left short re-opens, its badge goes, a MissionCompletionWithdrawn and a BadgeWithdrawn say so,
  and its points are taken back through the ledger, once.
- Those withdrawal events name the member's final survivor when it was merged away, as the
  return's PurchaseRecorded does (withdrawal.announced_members): the ledger takes the points
  back from the survivor, and the merged member is gone for consumers keyed by member.
- A bonus's points are given once per member (its ledger key names the milestone, the referral
  or the mission; a milestone's award row stays too), so net spend crossing a threshold again
  pays nothing again, nor a mission completed again; and they are taken back once (the
  taken-back mark, in the return's transaction; the ledger call's key names the bonus, so a
  return retried after a rollback is answered as the first call).

The refused-purchase path (withdrawal.py) deletes what it takes back, as nothing was posted; a
return instead takes back what the ledger posted, whose points are not given again. A return
handled before its purchase's bonuses were posted (in the same ingest batch, or before a crashed
batch is finished) finds nothing under their references and takes nothing back from the ledger.
"""

import hashlib
from dataclasses import dataclass

import asyncpg

from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.campaign import repository_engagement as engagement_store
from services.campaign import repository_missions as mission_store
from services.campaign import repository_purchases as store
from services.campaign.ledger_client import LedgerClient, ProgramSettings
from services.campaign.mission_tracker import RefusedStep, badge_withdrawn
from services.campaign.mission_tracker import take_back as take_back_steps
from services.campaign.purchases import milestone_key, milestones_of, mission_key, referral_items
from services.campaign.withdrawal import announced_members, unreached
from services.shared.idempotency import IDEMPOTENCY_KEY_LENGTH_MAX
from services.shared.outbox import Outbox

WITHDRAWN_FOR_RETURNED_PURCHASE = events_pb2.AWARD_WITHDRAWAL_REASON_PURCHASE_RETURNED


@dataclass(frozen=True)
class Returned:
    """A return of a recorded purchase, with what the purchase's earlier returns refunded."""

    member_id: str
    transaction_id: str
    amount_minor: int
    refunded_before_minor: int
    refunded_minor: int

    @property
    def in_full(self) -> bool:
        """Whether this return completes the purchase's refunds."""
        before, amount = self.refunded_before_minor, self.amount_minor
        return before < amount <= before + self.refunded_minor

    @property
    def spend_minor(self) -> int:
        """The spend it takes off the member's count."""
        return max(0, min(self.refunded_minor, self.amount_minor - self.refunded_before_minor))


async def take_back(
    connection: asyncpg.Connection,
    ledger: LedgerClient,
    outbox: Outbox,
    program: ProgramSettings,
    returned: Returned,
) -> int:
    """Take the return's share off the member's counts and, for a return in full, the bonuses
    it leaves unearned, in the caller's transaction (after the return's row is written); returns
    the bonus points the ledger took back."""
    program_id, member = program.program_id, returned.member_id
    milestones = await milestones_of(connection, program_id)
    counts: dict[str, tuple[int, int]] = {}
    # Without milestones nobody reads the counts, and purchases do not keep them either.
    if milestones and (returned.in_full or returned.spend_minor):
        counts = await store.uncount_purchases(
            connection, program_id, {member: (int(returned.in_full), returned.spend_minor)}
        )
    if not returned.in_full:
        return 0
    codes = [code for _, code in unreached(milestones, counts)]
    marked = await engagement_store.take_back_awards(
        connection, program_id, "milestone", member, codes
    )
    taken = 0
    for code, points in marked:
        if points:
            taken += await _take_back_bonus(ledger, program, member, milestone_key(code))
    deleted = await mission_store.delete_milestone_badges(
        connection, program_id, [(member, code) for code, _ in marked]
    )
    # Named as the return's PurchaseRecorded names the member: its survivor if merged away.
    named = await announced_members(connection, program_id, [b.member_id for b in deleted])
    await outbox.enqueue_all(
        connection,
        [
            badge_withdrawn(
                program_id,
                badge,
                [returned.transaction_id],
                member_id=named[badge.member_id],
                reason=WITHDRAWN_FOR_RETURNED_PURCHASE,
            )
            for badge in deleted
        ],
    )
    taken += await _take_back_missions(connection, ledger, outbox, program, returned)
    if await store.keeps_a_purchase(connection, program_id, member):
        return taken
    referral = await engagement_store.take_back_referral(connection, program_id, member)
    if referral is not None:
        for item in referral_items(referral):
            taken += await _take_back_bonus(ledger, program, item.member_id, item.reference)
    return taken


async def _take_back_missions(
    connection: asyncpg.Connection,
    ledger: LedgerClient,
    outbox: Outbox,
    program: ProgramSettings,
    returned: Returned,
) -> int:
    """Take back the mission steps the purchase counted for (deleting their record, so once),
    as a refused purchase's are: the completions left short re-open, with their badges and a
    MissionCompletionWithdrawn each; their points are taken back through the ledger, once."""
    program_id, member = program.program_id, returned.member_id
    counted = await mission_store.delete_purchase_steps(
        connection, program_id, [(member, returned.transaction_id)]
    )
    if not counted:
        return 0
    reopened = await take_back_steps(
        connection,
        program_id,
        [RefusedStep(*row) for row in counted],
        time_zone=program.time_zone,
        outbox=outbox,
        named=await announced_members(connection, program_id, [member]),
        reason=WITHDRAWN_FOR_RETURNED_PURCHASE,
    )
    missions = await mission_store.fetch_missions(
        connection, program_id, sorted({mission_id for _, mission_id in reopened})
    )
    marked = await engagement_store.mark_taken_back(
        connection,
        program_id,
        "mission",
        member,
        [(m.mission_id, m.reward_points) for m in missions],
    )
    taken = 0
    for mission_id, points in marked:
        if points:
            taken += await _take_back_bonus(ledger, program, member, mission_key(mission_id))
    return taken


async def _take_back_bonus(
    ledger: LedgerClient, program: ProgramSettings, member_id: str, reference: str
) -> int:
    """Reverse in full what the member earned under a bonus's reference (from its survivor if it
    was merged); 0 if nothing was (a held-out member's, a bonus without points). The key and the
    request name the bonus only: taken back once, whichever return does it."""
    key = f"take-back:{reference}@{member_id}"
    if len(key) > IDEMPOTENCY_KEY_LENGTH_MAX:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    whole = common_pb2.Money(amount_minor=1, currency=program.currency)
    return await ledger.take_back(
        ledger_pb2.ReverseRequest(
            program_id=program.program_id,
            idempotency_key=key,
            member_id=member_id,
            refund=ledger_pb2.PurchaseRefund(
                original_reference=reference, refunded_amount=whole, original_amount=whole
            ),
            reason=ledger_pb2.PostingReason(code="return", note=f"{reference} taken back"),
        )
    )
