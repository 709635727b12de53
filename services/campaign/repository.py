"""The campaign service's SQL (asyncpg)."""

import datetime as dt
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


async def claim_top_of_month_start(
    connection: asyncpg.Connection, program_id: str, now: dt.datetime
) -> dt.datetime | None:
    """The instant the job first saw the program's top-N switched on: `now` if this is the first
    run that sees it, else the one recorded; None if switched off meanwhile. Replicas claiming at
    once all read the winner's: the loser's insert waits for the winner's commit and does
    nothing, and the read after it (a statement of its own, so with a snapshot that sees that
    commit) finds the row. Run outside a transaction, so the claim is committed at once."""
    await connection.execute(
        "INSERT INTO top_of_month_starts (program_id, since) VALUES ($1, $2) "
        "ON CONFLICT (program_id) DO NOTHING",
        program_id,
        now,
    )
    return await connection.fetchval(
        "SELECT since FROM top_of_month_starts WHERE program_id = $1", program_id
    )


async def forget_top_of_month_start(connection: asyncpg.Connection, program_id: str) -> None:
    await connection.execute("DELETE FROM top_of_month_starts WHERE program_id = $1", program_id)
