"""Tier perks: granted when a member reaches a tier, withdrawn when the member leaves it.

The ledger announces tier changes (`<namespace>.ledger.tier_changed`); a durable pull consumer
applies each once (de-duplicated by event id) and ignores one older than the change already
applied to the member, so redeliveries and reordering have no effect. A member holds exactly the
perks of the tier they are in: the perks of other tiers are withdrawn, those of theirs granted.
Members the ledger has not moved yet are in the entry tier, learnt from their enrolment, and
merged-away or erased members hold none (services/rewards/perk_members.py).
"""

import asyncio
import contextlib
import datetime
import logging
import uuid
from collections.abc import AsyncIterator

import asyncpg
from nats.aio.msg import Msg

from loyalty.events.v1 import events_pb2
from loyalty.rewards.v1 import rewards_pb2
from services.rewards import events
from services.shared.outbox import Outbox
from services.shared.timestamps import from_epoch_seconds

logger = logging.getLogger(__name__)

GRANTED = rewards_pb2.PERK_STATUS_GRANTED
WITHDRAWN = rewards_pb2.PERK_STATUS_WITHDRAWN
# Members read and synced per statement: memory stays bounded whatever the tier's size.
MEMBERS_CHUNK = 10_000


async def tier_perk_codes(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, tier_code: str
) -> list[str]:
    rows = await connection.fetch(
        "SELECT perk_code FROM tier_perks WHERE program_id = $1 AND tier_code = $2 "
        "ORDER BY position",
        program_id,
        tier_code,
    )
    return [row["perk_code"] for row in rows]


async def perk_owners(
    connection: asyncpg.Connection, program_id: str, perk_codes: list[str]
) -> dict[str, str]:
    """The tier each of these perk codes belongs to now."""
    rows = await connection.fetch(
        "SELECT perk_code, tier_code FROM tier_perks "
        "WHERE program_id = $1 AND perk_code = ANY($2::text[])",
        program_id,
        perk_codes,
    )
    return {row["perk_code"]: row["tier_code"] for row in rows}


async def replace_tier_perks(
    connection: asyncpg.Connection,
    program_id: str,
    tier_code: str,
    perks: list[rewards_pb2.TierPerk],
) -> None:
    await connection.execute(
        "DELETE FROM tier_perks WHERE program_id = $1 AND tier_code = $2", program_id, tier_code
    )
    await connection.executemany(
        "INSERT INTO tier_perks (program_id, perk_code, tier_code, position, definition) "
        "VALUES ($1, $2, $3, $4, $5)",
        [
            (
                program_id,
                perk.perk_code,
                tier_code,
                index,
                perk.SerializeToString(deterministic=True),
            )
            for index, perk in enumerate(perks)
        ],
    )


async def tier_perks_page(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, *, after: str, limit: int
) -> list[rewards_pb2.TierPerks]:
    """Tiers with perks, by tier code, after the `after` tier."""
    tiers = await connection.fetch(
        "SELECT DISTINCT tier_code FROM tier_perks WHERE program_id = $1 AND tier_code > $2 "
        "ORDER BY tier_code LIMIT $3",
        program_id,
        after,
        limit,
    )
    codes = [row["tier_code"] for row in tiers]
    rows = await connection.fetch(
        "SELECT tier_code, definition FROM tier_perks "
        "WHERE program_id = $1 AND tier_code = ANY($2::text[]) ORDER BY tier_code, position",
        program_id,
        codes,
    )
    grouped = {code: rewards_pb2.TierPerks(tier_code=code) for code in codes}
    for row in rows:
        grouped[row["tier_code"]].perks.append(rewards_pb2.TierPerk.FromString(row["definition"]))
    return list(grouped.values())


