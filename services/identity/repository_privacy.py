"""Identity's SQL for merges and erasures (asyncpg)."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg

from services.identity import repository_blocks as block_store
from services.identity.identifiers import IdentifierKey
from services.identity.members import ERASED, MERGED, StoredIdentifier
from services.shared.idempotency import Forgetting

Connection: TypeAlias = asyncpg.Connection | asyncpg.Pool

PENDING = "pending"
COMPLETED = "completed"


@dataclass(frozen=True, kw_only=True)
class Merge:
    program_id: str
    merged_member_id: str
    survivor_member_id: str
    idempotency_key: str
    operator_id: str
    note: str
    moved_identifier_count: int
    transfer_idempotency_key: str
    transfer_request: bytes
    state: str
    ledger_transfer_id: str
    transferred_points: int
    last_error: str
    attempt_count: int
    created_at: dt.datetime
    completed_at: dt.datetime | None


def _merge(row: asyncpg.Record) -> Merge:
    return Merge(**{**dict(row), "transfer_request": bytes(row["transfer_request"])})


async def move_identifiers(
    connection: asyncpg.Connection,
    *,
    program_id: str,
    merged_member_id: str,
    survivor: str,
    survivor_status: str,
) -> list[StoredIdentifier]:
    """Move every identifier of the merged member to the survivor, keeping when each was added."""
    rows = await connection.fetch(
        "DELETE FROM member_identifiers WHERE program_id = $1 AND member_id = $2 "
        "RETURNING kind, provider, value, verified, added_at",
        program_id,
        merged_member_id,
    )
    await connection.execute(
        "INSERT INTO member_identifiers (program_id, member_id, kind, provider, value, verified, added_at) "
        "SELECT $1, $2, * FROM unnest($3::smallint[], $4::text[], $5::text[], $6::boolean[], $7::timestamptz[])",
        program_id,
        survivor,
        [r["kind"] for r in rows],
        [r["provider"] for r in rows],
        [r["value"] for r in rows],
        [r["verified"] for r in rows],
        [r["added_at"] for r in rows],
    )
    await connection.execute(
        "UPDATE identifier_lookup SET member_id = $3, member_status = $4 "
        "WHERE program_id = $1 AND member_id = $2",
        program_id,
        merged_member_id,
        survivor,
        survivor_status,
    )
    return [
        StoredIdentifier(
            key=IdentifierKey(r["kind"], r["provider"], r["value"]),
            verified=r["verified"],
            added_at=r["added_at"],
        )
        for r in rows
    ]


async def mark_merged(
    connection: asyncpg.Connection, *, program_id: str, merged_member_id: str, survivor: str
) -> None:
    """The member is merged into the survivor, and so is every member merged into it before, so
    a merged member is always one step from its survivor."""
    await connection.execute(
        "UPDATE members SET status = $4, merged_into_member_id = $3, updated_at = now() "
        "WHERE program_id = $1 AND (member_id = $2 OR merged_into_member_id = $2)",
        program_id,
        merged_member_id,
        survivor,
        MERGED,
    )


async def insert_merge(connection: asyncpg.Connection, merge: Merge) -> None:
    await connection.execute(
        "INSERT INTO merges (program_id, merged_member_id, survivor_member_id, idempotency_key, "
        "operator_id, note, moved_identifier_count, transfer_idempotency_key, transfer_request) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        merge.program_id,
        merge.merged_member_id,
        merge.survivor_member_id,
        merge.idempotency_key,
        merge.operator_id,
        merge.note,
        merge.moved_identifier_count,
        merge.transfer_idempotency_key,
        merge.transfer_request,
    )


async def fetch_merge(
    connection: Connection, program_id: str, merged_member_id: str, *, for_update: bool = False
) -> Merge | None:
    row = await connection.fetchrow(
        f"SELECT * FROM merges WHERE program_id = $1 AND merged_member_id = $2"
        f"{' FOR UPDATE' if for_update else ''}",
        program_id,
        merged_member_id,
    )
    return None if row is None else _merge(row)


async def fetch_merges_of(
    connection: Connection, program_id: str, member_ids: Sequence[str]
) -> list[Merge]:
    """The merges in which any of the members was merged or survived, oldest first."""
    rows = await connection.fetch(
        "SELECT * FROM merges WHERE program_id = $1 "
        "AND (merged_member_id = ANY($2::text[]) OR survivor_member_id = ANY($2::text[])) "
        "ORDER BY created_at, merged_member_id",
        program_id,
        list(member_ids),
    )
    return [_merge(row) for row in rows]


async def pending_merge_into(connection: Connection, program_id: str, member_id: str) -> str | None:
    """The member merged into `member_id` whose points have not arrived yet, if any."""
    return await connection.fetchval(
        "SELECT merged_member_id FROM merges WHERE state = 'pending' "
        "AND program_id = $1 AND survivor_member_id = $2 ORDER BY created_at LIMIT 1",
        program_id,
        member_id,
    )


async def fetch_stalled_merges(
    connection: Connection, *, older_than_s: float, limit: int
) -> list[Merge]:
    rows = await connection.fetch(
        "SELECT * FROM merges WHERE state = $1 AND created_at <= now() - make_interval(secs => $2) "
        "ORDER BY created_at LIMIT $3",
        PENDING,
        older_than_s,
        limit,
    )
    return [_merge(row) for row in rows]


async def complete_merge(
    connection: asyncpg.Connection, merge: Merge, *, transfer_id: str, transferred_points: int
) -> None:
    await connection.execute(
        "UPDATE merges SET state = $3, ledger_transfer_id = $4, transferred_points = $5, "
        "completed_at = now(), attempt_count = attempt_count + 1, last_error = '' "
        "WHERE program_id = $1 AND merged_member_id = $2",
        merge.program_id,
        merge.merged_member_id,
        COMPLETED,
        transfer_id,
        transferred_points,
    )


async def record_merge_failure(connection: Connection, merge: Merge, error: str) -> None:
    await connection.execute(
        "UPDATE merges SET attempt_count = attempt_count + 1, last_error = $3 "
        "WHERE program_id = $1 AND merged_member_id = $2",
        merge.program_id,
        merge.merged_member_id,
        error[:1000],
    )


async def pseudonymise_members(
    connection: asyncpg.Connection, program_id: str, member_ids: Sequence[str], status: str
) -> dt.datetime:
    """Replace the personal data of the members; their ids stay, as pseudonyms."""
    return await connection.fetchval(
        "UPDATE members SET status = $3, given_name = '', family_name = '', birthday = NULL, "
        "locale = '', home_store_id = '', preferences = '{}', updated_at = now(), erased_at = now() "
        "WHERE program_id = $1 AND member_id = ANY($2::text[]) RETURNING erased_at",
        program_id,
        list(member_ids),
        status,
    )


async def release_all_identifiers(
    connection: asyncpg.Connection,
    program_id: str,
    member_ids: Sequence[str],
    *,
    forgetting: Forgetting,
) -> None:
    """Free every identifier of the members for the program; keep the cards blocked for them
    (reported lost or stolen, in other hands) blocked, but only under their keyed hash, which
    names neither the card nor the member; and forget their card numbers."""
    rows = await connection.fetch(
        "DELETE FROM member_identifiers WHERE program_id = $1 AND member_id = ANY($2::text[]) "
        "RETURNING kind, provider, value",
        program_id,
        list(member_ids),
    )
    await connection.execute(
        "DELETE FROM identifier_lookup l USING unnest($2::smallint[], $3::text[], $4::text[]) "
        "AS released (kind, provider, value) WHERE l.program_id = $1 AND l.kind = released.kind "
        "AND l.provider = released.provider AND l.value = released.value",
        program_id,
        [r["kind"] for r in rows],
        [r["provider"] for r in rows],
        [r["value"] for r in rows],
    )
    blocked = await block_store.forget_blocks(
        connection, program_id=program_id, member_ids=member_ids, forgetting=forgetting
    )
    await connection.execute(
        "DELETE FROM card_numbers WHERE program_id = $1 AND card_number = ANY($2::text[])",
        program_id,
        [*(r["value"] for r in rows), *blocked],
    )


async def blank_merge_notes(
    connection: asyncpg.Connection, program_id: str, transfer_requests: dict[str, bytes]
) -> None:
    """Blank the notes of completed merges, keyed by merged member, and replace their stored
    transfer requests (by ones without the note)."""
    await connection.execute(
        "UPDATE merges SET note = '', transfer_request = t.request "
        "FROM unnest($2::text[], $3::bytea[]) AS t (merged_member_id, request) "
        "WHERE merges.program_id = $1 AND merges.merged_member_id = t.merged_member_id "
        "AND merges.state = $4",
        program_id,
        list(transfer_requests),
        list(transfer_requests.values()),
        COMPLETED,
    )


async def replace_merge_keys(
    connection: asyncpg.Connection, program_id: str, keys: dict[str, str]
) -> None:
    """Replace the idempotency keys of merges, keyed by merged member (by their forgotten form)."""
    await connection.execute(
        "UPDATE merges SET idempotency_key = t.key "
        "FROM unnest($2::text[], $3::text[]) AS t (merged_member_id, key) "
        "WHERE merges.program_id = $1 AND merges.merged_member_id = t.merged_member_id",
        program_id,
        list(keys),
        list(keys.values()),
    )


async def plain_erasure_keys(
    connection: asyncpg.Connection, forgotten_prefix: str, limit: int
) -> dict[str, list[str]]:
    """Up to `limit` EraseMember keys kept as sent (by versions before they were stored
    forgotten), by program."""
    rows = await connection.fetch(
        "SELECT program_id, idempotency_key FROM idempotency_keys "
        "WHERE method = 'EraseMember' AND NOT starts_with(idempotency_key, $1) LIMIT $2",
        forgotten_prefix,
        limit,
    )
    keys: dict[str, list[str]] = {}
    for row in rows:
        keys.setdefault(row["program_id"], []).append(row["idempotency_key"])
    return keys


async def plain_keys_of_erased_merges(
    connection: asyncpg.Connection, forgotten_prefix: str, limit: int
) -> dict[str, dict[str, str]]:
    """Up to `limit` merges of erased members whose key is kept as sent (by versions before an
    erasure forgot it), by program: merged member -> key."""
    rows = await connection.fetch(
        "SELECT m.program_id, m.merged_member_id, m.idempotency_key FROM merges m "
        "JOIN members e ON e.program_id = m.program_id AND e.member_id = m.merged_member_id "
        "WHERE e.status = $2 AND NOT starts_with(m.idempotency_key, $1) LIMIT $3",
        forgotten_prefix,
        ERASED,
        limit,
    )
    merges: dict[str, dict[str, str]] = {}
    for row in rows:
        merges.setdefault(row["program_id"], {})[row["merged_member_id"]] = row["idempotency_key"]
    return merges


async def forget_member_records(
    connection: asyncpg.Connection, program_id: str, member_ids: Sequence[str]
) -> list[str]:
    """Delete consents and their history and the keys that imported the members, and return
    the idempotency keys of the changes made to the members (their stored responses are
    pseudonymised next)."""
    ids = list(member_ids)
    for table in ("consents", "consent_changes", "import_keys"):
        await connection.execute(
            f"DELETE FROM {table} WHERE program_id = $1 AND member_id = ANY($2::text[])",
            program_id,
            ids,
        )
    rows = await connection.fetch(
        "DELETE FROM member_requests WHERE program_id = $1 AND member_id = ANY($2::text[]) "
        "RETURNING idempotency_key",
        program_id,
        ids,
    )
    return sorted({r["idempotency_key"] for r in rows})


async def stored_responses(
    connection: asyncpg.Connection, program_id: str, keys: Sequence[str]
) -> list[asyncpg.Record]:
    return await connection.fetch(
        "SELECT idempotency_key, method, response FROM idempotency_keys "
        "WHERE program_id = $1 AND idempotency_key = ANY($2::text[]) AND response IS NOT NULL FOR UPDATE",
        program_id,
        list(keys),
    )


async def replace_stored_response(
    connection: asyncpg.Connection, program_id: str, key: str, response: bytes
) -> None:
    await connection.execute(
        "UPDATE idempotency_keys SET response = $3 WHERE program_id = $1 AND idempotency_key = $2",
        program_id,
        key,
        response,
    )


async def insert_erasure(
    connection: asyncpg.Connection,
    *,
    program_id: str,
    member_id: str,
    operator_id: str,
    reason: str,
) -> None:
    await connection.execute(
        "INSERT INTO erasures (program_id, member_id, operator_id, reason) VALUES ($1, $2, $3, $4)",
        program_id,
        member_id,
        operator_id,
        reason,
    )
