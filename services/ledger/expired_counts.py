"""SQL of the expired points a `Reverse` of a credit counted as taken back (migration 019).

A refund keeps its own count for the whole purchase (refunds.expired_points, migration 016);
each side reads the other's, so a credit's expired points and their tier progress are counted
once, whichever came first."""

import asyncpg


async def counted(
    connection: asyncpg.Connection, program_id: str, member_id: str, posting_ids: list[int]
) -> int:
    """Expired points of these credits of the member that reversals counted already."""
    return int(
        await connection.fetchval(
            "SELECT coalesce(sum(expired_points), 0) FROM reversed_expired_points "
            "WHERE program_id = $1 AND member_id = $2 AND posting_id = ANY($3::bigint[])",
            program_id,
            member_id,
            posting_ids,
        )
    )


async def add(
    connection: asyncpg.Connection, program_id: str, member_id: str, posting_id: int, points: int
) -> None:
    """Count `points` more of the credit's expired points as taken back by a reversal."""
    if points == 0:
        return
    await connection.execute(
        "INSERT INTO reversed_expired_points (program_id, member_id, posting_id, expired_points) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (program_id, member_id, posting_id) DO UPDATE "
        "SET expired_points = reversed_expired_points.expired_points + EXCLUDED.expired_points",
        program_id,
        member_id,
        posting_id,
        points,
    )


async def refunds_counted(
    connection: asyncpg.Connection, program_id: str, member_id: str, reference: str
) -> int:
    """Expired points of the purchase `reference` that its refunds counted already."""
    value = await connection.fetchval(
        "SELECT expired_points FROM refunds "
        "WHERE program_id = $1 AND member_id = $2 AND original_reference = $3",
        program_id,
        member_id,
        reference,
    )
    return int(value or 0)
