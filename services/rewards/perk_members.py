"""Tier perks of the members the ledger's TierChanged events do not name: new and leaving ones.

The ledger owns tiers, and announces a TierChanged only when a member moves: it opens an account
in the entry tier without one. So rewards learns the entry-tier members from identity's
enrolments (`identity.member_enrolled`, the entry tier identity names): such a member is kept in
member_tiers as of '-infinity' and granted the tier's perks, and SetTierPerks of the entry tier
reaches them there. Any TierChanged outranks the enrolment, in either order of delivery: an
upgrade the ledger made before rewards saw the enrolment stays (the enrolment finds the member
kept and changes nothing, as campaign keeps a tier it holds over the enrolment's), and an
enrolment naming an entry tier the ledger has removed is corrected by the TierChanged the ledger
sends for it.

A member merged into another (`identity.member_merged`) or erased (`identity.member_erased`)
holds no perks from then on: each held one is withdrawn (PerkWithdrawn) and the member is
closed, so a TierChanged or enrolment delivered later (the ledger's stream and identity's are
read apart) grants nothing again. The survivor of a merge keeps its own tier's perks, and counts
the merged member's redemptions toward per-member limits (redemption_store.record_merge).

Every step is idempotent: a redelivered enrolment finds the member kept, a redelivered merge or
erasure finds nothing left to withdraw.
"""

import logging

import asyncpg
from nats.aio.msg import Msg

from loyalty.events.v1 import events_pb2
from services.rewards import perks
from services.rewards import redemption_store as store
from services.shared.outbox import Outbox

logger = logging.getLogger(__name__)


async def member_enrolled(
    connection: asyncpg.Connection, outbox: Outbox, program_id: str, member_id: str, tier_code: str
) -> None:
    """Keep the member in the entry tier and grant its perks, unless rewards already holds the
    member (a TierChanged came first, a redelivery, or the member left)."""
    kept = await connection.fetchval(
        "INSERT INTO member_tiers (program_id, member_id, tier_code, changed_at) "
        "VALUES ($1, $2, $3, '-infinity') ON CONFLICT (program_id, member_id) DO NOTHING "
        "RETURNING true",
        program_id,
        member_id,
        tier_code,
    )
    if kept:
        await perks.sync_member(connection, outbox, program_id, member_id, tier_code)


async def member_left(
    connection: asyncpg.Connection, outbox: Outbox, program_id: str, member_id: str
) -> None:
    """The member was merged away or erased: close it and withdraw every perk it holds. The
    member's row is locked first, so a tier change or SetTierPerks granting it perks runs
    wholly before (and is withdrawn here) or after (and finds it closed)."""
    await connection.execute(
        "INSERT INTO member_tiers AS t (program_id, member_id, tier_code, changed_at, closed_at) "
        "VALUES ($1, $2, '', '-infinity', now()) ON CONFLICT (program_id, member_id) "
        "DO UPDATE SET closed_at = coalesce(t.closed_at, EXCLUDED.closed_at)",
        program_id,
        member_id,
    )
    await perks.withdraw_perks(connection, outbox, program_id, [member_id], keep=[])


class MembersHandler:
    """Applies identity's enrolments, merges and erasures to the members' perks."""

    def __init__(self, pool: asyncpg.Pool, outbox: Outbox) -> None:
        self.pool = pool
        self.outbox = outbox

    async def __call__(self, message: Msg) -> None:
        event = events_pb2.Event.FromString(message.data)
        payload = event.WhichOneof("payload")
        if payload == "member_enrolled":
            enrolled = event.member_enrolled
            if not enrolled.entry_tier_code:
                # Nothing to grant until the ledger says where the member is.
                logger.warning("enrolment of %s names no entry tier", enrolled.member_id)
                return
            async with self.pool.acquire() as connection, connection.transaction():
                await member_enrolled(
                    connection,
                    self.outbox,
                    event.program_id,
                    enrolled.member_id,
                    enrolled.entry_tier_code,
                )
        elif payload in ("member_merged", "member_erased"):
            member_id = (
                event.member_merged.merged_member_id
                if payload == "member_merged"
                else event.member_erased.member_id
            )
            async with self.pool.acquire() as connection, connection.transaction():
                await member_left(connection, self.outbox, event.program_id, member_id)
                if payload == "member_merged":
                    # Per-member limits count the merged member's redemptions for the survivor.
                    await store.record_merge(
                        connection,
                        event.program_id,
                        survivor_id=event.member_merged.survivor_member_id,
                        merged_id=member_id,
                    )
