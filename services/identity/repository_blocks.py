"""Identity's SQL for blocked identifiers (asyncpg): cards reported lost or stolen.

A blocked card keeps its row in identifier_lookup, so the program's uniqueness holds it against
every enrolment, addition and import, with no member (`member_id` '' and `member_status`
'blocked') so it resolves to nobody; `blocked_member_id` remembers whose it was.
"""

import datetime as dt
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg

from services.identity import repository_members as member_store
from services.identity.identifiers import IdentifierKey
from services.identity.members import BLOCKED

Connection: TypeAlias = asyncpg.Connection | asyncpg.Pool


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
    if not await member_store.detach_identifier(connection, program_id, member_id, key):
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


async def unblock(connection: asyncpg.Connection, program_id: str, key: IdentifierKey) -> None:
    """Free a blocked identifier (its owner is about to claim it again, in this transaction)."""
    await connection.execute(
        "DELETE FROM identifier_lookup WHERE program_id = $1 AND kind = $2 AND provider = $3 "
        "AND value = $4 AND member_status = $5",
        program_id,
        key.kind,
        key.provider,
        key.value,
        BLOCKED,
    )
