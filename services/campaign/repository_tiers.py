"""Campaign's SQL for the ledger's tiers as last announced (program_tiers), and their cache."""

import time

import asyncpg

from services.campaign.tier_codes import ProgramTiers

# How long a process uses the tiers it read: a rename reaches accrual within this (the ledger's
# own program cache is 2 s; its TierChanged events for the moved members take as long).
TIERS_CACHE_TTL_S = 5.0


async def keep_tiers(connection: asyncpg.Connection, program_id: str, tiers: ProgramTiers) -> bool:
    """Keep the announced tiers unless as new or newer ones are kept; True when kept."""
    mappings = sorted(tiers.mappings.items())
    kept = await connection.fetchval(
        "INSERT INTO program_tiers AS t (program_id, version, tier_codes, from_codes, to_codes)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (program_id) DO UPDATE SET"
        " version = EXCLUDED.version, tier_codes = EXCLUDED.tier_codes,"
        " from_codes = EXCLUDED.from_codes, to_codes = EXCLUDED.to_codes, received_at = now()"
        " WHERE t.version < EXCLUDED.version RETURNING true",
        program_id,
        tiers.version,
        sorted(tiers.codes),
        [code for code, _ in mappings],
        [code for _, code in mappings],
    )
    return bool(kept)


async def fetch_tiers(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str
) -> ProgramTiers | None:
    """The tiers last announced; None before the ledger announced any."""
    row = await connection.fetchrow(
        "SELECT version, tier_codes, from_codes, to_codes FROM program_tiers WHERE program_id = $1",
        program_id,
    )
    if row is None:
        return None
    return ProgramTiers(
        version=row["version"],
        codes=frozenset(row["tier_codes"]),
        mappings=dict(zip(row["from_codes"], row["to_codes"], strict=True)),
    )


class TiersCache:
    """The tiers per program for accrual, read at most once per TTL per program and process,
    so following renames costs no query per purchase."""

    def __init__(self, ttl_s: float = TIERS_CACHE_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._tiers: dict[str, tuple[float, ProgramTiers | None]] = {}

    async def get(
        self, connection: asyncpg.Connection | asyncpg.Pool, program_id: str
    ) -> ProgramTiers | None:
        cached = self._tiers.get(program_id)
        if cached is not None and time.monotonic() - cached[0] < self.ttl_s:
            return cached[1]
        tiers = await fetch_tiers(connection, program_id)
        self._tiers[program_id] = (time.monotonic(), tiers)
        return tiers
