"""Identity's SQL for signing keys and API keys (asyncpg)."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg

from services.identity.tokens import ALGORITHM, SigningKey

Connection: TypeAlias = asyncpg.Connection | asyncpg.Pool

_KEY_COLUMNS = "program_id, key_id, purpose, private_key, public_key, not_before, not_after"
_API_KEY_COLUMNS = (
    "program_id, key_id, name, scopes, secret_prefix, requests_per_minute_max, created_at, "
    "expires_at, revoked_at, last_used_at"
)


def _signing_key(row: asyncpg.Record) -> SigningKey:
    return SigningKey(
        program_id=row["program_id"],
        key_id=row["key_id"],
        purpose=row["purpose"],
        private_key=bytes(row["private_key"]),
        public_key=bytes(row["public_key"]),
        not_before=row["not_before"],
        not_after=row["not_after"],
    )


async def fetch_signing_key(
    connection: Connection, program_id: str, key_id: str
) -> SigningKey | None:
    row = await connection.fetchrow(
        f"SELECT {_KEY_COLUMNS} FROM signing_keys WHERE program_id = $1 AND key_id = $2",
        program_id,
        key_id,
    )
    return None if row is None else _signing_key(row)


async def fetch_active_key(
    connection: Connection, program_id: str, purpose: str, *, for_update: bool = False
) -> SigningKey | None:
    row = await connection.fetchrow(
        f"SELECT {_KEY_COLUMNS} FROM signing_keys "
        f"WHERE program_id = $1 AND purpose = $2 AND not_after IS NULL{' FOR UPDATE' if for_update else ''}",
        program_id,
        purpose,
    )
    return None if row is None else _signing_key(row)


async def insert_active_key(connection: Connection, key: SigningKey) -> bool:
    """False when the program already has an active key for the purpose (a concurrent first use)."""
    inserted = await connection.fetchval(
        "INSERT INTO signing_keys (program_id, key_id, purpose, algorithm, private_key, public_key, "
        "not_before) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING true",
        key.program_id,
        key.key_id,
        key.purpose,
        ALGORITHM,
        key.private_key,
        key.public_key,
        key.not_before,
    )
    return bool(inserted)


async def retire_key(
    connection: asyncpg.Connection, program_id: str, key_id: str, not_after: dt.datetime
) -> None:
    await connection.execute(
        "UPDATE signing_keys SET not_after = $3 WHERE program_id = $1 AND key_id = $2",
        program_id,
        key_id,
        not_after,
    )


async def fetch_verifying_keys(
    connection: Connection, program_id: str, purpose: str, now: dt.datetime
) -> list[SigningKey]:
    """The keys that verify tokens now: the active one and those still retiring."""
    rows = await connection.fetch(
        f"SELECT {_KEY_COLUMNS} FROM signing_keys WHERE program_id = $1 AND purpose = $2 "
        "AND (not_after IS NULL OR not_after > $3) ORDER BY not_before DESC",
        program_id,
        purpose,
        now,
    )
    return [_signing_key(row) for row in rows]


@dataclass(frozen=True, kw_only=True)
class StoredApiKey:
    program_id: str
    key_id: str
    name: str
    scopes: list[str]
    secret_prefix: str
    requests_per_minute_max: int
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


def _api_key(row: asyncpg.Record) -> StoredApiKey:
    return StoredApiKey(**{**dict(row), "scopes": list(row["scopes"])})


async def insert_api_key(
    connection: asyncpg.Connection,
    *,
    program_id: str,
    key_id: str,
    name: str,
    scopes: Sequence[str],
    secret_hash: bytes,
    secret_prefix: str,
    requests_per_minute_max: int,
    expires_at: dt.datetime | None,
) -> StoredApiKey:
    row = await connection.fetchrow(
        "INSERT INTO api_keys (program_id, key_id, name, scopes, secret_hash, secret_prefix, "
        "requests_per_minute_max, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
        f"RETURNING {_API_KEY_COLUMNS}",
        program_id,
        key_id,
        name,
        list(scopes),
        secret_hash,
        secret_prefix,
        requests_per_minute_max,
        expires_at,
    )
    return _api_key(row)


async def revoke_api_key(
    connection: asyncpg.Connection, program_id: str, key_id: str
) -> StoredApiKey | None:
    """Revoke the key (a second revocation keeps the first time)."""
    row = await connection.fetchrow(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) "
        f"WHERE program_id = $1 AND key_id = $2 RETURNING {_API_KEY_COLUMNS}",
        program_id,
        key_id,
    )
    return None if row is None else _api_key(row)


async def fetch_api_keys(
    connection: Connection, program_id: str, *, after_key_id: str, include_revoked: bool, limit: int
) -> list[StoredApiKey]:
    rows = await connection.fetch(
        f"SELECT {_API_KEY_COLUMNS} FROM api_keys WHERE program_id = $1 AND key_id > $2 "
        "AND ($3 OR revoked_at IS NULL) ORDER BY key_id LIMIT $4",
        program_id,
        after_key_id,
        include_revoked,
        limit,
    )
    return [_api_key(row) for row in rows]


async def use_api_key(
    connection: Connection, secret_hash: bytes, *, last_used_resolution_s: int
) -> StoredApiKey | None:
    """The key with this secret hash, marking it used (at most once per resolution, so a busy key
    does not write on every call)."""
    row = await connection.fetchrow(
        f"SELECT {_API_KEY_COLUMNS} FROM api_keys WHERE secret_hash = $1", secret_hash
    )
    if row is None:
        return None
    key = _api_key(row)
    if key.revoked_at is None and (
        key.last_used_at is None
        or (dt.datetime.now(dt.UTC) - key.last_used_at).total_seconds() >= last_used_resolution_s
    ):
        used = await connection.fetchval(
            "UPDATE api_keys SET last_used_at = now() WHERE program_id = $1 AND key_id = $2 "
            "RETURNING last_used_at",
            key.program_id,
            key.key_id,
        )
        key = StoredApiKey(**{**key.__dict__, "last_used_at": used})
    return key
