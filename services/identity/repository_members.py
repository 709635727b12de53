"""Identity's SQL for members, identifiers, consents and referral codes (asyncpg)."""

import datetime as dt
import json
from collections.abc import Sequence
from typing import TypeAlias

import asyncpg

from services.identity.identifiers import IdentifierKey
from services.identity.members import (
    BlockedIdentifier,
    MemberView,
    StoredConsent,
    StoredIdentifier,
    StoredMember,
    new_referral_code,
)
from services.identity.profiles import Profile

Connection: TypeAlias = asyncpg.Connection | asyncpg.Pool
REFERRAL_CODE_ATTEMPTS_MAX = 8

_MEMBER_COLUMNS = (
    "program_id, member_id, status, given_name, family_name, birthday, locale, home_store_id, "
    "preferences, enrollment_channel, enrollment_store_id, entry_tier_code, referral_code, "
    "referrer_member_id, merged_into_member_id, enrolled_at, updated_at, erased_at"
)


def _member(row: asyncpg.Record) -> StoredMember:
    return StoredMember(
        program_id=row["program_id"],
        member_id=row["member_id"],
        status=row["status"],
        profile=Profile(
            given_name=row["given_name"],
            family_name=row["family_name"],
            birthday=row["birthday"],
            locale=row["locale"],
            home_store_id=row["home_store_id"],
            preferences=json.loads(row["preferences"]),
        ),
        enrollment_channel=row["enrollment_channel"],
        enrollment_store_id=row["enrollment_store_id"],
        entry_tier_code=row["entry_tier_code"],
        referral_code=row["referral_code"],
        referrer_member_id=row["referrer_member_id"],
        merged_into_member_id=row["merged_into_member_id"],
        enrolled_at=row["enrolled_at"],
        updated_at=row["updated_at"],
        erased_at=row["erased_at"],
    )


async def insert_member(
    connection: asyncpg.Connection,
    *,
    program_id: str,
    member_id: str,
    profile: Profile,
    channel: int,
    store_id: str,
    entry_tier_code: str,
    referrer_member_id: str,
) -> None:
    """Inserts the member with a fresh referral code of its own."""
    for _ in range(REFERRAL_CODE_ATTEMPTS_MAX):
        code = new_referral_code()
        if await connection.fetchval(
            "INSERT INTO referral_codes (program_id, referral_code, member_id) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING RETURNING true",
            program_id,
            code,
            member_id,
        ):
            break
    else:
        raise AssertionError("no free referral code after many attempts")
    await connection.execute(
        "INSERT INTO members (program_id, member_id, given_name, family_name, birthday, locale, "
        "home_store_id, preferences, enrollment_channel, enrollment_store_id, entry_tier_code, "
        "referral_code, referrer_member_id) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        program_id,
        member_id,
        profile.given_name,
        profile.family_name,
        profile.birthday,
        profile.locale,
        profile.home_store_id,
        json.dumps(dict(profile.preferences)),
        channel,
        store_id,
        entry_tier_code,
        code,
        referrer_member_id,
    )


async def fetch_member(
    connection: Connection, program_id: str, member_id: str, *, for_update: bool = False
) -> StoredMember | None:
    row = await connection.fetchrow(
        f"SELECT {_MEMBER_COLUMNS} FROM members WHERE program_id = $1 AND member_id = $2"
        f"{' FOR UPDATE' if for_update else ''}",
        program_id,
        member_id,
    )
    return None if row is None else _member(row)


async def fetch_statuses(
    connection: Connection, program_id: str, member_ids: Sequence[str]
) -> dict[str, tuple[str, str]]:
    """The status and final survivor ('' unless merged) of those of `member_ids` enrolled."""
    rows = await connection.fetch(
        "SELECT member_id, status, merged_into_member_id FROM members "
        "WHERE program_id = $1 AND member_id = ANY($2::text[])",
        program_id,
        list(member_ids),
    )
    return {row["member_id"]: (row["status"], row["merged_into_member_id"]) for row in rows}


