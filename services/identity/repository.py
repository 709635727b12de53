"""Identity's SQL (asyncpg)."""

import dataclasses

import asyncpg

from services.identity.domain import LedgerTiers, Program

_PROGRAM_COLUMNS = [f.name for f in dataclasses.fields(Program)]
_SELECT_PROGRAM = (
    f"SELECT {', '.join(_PROGRAM_COLUMNS)}, extract(epoch FROM created_at)::float8 AS created, "
    "extract(epoch FROM updated_at)::float8 AS updated FROM programs"
)


@dataclasses.dataclass(frozen=True)
class StoredProgram:
    program: Program
    created_at_s: float
    updated_at_s: float


def _stored(row: asyncpg.Record) -> StoredProgram:
    values = dict(row)
    created, updated = values.pop("created"), values.pop("updated")
    values["currency"] = values["currency"].strip()
    return StoredProgram(Program(**values), created, updated)


async def insert_program(connection: asyncpg.Connection, program: Program) -> bool:
    """False when the id is taken."""
    columns = ", ".join(_PROGRAM_COLUMNS)
    placeholders = ", ".join(f"${i}" for i in range(1, len(_PROGRAM_COLUMNS) + 1))
    inserted = await connection.fetchval(
        f"INSERT INTO programs ({columns}) VALUES ({placeholders}) ON CONFLICT DO NOTHING RETURNING true",
        *(getattr(program, c) for c in _PROGRAM_COLUMNS),
    )
    return bool(inserted)


async def update_program(connection: asyncpg.Connection, program: Program) -> None:
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(_PROGRAM_COLUMNS[1:], start=2))
    await connection.execute(
        f"UPDATE programs SET {assignments}, updated_at = now() WHERE program_id = $1",
        *(getattr(program, c) for c in _PROGRAM_COLUMNS),
    )


async def fetch_program(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, *, for_update: bool = False
) -> StoredProgram | None:
    row = await connection.fetchrow(
        f"{_SELECT_PROGRAM} WHERE program_id = $1{' FOR UPDATE' if for_update else ''}", program_id
    )
    return None if row is None else _stored(row)


async def fetch_programs(
    connection: asyncpg.Connection | asyncpg.Pool, *, after_id: str, limit: int
) -> list[StoredProgram]:
    rows = await connection.fetch(
        f"{_SELECT_PROGRAM} WHERE program_id > $1 ORDER BY program_id LIMIT $2", after_id, limit
    )
    return [_stored(row) for row in rows]


async def fetch_ledger_tiers(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str
) -> LedgerTiers | None:
    row = await connection.fetchrow(
        "SELECT version, entry_tier_code, tier_codes, mapped_from_codes, mapped_to_codes"
        " FROM ledger_tiers WHERE program_id = $1",
        program_id,
    )
    if row is None:
        return None
    return LedgerTiers(
        version=row["version"],
        entry_tier_code=row["entry_tier_code"],
        tier_codes=tuple(row["tier_codes"]),
        mappings=dict(zip(row["mapped_from_codes"], row["mapped_to_codes"], strict=True)),
    )


async def store_ledger_tiers(
    connection: asyncpg.Connection, program_id: str, tiers: LedgerTiers
) -> bool:
    """Keep `tiers` unless a version as new or newer is stored; True when kept."""
    kept = await connection.fetchval(
        "INSERT INTO ledger_tiers AS t (program_id, version, entry_tier_code, tier_codes,"
        " mapped_from_codes, mapped_to_codes) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (program_id) DO UPDATE SET version = EXCLUDED.version,"
        " entry_tier_code = EXCLUDED.entry_tier_code, tier_codes = EXCLUDED.tier_codes,"
        " mapped_from_codes = EXCLUDED.mapped_from_codes,"
        " mapped_to_codes = EXCLUDED.mapped_to_codes, received_at = now()"
        " WHERE t.version < EXCLUDED.version RETURNING true",
        program_id,
        tiers.version,
        tiers.entry_tier_code,
        list(tiers.tier_codes),
        list(tiers.mappings),
        list(tiers.mappings.values()),
    )
    return bool(kept)


async def set_entry_tier(connection: asyncpg.Connection, program_id: str, code: str) -> bool:
    """True when the program exists and named another entry tier."""
    changed = await connection.fetchval(
        "UPDATE programs SET entry_tier_code = $2, updated_at = now()"
        " WHERE program_id = $1 AND entry_tier_code <> $2 RETURNING true",
        program_id,
        code,
    )
    return bool(changed)


async def lock_ledger_tiers(connection: asyncpg.Connection, program_id: str) -> None:
    """Serialise, per program, setting its entry tier with taking the ledger's tiers: without
    it a CreateProgram could read no ledger tiers while they are being stored, and the update
    of the program they bring would miss the program still being inserted."""
    await connection.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('identity.ledger_tiers:' || $1, 0))",
        program_id,
    )