async def tier_member_pages(
    connection: asyncpg.Connection, program_id: str, tier_code: str
) -> AsyncIterator[list[str]]:
    """The members in `tier_code` (merged away and erased ones left out), a page at a time by
    member id, each page locked until the transaction ends: a tier change, merge or erasure of
    one of them waits for what is done to the page and then corrects it, instead of running
    between the read and the write and being undone by it. The lock is an UPDATE that changes
    nothing, as Citus refuses SELECT ... FOR UPDATE across shards; members that left the tier
    between the read and the lock are left out."""
    after = ""
    while True:
        rows = await connection.fetch(
            "SELECT member_id FROM member_tiers WHERE program_id = $1 AND tier_code = $2 "
            "AND closed_at IS NULL AND member_id > $3 ORDER BY member_id LIMIT $4",
            program_id,
            tier_code,
            after,
            MEMBERS_CHUNK,
        )
        if not rows:
            return
        after = rows[-1]["member_id"]
        locked = await connection.fetch(
            "UPDATE member_tiers SET tier_code = tier_code WHERE program_id = $1 "
            "AND member_id = ANY($2::text[]) AND tier_code = $3 AND closed_at IS NULL "
            "RETURNING member_id",
            program_id,
            [row["member_id"] for row in rows],
            tier_code,
        )
        if locked:
            yield sorted(row["member_id"] for row in locked)


async def member_perks_page(
    connection: asyncpg.Connection | asyncpg.Pool,
    program_id: str,
    member_id: str,
    *,
    include_withdrawn: bool,
    after: str,
    limit: int,
) -> list[rewards_pb2.MemberPerk]:
    rows = await connection.fetch(
        "SELECT m.perk_code, m.tier_code, m.status, t.definition, "
        "extract(epoch FROM m.granted_at)::float8 AS granted, "
        "extract(epoch FROM m.withdrawn_at)::float8 AS withdrawn "
        "FROM member_perks m LEFT JOIN tier_perks t "
        "ON t.program_id = m.program_id AND t.perk_code = m.perk_code "
        "WHERE m.program_id = $1 AND m.member_id = $2 AND ($3 OR m.status = 1) "
        "AND m.perk_code > $4 ORDER BY m.perk_code LIMIT $5",
        program_id,
        member_id,
        include_withdrawn,
        after,
        limit,
    )
    perks = []
    for row in rows:
        perk = (
            rewards_pb2.TierPerk.FromString(row["definition"])
            if row["definition"] is not None
            else rewards_pb2.TierPerk(perk_code=row["perk_code"])
        )
        member_perk = rewards_pb2.MemberPerk(
            perk=perk,
            tier_code=row["tier_code"],
            status=row["status"],
            granted_at=from_epoch_seconds(row["granted"]),
        )
        if row["withdrawn"] is not None:
            member_perk.withdrawn_at.CopyFrom(from_epoch_seconds(row["withdrawn"]))
        perks.append(member_perk)
    return perks


async def withdraw_perks(
    connection: asyncpg.Connection,
    outbox: Outbox,
    program_id: str,
    member_ids: list[str],
    *,
    keep: list[str],
) -> None:
    """Withdraw the perks the members hold but those in `keep`, announcing each."""
    withdrawn = await connection.fetch(
        "UPDATE member_perks SET status = 2, withdrawn_at = now() "
        "WHERE program_id = $1 AND member_id = ANY($2::text[]) AND status = 1 "
        "AND NOT (perk_code = ANY($3::text[])) RETURNING member_id, perk_code, tier_code",
        program_id,
        member_ids,
        keep,
    )
    await outbox.enqueue_all(
        connection,
        [
            (
                events.PERK_WITHDRAWN,
                events_pb2.Event(
                    program_id=program_id,
                    perk_withdrawn=events_pb2.PerkWithdrawn(
                        member_id=row["member_id"],
                        perk_code=row["perk_code"],
                        tier_code=row["tier_code"],
                    ),
                ),
            )
            for row in withdrawn
        ],
    )


async def grant_perks(
    connection: asyncpg.Connection,
    outbox: Outbox,
    program_id: str,
    member_ids: list[str],
    *,
    tier_code: str,
    perk_codes: list[str],
) -> None:
    """Grant `tier_code`'s `perk_codes` to the members not holding them, announcing each."""
    granted = await connection.fetch(
        "INSERT INTO member_perks AS m (program_id, member_id, perk_code, tier_code, status, "
        "granted_at) SELECT $1, member_id, perk_code, $2, 1, now() "
        "FROM unnest($3::text[]) AS member_id CROSS JOIN unnest($4::text[]) AS perk_code "
        "ON CONFLICT (program_id, member_id, perk_code) DO UPDATE "
        "SET status = 1, tier_code = EXCLUDED.tier_code, granted_at = now(), withdrawn_at = NULL "
        "WHERE m.status <> 1 RETURNING member_id, perk_code",
        program_id,
        tier_code,
        member_ids,
        perk_codes,
    )
    await outbox.enqueue_all(
        connection,
        [
            (
                events.PERK_GRANTED,
                events_pb2.Event(
                    program_id=program_id,
                    perk_granted=events_pb2.PerkGranted(
                        member_id=row["member_id"], perk_code=row["perk_code"], tier_code=tier_code
                    ),
                ),
            )
            for row in granted
        ],
    )


