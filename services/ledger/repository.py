"""The ledger's SQL (asyncpg); one function per statement group, no business rules."""

import dataclasses

import asyncpg

from services.ledger.domain import ProgramSettings, Tier

_SETTINGS_COLUMNS = [f.name for f in dataclasses.fields(ProgramSettings)]


async def upsert_program(connection: asyncpg.Connection, settings: ProgramSettings) -> None:
    columns = ", ".join(_SETTINGS_COLUMNS)
    placeholders = ", ".join(f"${i}" for i in range(1, len(_SETTINGS_COLUMNS) + 1))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _SETTINGS_COLUMNS if c != "program_id")
    await connection.execute(
        f"INSERT INTO programs ({columns}) VALUES ({placeholders}) "
        f"ON CONFLICT (program_id) DO UPDATE SET {updates}, updated_at = now()",
        *(getattr(settings, c) for c in _SETTINGS_COLUMNS),
    )


async def fetch_program(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str
) -> tuple[ProgramSettings, float] | None:
    """The settings and their last change (unix seconds), or None."""
    row = await connection.fetchrow(
        f"SELECT {', '.join(_SETTINGS_COLUMNS)}, extract(epoch FROM updated_at)::float8 AS updated "
        "FROM programs WHERE program_id = $1",
        program_id,
    )
    if row is None:
        return None
    values = dict(row)
    updated = values.pop("updated")
    values["currency"] = values["currency"].strip()
    return ProgramSettings(**values), updated


async def lock_program(connection: asyncpg.Connection, program_id: str) -> bool:
    return bool(
        await connection.fetchval(
            "SELECT true FROM programs WHERE program_id = $1 FOR UPDATE", program_id
        )
    )


async def replace_tiers(connection: asyncpg.Connection, program_id: str, tiers: list[Tier]) -> None:
    await connection.execute("DELETE FROM tier_definitions WHERE program_id = $1", program_id)
    await connection.executemany(
        "INSERT INTO tier_definitions (program_id, code, name, rank, threshold, benefits_text, "
        "multiplier_bps) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [
            (program_id, t.code, t.name, t.rank, t.threshold, t.benefits_text, t.multiplier_bps)
            for t in tiers
        ],
    )


async def fetch_tiers(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, *, after_rank: int, limit: int
) -> list[Tier]:
    rows = await connection.fetch(
        "SELECT code, name, rank, threshold, benefits_text, multiplier_bps FROM tier_definitions "
        "WHERE program_id = $1 AND rank > $2 ORDER BY rank LIMIT $3",
        program_id,
        after_rank,
        limit,
    )
    return [Tier(**dict(row)) for row in rows]


async def set_entry_tier(connection: asyncpg.Connection, program_id: str, code: str) -> None:
    await connection.execute(
        "UPDATE programs SET entry_tier_code = $2, updated_at = now() "
        "WHERE program_id = $1 AND entry_tier_code <> $2",
        program_id,
        code,
    )


async def count_holders(
    connection: asyncpg.Connection, program_id: str, codes: list[str]
) -> dict[str, int]:
    """The open accounts holding each of `codes` (one read of the program's accounts: no index
    covers tier_code, so postings' updates stay HOT; see migration 004)."""
    if not codes:
        return {}
    rows = await connection.fetch(
        "SELECT tier_code, count(*) AS accounts FROM member_accounts WHERE program_id = $1 "
        "AND tier_code = ANY($2::text[]) AND closed_into IS NULL GROUP BY tier_code",
        program_id,
        codes,
    )
    return {row["tier_code"]: row["accounts"] for row in rows}


async def tier_defined(connection: asyncpg.Connection, program_id: str, code: str) -> bool:
    """Whether the program's tiers define `code`; before the program has tiers, any code is."""
    return bool(
        await connection.fetchval(
            "SELECT coalesce(bool_or(code = $2), true) FROM tier_definitions WHERE program_id = $1",
            program_id,
            code,
        )
    )