async def fetch_members(
    connection: Connection,
    program_id: str,
    *,
    after_member_id: str,
    status: str,
    enrolled_after: dt.datetime | None,
    limit: int,
) -> list[StoredMember]:
    rows = await connection.fetch(
        f"SELECT {_MEMBER_COLUMNS} FROM members WHERE program_id = $1 AND member_id > $2 "
        "AND ($3 = '' OR status = $3) AND ($4::timestamptz IS NULL OR enrolled_at >= $4) "
        "ORDER BY member_id LIMIT $5",
        program_id,
        after_member_id,
        status,
        enrolled_after,
        limit,
    )
    return [_member(row) for row in rows]


async def fetch_members_merged_into(
    connection: Connection, program_id: str, survivor_member_id: str
) -> list[StoredMember]:
    rows = await connection.fetch(
        f"SELECT {_MEMBER_COLUMNS} FROM members WHERE program_id = $1 AND merged_into_member_id = $2 "
        "ORDER BY member_id",
        program_id,
        survivor_member_id,
    )
    return [_member(row) for row in rows]


async def views(connection: Connection, members: Sequence[StoredMember]) -> list[MemberView]:
    """The members with their identifiers, blocked cards and consents, three queries for all of
    them."""
    if not members:
        return []
    program_id = members[0].program_id
    member_ids = [m.member_id for m in members]
    identifier_rows = await connection.fetch(
        "SELECT member_id, kind, provider, value, verified, added_at FROM member_identifiers "
        "WHERE program_id = $1 AND member_id = ANY($2::text[]) ORDER BY member_id, added_at, kind, value",
        program_id,
        member_ids,
    )
    blocked_rows = await connection.fetch(
        "SELECT member_id, kind, provider, value, verified, added_at, reason, blocked_at "
        "FROM blocked_identifiers WHERE program_id = $1 AND member_id = ANY($2::text[]) "
        "ORDER BY member_id, blocked_at, kind, value",
        program_id,
        member_ids,
    )
    consent_rows = await connection.fetch(
        "SELECT member_id, channel, granted, source_channel, changed_at FROM consents "
        "WHERE program_id = $1 AND member_id = ANY($2::text[]) ORDER BY member_id, channel",
        program_id,
        member_ids,
    )
    identifiers: dict[str, list[StoredIdentifier]] = {m: [] for m in member_ids}
    for row in identifier_rows:
        identifiers[row["member_id"]].append(
            StoredIdentifier(
                key=IdentifierKey(row["kind"], row["provider"], row["value"]),
                verified=row["verified"],
                added_at=row["added_at"],
            )
        )
    blocked: dict[str, list[BlockedIdentifier]] = {m: [] for m in member_ids}
    for row in blocked_rows:
        blocked[row["member_id"]].append(
            BlockedIdentifier(
                key=IdentifierKey(row["kind"], row["provider"], row["value"]),
                verified=row["verified"],
                added_at=row["added_at"],
                reason=row["reason"],
                blocked_at=row["blocked_at"],
            )
        )
    consents: dict[str, list[StoredConsent]] = {m: [] for m in member_ids}
    for row in consent_rows:
        consents[row["member_id"]].append(
            StoredConsent(
                channel=row["channel"],
                granted=row["granted"],
                source_channel=row["source_channel"],
                changed_at=row["changed_at"],
            )
        )
    return [
        MemberView(
            member=m,
            identifiers=identifiers[m.member_id],
            blocked_identifiers=blocked[m.member_id],
            consents=consents[m.member_id],
        )
        for m in members
    ]


