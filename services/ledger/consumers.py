"""What the ledger consumes from JetStream: new members get their account in the entry tier
(announced as a TierChanged when it is not the tier the enrolment named), merged members'
accounts are closed into their survivor's."""

import datetime as dt
import logging

import asyncpg
from nats.aio.msg import Msg

from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.ledger import events, merges, repository, store
from services.ledger.ledger import Ledger
from services.ledger.operations import load_program
from services.shared.jetstream import ConsumerSpec
from services.shared.outbox import Outbox

logger = logging.getLogger(__name__)

MEMBER_ENROLLED_CONSUMER = ConsumerSpec(
    stream="identity",
    durable="ledger_member_enrolled",
    filter_subjects=("identity.member_enrolled",),
)

MEMBER_MERGED_CONSUMER = ConsumerSpec(
    stream="identity", durable="ledger_member_merged", filter_subjects=("identity.member_merged",)
)


class MemberEnrolledHandler:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox) -> None:
        self.pool = pool
        self.outbox = outbox

    async def __call__(self, message: Msg) -> None:
        event = events_pb2.Event.FromString(message.data)
        enrolled = event.member_enrolled
        # Opening twice is a no-op, so a redelivered event has no second effect.
        async with self.pool.acquire() as connection, connection.transaction():
            program = await repository.fetch_program(connection, event.program_id)
            if program is None:
                # The program's ledger part is not configured yet; the first credit opens the account.
                logger.info(
                    "member %s enrolled in unconfigured program %s",
                    enrolled.member_id,
                    event.program_id,
                )
                return
            named = enrolled.entry_tier_code
            tier = program[0].entry_tier_code
            undefined = bool(named) and not await repository.tier_defined(
                connection, event.program_id, named
            )
            if named and not undefined:
                # Identity's entry tier, unless the ledger's tiers no longer have it (a renamed
                # entry tier, which identity's program may still name).
                tier = named
            opened_at = (
                event.occurred_at.ToDatetime(tzinfo=dt.UTC)
                if event.HasField("occurred_at")
                else dt.datetime.now(dt.UTC)
            )
            await store.open_account(
                connection, event.program_id, enrolled.member_id, tier_code=tier, now=opened_at
            )
            if undefined:
                await self._correct(connection, event.program_id, enrolled.member_id, named)

    async def _correct(
        self, connection: asyncpg.Connection, program_id: str, member_id: str, named: str
    ) -> None:
        """Tell the enrolment's other readers that the member is not in the tier it named.
        Campaign keeps MemberEnrolled's tier for tier-conditioned rules: without this, a member
        enrolled under a renamed entry tier would keep the removed code there. The event names
        the tier the account holds now (opened in the ledger's entry tier, or earlier by an
        earn and maybe upgraded since); campaign reads the ledger's current tier on it, and
        keeps it when MemberEnrolled arrives after, so either order ends in the real tier. No
        tier history is written: the account never held the named code."""
        locked = await store.lock_account(connection, program_id, member_id)
        assert locked is not None  # opened above, or before
        account = locked[0]
        if account.closed_into is not None:
            return  # merged away: the survivor's tier is the one that counts
        await self.outbox.enqueue(
            connection,
            events.TIER_CHANGED,
            events_pb2.Event(
                program_id=program_id,
                tier_changed=events_pb2.TierChanged(
                    member_id=member_id,
                    from_tier_code=named,
                    to_tier_code=account.tier_code,
                    direction=common_pb2.TIER_CHANGE_DIRECTION_LATERAL,
                    reason=common_pb2.TIER_CHANGE_REASON_DEFINITIONS_CHANGED,
                    qualifying_amount=account.qualifying,
                ),
            ),
        )


class MemberMergedHandler:
    """Close a merged member's account into the survivor's. Points that reached it after the
    merge's transfer (a late posting) are swept to the survivor first; from then on postings to
    it are refused with MEMBER_CLOSED, naming the survivor. The survivor is the final one
    (merges.py): accounts closed into the merged member before follow it, and a merge whose
    survivor was itself closed since lands on that one's survivor, in any order of delivery."""

    def __init__(self, pool: asyncpg.Pool, ledger: Ledger) -> None:
        self.pool = pool
        self.ledger = ledger

    async def __call__(self, message: Msg) -> None:
        event = events_pb2.Event.FromString(message.data)
        merged = event.member_merged
        now = dt.datetime.now(dt.UTC)
        async with self.pool.acquire() as connection, connection.transaction():
            if await repository.fetch_program(connection, event.program_id) is None:
                return
            program = await load_program(connection, event.program_id)
            locked = await store.lock_account(connection, event.program_id, merged.merged_member_id)
            if locked is not None and locked[0].closed_into is not None:
                return  # closed already: a redelivery (a later merge repointed it if need be)
            survivor = await merges.lock_survivor(
                connection, event.program_id, merged.survivor_member_id
            )
            if locked is not None:
                # Raises OpenHolds while a redemption is in flight; the message then comes back later.
                await self.ledger.transfer(
                    connection,
                    program,
                    now,
                    source_member_id=merged.merged_member_id,
                    target_member_id=survivor,
                    points=0,
                    transfer_all=True,
                    reason=ledger_pb2.PostingReason(
                        code="merge", note=f"merged into {survivor}"
                    ).SerializeToString(),
                )
            else:
                await store.open_account(
                    connection,
                    event.program_id,
                    merged.merged_member_id,
                    tier_code=program.settings.entry_tier_code,
                    now=now,
                )
            await merges.close_account(
                connection, event.program_id, merged.merged_member_id, survivor
            )
