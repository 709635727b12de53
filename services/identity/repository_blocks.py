"""Identity's SQL for blocked identifiers (asyncpg): cards reported lost or stolen.

A blocked card keeps its row in identifier_lookup, so the program's uniqueness holds it against
every enrolment, addition and import, with no member (`member_id` '' and `member_status`
'blocked') so it resolves to nobody; `blocked_member_id` remembers whose it was. The member's
side, what GetMember lists, is a row in blocked_identifiers, kept by member (identifier_lookup is
distributed by value): written, freed and moved in the same transactions as the block.
"""

import datetime as dt
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg

from services.identity import repository_members as member_store
from services.identity.identifiers import IdentifierKey
from services.identity.members import BLOCKED

Connection: TypeAlias = asyncpg.Connection | asyncpg.Pool
_BLOCK_COLUMNS = ("kind", "provider", "value", "verified", "added_at", "reason", "blocked_at")


@dataclass(frozen=True, kw_only=True)
class Block:
    member_id: str
    reason: str
    blocked_at: dt.datetime


async def block_identifier(
    connection: asyncpg.Connection,
    *,
    program_id: str,
    member_id: str,
    key: IdentifierKey,
    reason: str,
) -> dt.datetime | None:
    """Detach the identifier from the member and block it for the program; its time, or None if
    the member does not hold it."""
    held = await member_store.detach_identifier(connection, program_id, member_id, key)
    if held is None:
        return None
    blocked_at: dt.datetime = await connection.fetchval(
        "UPDATE identifier_lookup SET member_id = '', member_status = $6, blocked_member_id = $2, "
        "blocked_reason = $7, blocked_at = now() WHERE program_id = $1 AND kind = $3 "
        "AND provider = $4 AND value = $5 AND member_id = $2 RETURNING blocked_at",
        program_id,
        member_id,
        key.kind,
        key.provider,
        key.value,
        BLOCKED,
        reason,
    )
    assert blocked_at is not None, "a held identifier has its lookup row"
    await connection.execute(
        "INSERT INTO blocked_identifiers (program_id, member_id, kind, provider, value, verified, "
        "added_at, reason, blocked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        program_id,
        member_id,
        key.kind,
        key.provider,
        key.value,
        held.verified,
        held.added_at,
        reason,
        blocked_at,
    )
    return blocked_at


async def fetch_block(connection: Connection, program_id: str, key: IdentifierKey) -> Block | None:
    row = await connection.fetchrow(
        "SELECT blocked_member_id, blocked_reason, blocked_at FROM identifier_lookup "
        "WHERE program_id = $1 AND kind = $2 AND provider = $3 AND value = $4 "
        "AND member_status = $5",
        program_id,
        key.kind,
        key.provider,
        key.value,
        BLOCKED,
    )
    if row is None:
        return None
    return Block(
        member_id=row["blocked_member_id"],
        reason=row["blocked_reason"],
        blocked_at=row["blocked_at"],
    )


async def unblock(
    connection: asyncpg.Connection, program_id: str, member_id: str, key: IdentifierKey
) -> None:
    """Free a blocked identifier, which the member (its owner, or the survivor the owner was merged
    into) is about to claim again in this transaction: it is blocked no more, so listed no more."""
    await connection.execute(
        "DELETE FROM blocked_identifiers WHERE program_id = $1 AND member_id = $2 AND kind = $3 "
        "AND provider = $4 AND value = $5",
        program_id,
        member_id,
        key.kind,
        key.provider,
        key.value,
    )
    await connection.execute(
        "DELETE FROM identifier_lookup WHERE program_id = $1 AND kind = $2 AND provider = $3 "
        "AND value = $4 AND member_status = $5",
        program_id,
        key.kind,
        key.provider,
        key.value,
        BLOCKED,
    )


async def move_blocks(
    connection: asyncpg.Connection, *, program_id: str, merged_member_id: str, survivor: str
) -> None:
    """The merged member's blocked cards are listed under the survivor from now on, as its
    identifiers are; the block itself (identifier_lookup) still names the member it was blocked
    for, whose survivor may add a lost card back. Moved, not updated: member_id is the Citus
    distribution column."""
    rows = await connection.fetch(
        "DELETE FROM blocked_identifiers WHERE program_id = $1 AND member_id = $2 "
        "RETURNING kind, provider, value, verified, added_at, reason, blocked_at",
        program_id,
        merged_member_id,
    )
    await connection.execute(
        "INSERT INTO blocked_identifiers (program_id, member_id, kind, provider, value, verified, "
        "added_at, reason, blocked_at) SELECT $1, $2, * FROM unnest($3::smallint[], $4::text[], "
        "$5::text[], $6::boolean[], $7::timestamptz[], $8::text[], $9::timestamptz[])",
        program_id,
        survivor,
        *([r[column] for r in rows] for column in _BLOCK_COLUMNS),
    )