async def claim_identifiers(
    connection: asyncpg.Connection,
    *,
    program_id: str,
    member_id: str,
    keys: Sequence[IdentifierKey],
    verified: Sequence[bool],
    status: str = "active",
) -> list[int]:
    """Attach `keys` to the member; returns the indexes of those another member holds (then the
    caller rolls back). Claimed in a fixed order, so concurrent claims cannot deadlock; a claim of
    the same identifier waits for the first to commit or roll back."""
    order = sorted(range(len(keys)), key=lambda i: (keys[i].kind, keys[i].provider, keys[i].value))
    claimed = await connection.fetch(
        "INSERT INTO identifier_lookup (program_id, kind, provider, value, member_id, member_status) "
        "SELECT $1, kind, provider, value, $2, $6 FROM unnest($3::smallint[], $4::text[], $5::text[]) "
        "WITH ORDINALITY AS claim (kind, provider, value, position) ORDER BY position "
        "ON CONFLICT DO NOTHING RETURNING kind, provider, value",
        program_id,
        member_id,
        [keys[i].kind for i in order],
        [keys[i].provider for i in order],
        [keys[i].value for i in order],
        status,
    )
    got = {IdentifierKey(r["kind"], r["provider"], r["value"]) for r in claimed}
    taken = [i for i, key in enumerate(keys) if key not in got]
    if taken:
        return taken
    await connection.execute(
        "INSERT INTO member_identifiers (program_id, member_id, kind, provider, value, verified) "
        "SELECT $1, $2, * FROM unnest($3::smallint[], $4::text[], $5::text[], $6::boolean[])",
        program_id,
        member_id,
        [k.kind for k in keys],
        [k.provider for k in keys],
        [k.value for k in keys],
        list(verified),
    )
    return []


async def fetch_identifier(
    connection: Connection, program_id: str, member_id: str, key: IdentifierKey
) -> StoredIdentifier | None:
    row = await connection.fetchrow(
        "SELECT verified, added_at FROM member_identifiers WHERE program_id = $1 AND member_id = $2 "
        "AND kind = $3 AND provider = $4 AND value = $5",
        program_id,
        member_id,
        key.kind,
        key.provider,
        key.value,
    )
    return (
        None
        if row is None
        else StoredIdentifier(key=key, verified=row["verified"], added_at=row["added_at"])
    )


async def count_identifiers(connection: Connection, program_id: str, member_id: str) -> int:
    return await connection.fetchval(
        "SELECT count(*) FROM member_identifiers WHERE program_id = $1 AND member_id = $2",
        program_id,
        member_id,
    )


async def detach_identifier(
    connection: asyncpg.Connection, program_id: str, member_id: str, key: IdentifierKey
) -> StoredIdentifier | None:
    """Take the identifier off the member (its lookup row stays for the caller to free or
    block); the identifier as the member held it, or None if the member does not hold it."""
    row = await connection.fetchrow(
        "DELETE FROM member_identifiers WHERE program_id = $1 AND member_id = $2 AND kind = $3 "
        "AND provider = $4 AND value = $5 RETURNING verified, added_at",
        program_id,
        member_id,
        key.kind,
        key.provider,
        key.value,
    )
    if row is None:
        return None
    return StoredIdentifier(key=key, verified=row["verified"], added_at=row["added_at"])


async def release_identifier(
    connection: asyncpg.Connection, program_id: str, member_id: str, key: IdentifierKey
) -> bool:
    """Detach the identifier from the member and free it for the program; False if not held."""
    removed = await detach_identifier(connection, program_id, member_id, key) is not None
    if removed:
        await connection.execute(
            "DELETE FROM identifier_lookup WHERE program_id = $1 AND kind = $2 AND provider = $3 "
            "AND value = $4 AND member_id = $5",
            program_id,
            key.kind,
            key.provider,
            key.value,
            member_id,
        )
    return removed


async def resolve(
    connection: Connection, program_id: str, key: IdentifierKey
) -> tuple[str, str] | None:
    """(member id, status) of the identifier: one probe of identifier_lookup's primary key."""
    row = await connection.fetchrow(
        "SELECT member_id, member_status FROM identifier_lookup "
        "WHERE program_id = $1 AND kind = $2 AND provider = $3 AND value = $4",
        program_id,
        key.kind,
        key.provider,
        key.value,
    )
    return None if row is None else (row["member_id"], row["member_status"])


