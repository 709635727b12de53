"""What campaign consumes from JetStream, each handler idempotent under redelivery.

- `activity.*`: activities from the channels, recorded once per member and activity id;
- `identity.member_enrolled` / `member_updated`: the member's entry tier and birthday, the
  program's sign-up bonus, and the referral an enrolment with a referral code makes;
- `ledger.tier_changed`: the member's tier, for tier conditions and multipliers (the ledger's
  current one, whatever order the changes arrive in), and a mark for segment re-evaluation.
"""

import datetime as dt
import logging

import asyncpg
from nats.aio.msg import Msg

from loyalty.campaign.v1 import engagement_pb2
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from services.campaign import repository, repository_engagement, targeting
from services.campaign import repository_purchases as store
from services.campaign import repository_segment_facts as segment_facts
from services.campaign.activities import Activities, check_activity
from services.campaign.ledger_client import LedgerClient
from services.campaign.purchases import bonus_item, earn_request
from services.shared.errors import InvalidArgument
from services.shared.validation import OCCURRED_AT_AHEAD_MAX_MS

logger = logging.getLogger(__name__)

# The kind (and only period) of the sign-up bonus award, and its ledger reason code.
SIGNUP = "signup"


def _occurred(event: events_pb2.Event) -> dt.datetime:
    if event.HasField("occurred_at"):
        return event.occurred_at.ToDatetime(tzinfo=dt.UTC)
    return dt.datetime.now(dt.UTC)


def activity_of(recorded: events_pb2.ActivityRecorded) -> engagement_pb2.Activity:
    activity = engagement_pb2.Activity(
        activity_id=recorded.activity_id,
        member_id=recorded.member_id,
        kind=recorded.kind,
        channel=recorded.channel,
        reference=recorded.reference,
        url=recorded.url,
        sku=recorded.sku,
        store_id=recorded.store_id,
        referred_member_id=recorded.referred_member_id,
        verification_state=recorded.verification_state,
        attributes=dict(recorded.attributes),
    )
    if recorded.HasField("occurred_at"):
        activity.occurred_at.CopyFrom(recorded.occurred_at)
    return activity


class ActivityHandler:
    def __init__(
        self,
        pool: asyncpg.Pool,
        ledger: LedgerClient,
        activities: Activities,
        *,
        ahead_max_ms: int = OCCURRED_AT_AHEAD_MAX_MS,
    ) -> None:
        self.pool = pool
        self.ledger = ledger
        self.activities = activities
        self.ahead_max_ms = ahead_max_ms

    async def __call__(self, message: Msg) -> None:
        event = events_pb2.Event.FromString(message.data)
        if event.WhichOneof("payload") != "activity_recorded":
            logger.warning(
                "ignoring a %s message on %s", event.WhichOneof("payload"), message.subject
            )
            return
        activity = activity_of(event.activity_recorded)
        try:
            check_activity(activity, ahead_max_ms=self.ahead_max_ms)
        except InvalidArgument as error:
            # Redelivery would not make it valid: say why and drop it.
            logger.error("dropping invalid activity on %s: %s", message.subject, error.details())
            return
        program = await self.ledger.program(event.program_id)
        async with self.pool.acquire() as connection, connection.transaction():
            await self.activities.record(connection, program, activity)


class MemberHandler:
    def __init__(self, pool: asyncpg.Pool, ledger: LedgerClient, activities: Activities) -> None:
        self.pool = pool
        self.ledger = ledger
        self.activities = activities

    async def __call__(self, message: Msg) -> None:
        event = events_pb2.Event.FromString(message.data)
        payload = event.WhichOneof("payload")
        if payload == "member_enrolled":
            await self._enrolled(event)
        elif payload == "member_updated" and "birthday" in event.member_updated.changed_fields:
            updated = event.member_updated
            birthday = (
                (updated.birthday.month, updated.birthday.day)
                if updated.HasField("birthday")
                else None
            )
            await store.set_birthday(
                self.pool, event.program_id, updated.member_id, birthday, as_of=_occurred(event)
            )

    async def _enrolled(self, event: events_pb2.Event) -> None:
        enrolled = event.member_enrolled
        birthday = (
            (enrolled.birthday.month, enrolled.birthday.day)
            if enrolled.HasField("birthday")
            else None
        )
        async with self.pool.acquire() as connection, connection.transaction():
            await store.member_enrolled(
                connection,
                event.program_id,
                enrolled.member_id,
                tier_code=enrolled.entry_tier_code,
                birthday=birthday,
                enrolled_at=_occurred(event),
            )
            await self._signup_bonus(
                connection, event.program_id, enrolled.member_id, _occurred(event)
            )
            if not enrolled.referrer_member_id:
                return
            # The enrolment with a referral code is the referral activity of the referrer.
            program = await self.ledger.program(event.program_id)
            referral = engagement_pb2.Activity(
                activity_id=f"enrolment:{enrolled.member_id}",
                member_id=enrolled.referrer_member_id,
                kind=common_pb2.ACTIVITY_KIND_REFERRAL,
                channel=enrolled.channel,
                referred_member_id=enrolled.member_id,
                reference=enrolled.referrer_referral_code,
            )
            referral.occurred_at.CopyFrom(event.occurred_at)
            await self.activities.record(connection, program, referral)

    async def _signup_bonus(
        self, connection: asyncpg.Connection, program_id: str, member_id: str, at: dt.datetime
    ) -> None:
        """The program's sign-up bonus, once per member: a redelivered enrolment finds its award
        recorded, and a retry after a lost transaction repeats the very earn (same key). A
        member the holdout keeps out (enrolled from its start) is recorded with no points."""
        stored = await repository.fetch_recognition(connection, program_id)
        points = (
            engagement_pb2.RecognitionConfig.FromString(stored[0]).signup_bonus_points
            if stored
            else 0
        )
        if points <= 0:
            return
        if await targeting.held_out_members(connection, program_id, [member_id], at):
            points = 0
        fresh = await repository_engagement.award_bonuses(
            connection, program_id, SIGNUP, [(member_id, SIGNUP, points)]
        )
        if not fresh or points == 0:
            return
        program = await self.ledger.program(program_id)
        item = bonus_item(member_id, points, key=SIGNUP, code=SIGNUP)
        await self.ledger.earn(earn_request(program_id, item, currency=program.currency))


class TierHandler:
    def __init__(self, pool: asyncpg.Pool, ledger: LedgerClient) -> None:
        self.pool = pool
        self.ledger = ledger

    async def __call__(self, message: Msg) -> None:
        event = events_pb2.Event.FromString(message.data)
        if event.WhichOneof("payload") != "tier_changed":
            return
        changed = event.tier_changed
        async with self.pool.acquire() as connection, connection.transaction():
            # Changes can arrive out of order (a crashed consumer's messages come back after
            # later ones), so the tier kept is the ledger's current one rather than this event's,
            # read under the member's lock: another replica handling a later change reads only
            # once this one wrote, so a stall between the read and the write never leaves the
            # older tier last.
            await store.lock_member_tier(connection, event.program_id, changed.member_id)
            tier = await self.ledger.member_tier(event.program_id, changed.member_id)
            await store.set_tier(
                connection, event.program_id, changed.member_id, tier or changed.to_tier_code
            )
            # Segments with tier conditions evaluate the member again with the tier written
            # (the segments' own consumer of tier changes only marks it: the tier is this one's).
            await segment_facts.mark_dirty(connection, event.program_id, [changed.member_id])
