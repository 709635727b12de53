"""Identity's SQL for blocked identifiers (asyncpg): cards reported lost or stolen.

A blocked card keeps its row in identifier_lookup, so the program's uniqueness holds it against
every enrolment, addition and import, with no member (`member_id` '' and `member_status`
'blocked') so it resolves to nobody; `blocked_member_id` remembers whose it was. The member's
side, what GetMember lists, is a row in blocked_identifiers, kept by member (identifier_lookup is
distributed by value): written, freed and moved in the same transactions as the block.

An erasure of the member keeps the block but forgets the card and the member (`forget_blocks`):
the block moves to erased_blocked_identifiers under the card's keyed hash (`Forgetting`, the
service's secret), which `fetch_erased_blocks` finds by hashing a presented card the same way.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg

from services.identity import repository_members as member_store
from services.identity.identifiers import BLOCKABLE_KINDS, IdentifierKey
from services.identity.members import BLOCKED
from services.shared.idempotency import Forgetting

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


def _erased_block_name(program_id: str, key: IdentifierKey) -> str:
    """What the keyed hash of an erased member's blocked card is taken of: the program and the
    identifier in its normal form (as every caller normalises what it is given before it looks
    anything up, "4000 0012 3456 7899" meets the block of 4000001234567899)."""
    return f"blocked-identifier:{program_id}:{key.kind}:{key.provider}:{key.value}"


async def forget_blocks(
    connection: asyncpg.Connection,
    *,
    program_id: str,
    member_ids: Sequence[str],
    forgetting: Forgetting,
) -> list[str]:
    """The cards blocked for the members (being erased) stay blocked, kept only under their
    keyed hash: the block no longer names the card nor the member, and a lost card can no
    longer go back to anyone. Their member side (blocked_identifiers) goes. Returns the card
    numbers, for the caller to forget elsewhere."""
    rows = await connection.fetch(
        "DELETE FROM identifier_lookup WHERE program_id = $1 AND member_status = $3 "
        "AND blocked_member_id = ANY($2::text[]) "
        "RETURNING kind, provider, value, blocked_reason, blocked_at",
        program_id,
        list(member_ids),
        BLOCKED,
    )
    await connection.execute(
        "DELETE FROM blocked_identifiers WHERE program_id = $1 AND member_id = ANY($2::text[])",
        program_id,
        list(member_ids),
    )
    # A block found again under the same hash (none is expected: the card was blocked) is kept.
    await connection.execute(
        "INSERT INTO erased_blocked_identifiers (program_id, identifier_hash, reason, blocked_at) "
        "SELECT $1, * FROM unnest($2::text[], $3::text[], $4::timestamptz[]) "
        "ON CONFLICT DO NOTHING",
        program_id,
        [
            forgetting.key(
                _erased_block_name(program_id, IdentifierKey(r["kind"], r["provider"], r["value"]))
            )
            for r in rows
        ],
        [r["blocked_reason"] for r in rows],
        [r["blocked_at"] for r in rows],
    )
    return [r["value"] for r in rows]


async def fetch_erased_blocks(
    connection: Connection,
    program_id: str,
    keys: Sequence[IdentifierKey],
    forgetting: Forgetting,
) -> dict[int, str]:
    """The keys blocked for a member erased since, by index, each with why it was blocked
    ('lost' or 'stolen'). Asks nothing unless a key is a card. Looks under the previous secrets
    too, so a block kept before a rotation still holds.

    Read it after the statement that claims or resolves the keys in identifier_lookup: an
    erasure moves a block from there to here in one transaction, and a claim waiting for it
    goes through once it commits, so only a later statement sees where the block went."""
    forms: dict[str, list[int]] = {}
    for index, key in enumerate(keys):
        if key.kind in BLOCKABLE_KINDS:
            for form in forgetting.keyed_forms(_erased_block_name(program_id, key)):
                forms.setdefault(form, []).append(index)
    if not forms:
        return {}
    rows = await connection.fetch(
        "SELECT identifier_hash, reason FROM erased_blocked_identifiers "
        "WHERE program_id = $1 AND identifier_hash = ANY($2::text[])",
        program_id,
        list(forms),
    )
    return {index: row["reason"] for row in rows for index in forms[row["identifier_hash"]]}
