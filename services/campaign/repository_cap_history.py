"""SQL of the member-cap history backfill (cap_history_backfill.py): asyncpg."""

import datetime as dt
from dataclasses import dataclass

import asyncpg

# The migration that began recording cap history (013_cap_history.sql).
CAP_HISTORY_MIGRATION = 13
PURCHASE = 1


@dataclass(frozen=True)
class Counter:
    """A member's cap counter of one rule: the day, week and month keys it holds."""

    member_id: str
    rule_id: str
    keys: tuple[int, int, int]


@dataclass(frozen=True)
class CappedPurchase:
    member_id: str
    occurred_micros: int
    applications: str


async def history_started_at(connection: asyncpg.Connection | asyncpg.Pool) -> dt.datetime | None:
    """When migration 013 was applied here: periods counters left before it have no history."""
    return await connection.fetchval(
        "SELECT applied_at FROM schema_migrations WHERE version = $1", CAP_HISTORY_MIGRATION
    )


async def job_done(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, job: str, period: str
) -> bool:
    return bool(
        await connection.fetchval(
            "SELECT true FROM job_runs WHERE program_id = $1 AND job = $2 AND period = $3",
            program_id,
            job,
            period,
        )
    )


async def programs_with_counters(connection: asyncpg.Connection | asyncpg.Pool) -> list[str]:
    rows = await connection.fetch("SELECT DISTINCT program_id FROM cap_counters ORDER BY 1")
    return [row["program_id"] for row in rows]


async def counter_members(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, *, after: str, limit: int
) -> list[str]:
    rows = await connection.fetch(
        "SELECT DISTINCT member_id FROM cap_counters WHERE program_id = $1 AND member_id > $2 "
        "ORDER BY member_id LIMIT $3",
        program_id,
        after,
        limit,
    )
    return [row["member_id"] for row in rows]


async def lock_counters(
    connection: asyncpg.Connection, program_id: str, members: list[str]
) -> list[Counter]:
    """The members' counters, locked and their versions bumped, so that a batch that read them
    (and the history) before this transaction commits runs again (store_counters' check), and
    one that wrote them first has committed before the caller reads its purchases. (A plain
    UPDATE, which Citus runs across shards; a deadlock with a batch makes one of them run again.)"""
    rows = await connection.fetch(
        "UPDATE cap_counters SET version = version + 1 "
        "WHERE program_id = $1 AND member_id = ANY($2::text[]) "
        "RETURNING member_id, rule_id, day_key, week_key, month_key",
        program_id,
        members,
    )
    return [
        Counter(
            row["member_id"], row["rule_id"], (row["day_key"], row["week_key"], row["month_key"])
        )
        for row in rows
    ]


async def capped_purchases(
    connection: asyncpg.Connection, program_id: str, members: list[str], *, before_micros: int
) -> list[CappedPurchase]:
    """The members' recorded purchases that gave points, dated before `before_micros`."""
    rows = await connection.fetch(
        "SELECT member_id, occurred_micros, applications FROM transactions WHERE program_id = $1 "
        "AND member_id = ANY($2::text[]) AND kind = $3 AND occurred_micros < $4 "
        "AND applications <> ''",
        program_id,
        members,
        PURCHASE,
        before_micros,
    )
    return [
        CappedPurchase(row["member_id"], row["occurred_micros"], row["applications"])
        for row in rows
    ]


async def set_cap_history(
    connection: asyncpg.Connection,
    program_id: str,
    rows: list[tuple[str, str, int, int, int]],
) -> None:
    """Set (not add) the history of (member, rule id, period, period key, points)s."""
    if not rows:
        return
    columns = list(zip(*sorted(rows), strict=True))
    await connection.execute(
        "INSERT INTO cap_history AS h (program_id, member_id, rule_id, period, period_key, points) "
        "SELECT $1, m, r, p, k, n FROM unnest($2::text[], $3::text[], $4::smallint[], "
        "$5::bigint[], $6::bigint[]) AS t (m, r, p, k, n) "
        "ON CONFLICT (program_id, member_id, rule_id, period, period_key) "
        "DO UPDATE SET points = EXCLUDED.points",
        program_id,
        *(list(column) for column in columns),
    )
