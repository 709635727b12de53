"""Identity's SQL (asyncpg)."""

import dataclasses

import asyncpg

from services.identity.domain import Program

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
