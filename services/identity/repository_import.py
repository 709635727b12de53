"""Identity's SQL for bulk enrolment: set-based, a handful of statements per batch (asyncpg)."""

from collections.abc import Sequence

import asyncpg

from services.identity.identifiers import IdentifierKey
from services.identity.members import new_referral_code
from services.identity.profiles import Profile

REFERRAL_CODE_ROUNDS_MAX = 8


async def fetch_batch(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, batch_id: str
) -> asyncpg.Record | None:
    return await connection.fetchrow(
        "SELECT request_hash, response FROM import_batches WHERE program_id = $1 AND batch_id = $2",
        program_id,
        batch_id,
    )


async def insert_batch(
    connection: asyncpg.Connection,
    program_id: str,
    batch_id: str,
    request_hash: bytes,
    response: bytes,
) -> bool:
    """False when a concurrent stream stored the batch first."""
    return bool(
        await connection.fetchval(
            "INSERT INTO import_batches (program_id, batch_id, request_hash, response) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true",
            program_id,
            batch_id,
            request_hash,
            response,
        )
    )


async def members_of_keys(
    connection: asyncpg.Connection, program_id: str, digests: Sequence[bytes]
) -> dict[bytes, str]:
    rows = await connection.fetch(
        "SELECT key_digest, member_id FROM import_keys "
        "WHERE program_id = $1 AND key_digest = ANY($2::bytea[])",
        program_id,
        list(digests),
    )
    return {bytes(row["key_digest"]): row["member_id"] for row in rows}


async def claim_keys(
    connection: asyncpg.Connection,
    program_id: str,
    digests: Sequence[bytes],
    member_ids: Sequence[str],
) -> int:
    """Record which member each key enrolled; returns how many were new (the rest raced)."""
    claimed = await connection.fetch(
        "INSERT INTO import_keys (program_id, key_digest, member_id) "
        "SELECT $1, * FROM unnest($2::bytea[], $3::text[]) ON CONFLICT DO NOTHING RETURNING 1",
        program_id,
        list(digests),
        list(member_ids),
    )
    return len(claimed)


async def insert_referral_codes(
    connection: asyncpg.Connection, program_id: str, member_ids: Sequence[str]
) -> dict[str, str]:
    """A fresh referral code for each member; codes taken already are drawn again."""
    codes: dict[str, str] = {}
    waiting = list(member_ids)
    for _ in range(REFERRAL_CODE_ROUNDS_MAX):
        drawn = [new_referral_code() for _ in waiting]
        rows = await connection.fetch(
            "INSERT INTO referral_codes (program_id, referral_code, member_id) "
            "SELECT $1, * FROM unnest($2::text[], $3::text[]) ON CONFLICT DO NOTHING "
            "RETURNING referral_code, member_id",
            program_id,
            drawn,
            waiting,
        )
        codes.update({row["member_id"]: row["referral_code"] for row in rows})
        waiting = [member for member in waiting if member not in codes]
        if not waiting:
            return codes
    raise AssertionError("no free referral codes after many rounds")


async def insert_members(
    connection: asyncpg.Connection,
    *,
    program_id: str,
    member_ids: Sequence[str],
    profiles: Sequence[Profile],
    referral_codes: Sequence[str],
    channel: int,
    entry_tier_code: str,
) -> None:
    await connection.execute(
        "INSERT INTO members (program_id, member_id, given_name, family_name, birthday, locale, "
        "enrollment_channel, entry_tier_code, referral_code) "
        "SELECT $1, m.member_id, m.given_name, m.family_name, m.birthday, m.locale, $7, $8, "
        "m.referral_code FROM unnest($2::text[], $3::text[], $4::text[], $5::date[], $6::text[], "
        "$9::text[]) AS m (member_id, given_name, family_name, birthday, locale, referral_code)",
        program_id,
        list(member_ids),
        [p.given_name for p in profiles],
        [p.family_name for p in profiles],
        [p.birthday for p in profiles],
        [p.locale for p in profiles],
        channel,
        entry_tier_code,
        list(referral_codes),
    )


async def claim_identifiers(
    connection: asyncpg.Connection,
    program_id: str,
    owners: Sequence[tuple[IdentifierKey, str]],
) -> int:
    """Claim each identifier for its member, in a fixed order (no deadlock with enrolments);
    returns how many were claimed; fewer means another member took one meanwhile."""
    ordered = sorted(owners, key=lambda o: (o[0].kind, o[0].provider, o[0].value))
    claimed = await connection.fetch(
        "INSERT INTO identifier_lookup (program_id, kind, provider, value, member_id) "
        "SELECT $1, kind, provider, value, member_id FROM unnest($2::smallint[], $3::text[], "
        "$4::text[], $5::text[]) WITH ORDINALITY AS claim (kind, provider, value, member_id, position) "
        "ORDER BY position ON CONFLICT DO NOTHING RETURNING 1",
        program_id,
        [key.kind for key, _ in ordered],
        [key.provider for key, _ in ordered],
        [key.value for key, _ in ordered],
        [member for _, member in ordered],
    )
    if len(claimed) < len(ordered):
        return len(claimed)
    await connection.execute(
        "INSERT INTO member_identifiers (program_id, member_id, kind, provider, value) "
        "SELECT $1, member_id, kind, provider, value FROM unnest($2::text[], $3::smallint[], "
        "$4::text[], $5::text[]) AS i (member_id, kind, provider, value)",
        program_id,
        [member for _, member in ordered],
        [key.kind for key, _ in ordered],
        [key.provider for key, _ in ordered],
        [key.value for key, _ in ordered],
    )
    return len(claimed)
