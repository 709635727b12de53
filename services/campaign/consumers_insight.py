"""What segments and experiment reports consume from JetStream, each handler idempotent.

- `identity.member_enrolled` / `consent_changed` / `member_erased` / `member_merged`: the
  enrolment channel, consents per channel (a change older than the stored one is ignored, so a
  redelivery never undoes a later change), erasure (which forgets the birthday too, and keeps
  the member's idempotency keys only under their keyed hash: repository_erased_keys.py), and merges
  (the merged member leaves every segment like an erased one, and its purchases are refused from
  then on); each marks the member for segment re-evaluation.
- `ledger.tier_changed`: a mark (the tier consumer of consumers.py writes the tier and marks
  the member again in the same transaction, so re-evaluation sees the tier it wrote).
- `rewards.reward_redeemed` / `redemption_cancelled`: redemptions, for the reports.
"""

import datetime as dt
import logging

import asyncpg
from nats.aio.msg import Msg

from loyalty.events.v1 import events_pb2
from services.campaign import repository_erased_keys as erased_keys
from services.campaign import repository_experiments as experiment_store
from services.campaign import repository_purchases as purchase_store
from services.campaign import repository_segment_facts as segment_facts
from services.shared.idempotency import Forgetting

logger = logging.getLogger(__name__)


def _occurred(event: events_pb2.Event) -> dt.datetime:
    if event.HasField("occurred_at"):
        return event.occurred_at.ToDatetime(tzinfo=dt.UTC)
    return dt.datetime.now(dt.UTC)


class SegmentFactsHandler:
    def __init__(self, pool: asyncpg.Pool, forgetting: Forgetting) -> None:
        self.pool = pool
        # How an erasure keeps the member's idempotency keys (CAMPAIGN_FORGOTTEN_KEY_*).
        self.forgetting = forgetting

    async def __call__(self, message: Msg) -> None:
        event = events_pb2.Event.FromString(message.data)
        payload = event.WhichOneof("payload")
        program_id = event.program_id
        async with self.pool.acquire() as connection, connection.transaction():
            if payload == "member_enrolled":
                enrolled = event.member_enrolled
                member = enrolled.member_id
                await segment_facts.record_enrolment(
                    connection,
                    program_id,
                    member,
                    channel=enrolled.channel,
                    consents=list(enrolled.granted_consent_channels),
                    at=_occurred(event),
                )
                await purchase_store.member_enrolled(
                    connection,
                    program_id,
                    member,
                    tier_code=enrolled.entry_tier_code,
                    birthday=(
                        (enrolled.birthday.month, enrolled.birthday.day)
                        if enrolled.HasField("birthday")
                        else None
                    ),
                    enrolled_at=_occurred(event),
                )
            elif payload == "consent_changed":
                changed = event.consent_changed
                member = changed.member_id
                at = (
                    changed.changed_at.ToDatetime(tzinfo=dt.UTC)
                    if changed.HasField("changed_at")
                    else _occurred(event)
                )
                await segment_facts.record_consent(
                    connection, program_id, member, changed.channel, changed.granted, at
                )
            elif payload == "member_erased":
                erased = event.member_erased.member_id
                await segment_facts.record_erasure(connection, program_id, erased)
                await purchase_store.member_erased(
                    connection, program_id, erased, at=_occurred(event)
                )
                await erased_keys.forget_member_keys(
                    connection, program_id, erased, self.forgetting
                )
                return
            elif payload == "member_merged":
                # The merged member is gone (its points moved to the survivor): it leaves every
                # segment as an erased member does; the survivor is re-evaluated.
                merged = event.member_merged
                await segment_facts.record_erasure(connection, program_id, merged.merged_member_id)
                # Its later purchases are refused before accrual (purchases.py), naming the
                # final survivor, which is re-evaluated.
                member = await purchase_store.member_merged(
                    connection, program_id, merged.merged_member_id, merged.survivor_member_id
                )
            elif payload == "tier_changed":
                # A mark only. The tier is the tier consumer's to write (consumers.py: the
                # ledger's current one, and a mark after it): this event's, written when this
                # consumer handles it late (redelivered, behind), undid a later change.
                member = event.tier_changed.member_id
            else:
                logger.debug("ignoring a %s message on %s", payload, message.subject)
                return
            await segment_facts.mark_dirty(connection, program_id, [member])


class RedemptionHandler:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def __call__(self, message: Msg) -> None:
        event = events_pb2.Event.FromString(message.data)
        payload = event.WhichOneof("payload")
        if payload == "reward_redeemed":
            redeemed = event.reward_redeemed
            await experiment_store.record_redemption(
                self.pool,
                event.program_id,
                redeemed.member_id,
                redeemed.redemption_id,
                at=_occurred(event),
                points=redeemed.points_spent,
                cancelled=False,
            )
        elif payload == "redemption_cancelled":
            cancelled = event.redemption_cancelled
            await experiment_store.record_redemption(
                self.pool,
                event.program_id,
                cancelled.member_id,
                cancelled.redemption_id,
                at=_occurred(event),
                points=0,
                cancelled=True,
            )
