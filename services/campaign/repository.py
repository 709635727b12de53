"""The campaign service's SQL (asyncpg)."""

import zlib

import asyncpg


async def upsert_recognition(
    connection: asyncpg.Connection, program_id: str, definition: bytes
) -> float:
    """Store the definition; returns the change time (unix seconds)."""
    return await connection.fetchval(
        "INSERT INTO recognition_configs (program_id, definition) VALUES ($1, $2) "
        "ON CONFLICT (program_id) DO UPDATE SET definition = EXCLUDED.definition, updated_at = now() "
        "RETURNING extract(epoch FROM updated_at)::float8",
        program_id,
        definition,
    )


async def fetch_recognition(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str
) -> tuple[bytes, float] | None:
    row = await connection.fetchrow(
        "SELECT definition, extract(epoch FROM updated_at)::float8 AS updated "
        "FROM recognition_configs WHERE program_id = $1",
        program_id,
    )
    return None if row is None else (bytes(row["definition"]), row["updated"])


def _recognition_lock(program_id: str) -> int:
    return zlib.crc32(f"loyalty.campaign.recognition.{program_id}".encode()) - 2**31


async def fetch_recognition_shared(connection: asyncpg.Connection, program_id: str) -> bytes | None:
    """The definition, read under a shared advisory lock of the program: a configuration change
    (which takes the lock exclusively, `lock_recognition`) waits for the accruals that read it,
    and they for it. An advisory lock, not FOR SHARE, so concurrent accruals write nothing."""
    await connection.execute(
        "SELECT pg_advisory_xact_lock_shared($1)", _recognition_lock(program_id)
    )
    value = await connection.fetchval(
        "SELECT definition FROM recognition_configs WHERE program_id = $1", program_id
    )
    return None if value is None else bytes(value)


async def lock_recognition(connection: asyncpg.Connection, program_id: str) -> None:
    await connection.execute("SELECT pg_advisory_xact_lock($1)", _recognition_lock(program_id))