async def sync_members(
    connection: asyncpg.Connection,
    outbox: Outbox,
    program_id: str,
    member_ids: list[str],
    *,
    tier_code: str,
) -> None:
    """Make the members, all in `tier_code`, hold exactly its perks, announcing each change."""
    wanted = await tier_perk_codes(connection, program_id, tier_code)
    await withdraw_perks(connection, outbox, program_id, member_ids, keep=wanted)
    await grant_perks(
        connection, outbox, program_id, member_ids, tier_code=tier_code, perk_codes=wanted
    )


async def sync_member(
    connection: asyncpg.Connection, outbox: Outbox, program_id: str, member_id: str, tier_code: str
) -> None:
    """Make the member hold exactly the perks of `tier_code`, announcing each change."""
    await sync_members(connection, outbox, program_id, [member_id], tier_code=tier_code)


async def sync_tier(
    connection: asyncpg.Connection, outbox: Outbox, program_id: str, tier_code: str
) -> None:
    """Make every member in `tier_code` hold exactly its perks, a page of members at a time
    (the entry tier holds every enrolled member the ledger has not moved)."""
    async for members in tier_member_pages(connection, program_id, tier_code):
        await sync_members(connection, outbox, program_id, members, tier_code=tier_code)


class TierChangedHandler:
    """Applies the ledger's TierChanged events to the members' perks."""

    def __init__(self, pool: asyncpg.Pool, outbox: Outbox) -> None:
        self.pool = pool
        self.outbox = outbox

    async def __call__(self, message: Msg) -> None:
        event = events_pb2.Event.FromString(message.data)
        if event.WhichOneof("payload") != "tier_changed":
            return
        change = event.tier_changed
        changed_at = (
            event.occurred_at.ToDatetime(tzinfo=datetime.UTC)
            if event.HasField("occurred_at")
            else datetime.datetime.now(datetime.UTC)
        )
        async with self.pool.acquire() as connection, connection.transaction():
            first = await connection.fetchval(
                "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) "
                "ON CONFLICT DO NOTHING RETURNING true",
                events.TIER_CHANGED_CONSUMER.durable,
                uuid.UUID(event.event_id),
            )
            if not first:
                return
            newer = await connection.fetchval(
                "INSERT INTO member_tiers AS t (program_id, member_id, tier_code, changed_at) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (program_id, member_id) DO UPDATE "
                "SET tier_code = EXCLUDED.tier_code, changed_at = EXCLUDED.changed_at "
                "WHERE t.changed_at <= EXCLUDED.changed_at AND t.closed_at IS NULL "
                "RETURNING true",
                event.program_id,
                change.member_id,
                change.to_tier_code,
                changed_at,
            )
            if not newer:
                logger.info(
                    "tier change %s is older than the member's last one, or the member was "
                    "merged away or erased",
                    event.event_id,
                )
                return
            await sync_member(
                connection, self.outbox, event.program_id, change.member_id, change.to_tier_code
            )


# Events older than this cannot come again (the ledger stream keeps 30 days), so their record of
# having been applied is dropped.
PROCESSED_EVENTS_RETENTION = "35 days"
PURGE_INTERVAL_S = 3_600.0


async def purge_processed_events(pool: asyncpg.Pool, stop: asyncio.Event) -> None:
    """A worker: now and then, forget events that can no longer be redelivered."""
    while not stop.is_set():
        await pool.execute(
            "DELETE FROM processed_events "
            f"WHERE processed_at < now() - interval '{PROCESSED_EVENTS_RETENTION}'"
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PURGE_INTERVAL_S)
