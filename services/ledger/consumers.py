"""What the ledger consumes from JetStream: new members get their account in the entry tier."""

import datetime as dt
import logging

import asyncpg
from nats.aio.msg import Msg

from loyalty.events.v1 import events_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.ledger import merges, repository, store
from services.ledger.ledger import Ledger
from services.ledger.operations import load_program
from services.shared.jetstream import ConsumerSpec

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
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

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
            tier = program[0].entry_tier_code
            if enrolled.entry_tier_code and await repository.tier_defined(
                connection, event.program_id, enrolled.entry_tier_code
            ):
                # Identity's entry tier, unless the ledger's tiers no longer have it (a renamed
                # entry tier, which identity's program may still name).
                tier = enrolled.entry_tier_code
            opened_at = (
                event.occurred_at.ToDatetime(tzinfo=dt.UTC)
                if event.HasField("occurred_at")
                else dt.datetime.now(dt.UTC)
            )
            await store.open_account(
                connection, event.program_id, enrolled.member_id, tier_code=tier, now=opened_at
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