async def resolve_many(
    connection: Connection, program_id: str, keys: Sequence[IdentifierKey | None]
) -> list[tuple[str, str] | None]:
    positions = [i for i, key in enumerate(keys) if key is not None]
    found: list[tuple[str, str] | None] = [None] * len(keys)
    if not positions:
        return found
    rows = await connection.fetch(
        "SELECT wanted.position, l.member_id, l.member_status "
        "FROM unnest($2::int[], $3::smallint[], $4::text[], $5::text[]) "
        "AS wanted (position, kind, provider, value) "
        "JOIN identifier_lookup l ON l.program_id = $1 AND l.kind = wanted.kind "
        "AND l.provider = wanted.provider AND l.value = wanted.value",
        program_id,
        positions,
        [keys[i].kind for i in positions],  # type: ignore[union-attr]
        [keys[i].provider for i in positions],  # type: ignore[union-attr]
        [keys[i].value for i in positions],  # type: ignore[union-attr]
    )
    for row in rows:
        found[row["position"]] = (row["member_id"], row["member_status"])
    return found


async def member_id_of_referral_code(
    connection: Connection, program_id: str, code: str
) -> str | None:
    return await connection.fetchval(
        "SELECT member_id FROM referral_codes WHERE program_id = $1 AND referral_code = $2",
        program_id,
        code,
    )


async def update_profile(
    connection: asyncpg.Connection, program_id: str, member_id: str, profile: Profile
) -> None:
    await connection.execute(
        "UPDATE members SET given_name = $3, family_name = $4, birthday = $5, locale = $6, "
        "home_store_id = $7, preferences = $8, updated_at = now() "
        "WHERE program_id = $1 AND member_id = $2",
        program_id,
        member_id,
        profile.given_name,
        profile.family_name,
        profile.birthday,
        profile.locale,
        profile.home_store_id,
        json.dumps(dict(profile.preferences)),
    )


async def touch_member(connection: asyncpg.Connection, program_id: str, member_id: str) -> None:
    await connection.execute(
        "UPDATE members SET updated_at = now() WHERE program_id = $1 AND member_id = $2",
        program_id,
        member_id,
    )


async def change_consents(
    connection: asyncpg.Connection,
    *,
    program_id: str,
    member_id: str,
    changes: Sequence[tuple[int, bool]],
    source_channel: int,
) -> list[StoredConsent]:
    """Apply (channel, granted) changes; returns those that changed something, with their time.
    A change to the state a channel already has is no change: its time stays."""
    changed = await connection.fetch(
        "INSERT INTO consents AS c (program_id, member_id, channel, granted, source_channel) "
        "SELECT $1, $2, channel, granted, $5 FROM unnest($3::smallint[], $4::boolean[]) "
        "AS change (channel, granted) "
        "ON CONFLICT (program_id, member_id, channel) DO UPDATE "
        "SET granted = excluded.granted, source_channel = excluded.source_channel, changed_at = now() "
        "WHERE c.granted <> excluded.granted "
        "RETURNING channel, granted, source_channel, changed_at",
        program_id,
        member_id,
        [channel for channel, _ in changes],
        [granted for _, granted in changes],
        source_channel,
    )
    consents = [
        StoredConsent(
            channel=r["channel"],
            granted=r["granted"],
            source_channel=r["source_channel"],
            changed_at=r["changed_at"],
        )
        for r in changed
    ]
    if consents:
        await connection.execute(
            "INSERT INTO consent_changes (program_id, member_id, channel, granted, source_channel, changed_at) "
            "SELECT $1, $2, * FROM unnest($3::smallint[], $4::boolean[], $5::smallint[], $6::timestamptz[])",
            program_id,
            member_id,
            [c.channel for c in consents],
            [c.granted for c in consents],
            [c.source_channel for c in consents],
            [c.changed_at for c in consents],
        )
    return consents


async def fetch_consent_changes(
    connection: Connection, program_id: str, member_ids: Sequence[str]
) -> list[asyncpg.Record]:
    """Every change of consent of the members, oldest first."""
    return await connection.fetch(
        "SELECT member_id, channel, granted, source_channel, changed_at FROM consent_changes "
        "WHERE program_id = $1 AND member_id = ANY($2::text[]) ORDER BY changed_at, change_id",
        program_id,
        list(member_ids),
    )


async def record_request(
    connection: asyncpg.Connection, program_id: str, member_id: str, idempotency_key: str
) -> None:
    """Remember that the change with this key touched the member (for erasure)."""
    await connection.execute(
        "INSERT INTO member_requests (program_id, member_id, idempotency_key) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING",
        program_id,
        member_id,
        idempotency_key,
    )
