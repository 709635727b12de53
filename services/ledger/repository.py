"""The ledger's SQL (asyncpg); one function per statement group, no business rules."""

import dataclasses
import datetime as dt

import asyncpg

from services.ledger.domain import ProgramSettings, Tier, TierMapping, TierMove

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


async def share_program(connection: asyncpg.Connection, program_id: str) -> bool:
    """Hold off SetTierDefinitions (which locks the row for update) until the caller commits,
    so what it reads of the tiers stays true while it writes by them."""
    return bool(
        await connection.fetchval(
            "SELECT true FROM programs WHERE program_id = $1 FOR SHARE", program_id
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


async def record_tier_mappings(
    connection: asyncpg.Connection,
    program_id: str,
    tiers: list[Tier],
    moves: list[TierMove],
    now: dt.datetime,
) -> None:
    """Keep where each removed code's members belong, for accounts found on it later. Earlier
    mappings to a code removed now follow its mapping (A to B, then B to C: A to C); those whose
    target or source the new `tiers` define no longer apply and are dropped."""
    await connection.execute(
        "UPDATE tier_code_mappings AS m SET to_tier_code = n.to_code"
        " FROM unnest($2::text[], $3::text[]) AS n (from_code, to_code)"
        " WHERE m.program_id = $1 AND m.to_tier_code = n.from_code",
        program_id,
        [move.from_code for move in moves],
        [move.to_code for move in moves],
    )
    codes = [t.code for t in tiers]
    await connection.execute(
        "DELETE FROM tier_code_mappings WHERE program_id = $1"
        " AND (to_tier_code <> ALL($2::text[]) OR from_tier_code = ANY($2::text[]))",
        program_id,
        codes,
    )
    await connection.executemany(
        "INSERT INTO tier_code_mappings (program_id, from_tier_code, to_tier_code, from_threshold,"
        " mapped_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (program_id, from_tier_code)"
        " DO UPDATE SET to_tier_code = EXCLUDED.to_tier_code, mapped_at = EXCLUDED.mapped_at",
        [(program_id, m.from_code, m.to_code, m.from_threshold, now) for m in moves],
    )
    await connection.execute(
        "UPDATE programs SET tiers_changed_at = $2 WHERE program_id = $1", program_id, now
    )


async def fetch_tier_mappings(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str
) -> dict[str, TierMapping]:
    rows = await connection.fetch(
        "SELECT from_tier_code, to_tier_code, from_threshold FROM tier_code_mappings"
        " WHERE program_id = $1",
        program_id,
    )
    return {
        row["from_tier_code"]: TierMapping(
            to_code=row["to_tier_code"], from_threshold=row["from_threshold"]
        )
        for row in rows
    }


async def tiers_changed_at(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str
) -> dt.datetime | None:
    value: dt.datetime | None = await connection.fetchval(
        "SELECT tiers_changed_at FROM programs WHERE program_id = $1", program_id
    )
    return value


async def raise_tiers_version(connection: asyncpg.Connection, program_id: str) -> int:
    """The program's next tiers version (the caller holds the program's row lock)."""
    version: int = await connection.fetchval(
        "UPDATE programs SET tiers_version = tiers_version + 1 WHERE program_id = $1"
        " RETURNING tiers_version",
        program_id,
    )
    return version


async def move_previous_window(
    connection: asyncpg.Connection,
    program_id: str,
    *,
    source_member_id: str,
    target_member_id: str,
    previous_start: dt.date,
) -> None:
    """Add the source's qualifying amount kept for the calendar year starting `previous_start`
    (migration 013) to the target's, and empty the source's; both accounts are locked already.
    An amount kept for another year counts for nothing, on either side."""
    amount = await connection.fetchval(
        "SELECT previous_window_qualifying FROM member_accounts"
        " WHERE program_id = $1 AND member_id = $2 AND previous_window_start = $3",
        program_id,
        source_member_id,
        previous_start,
    )
    if not amount:
        return
    await connection.execute(
        "UPDATE member_accounts SET previous_window_qualifying = $4"
        " + CASE WHEN previous_window_start = $3 THEN previous_window_qualifying ELSE 0 END,"
        " previous_window_start = $3 WHERE program_id = $1 AND member_id = $2",
        program_id,
        target_member_id,
        previous_start,
        amount,
    )
    await connection.execute(
        "UPDATE member_accounts SET previous_window_qualifying = 0"
        " WHERE program_id = $1 AND member_id = $2",
        program_id,
        source_member_id,
    )
