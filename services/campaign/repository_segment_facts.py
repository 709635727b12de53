"""SQL of what keeps segment membership current: the queue of members to re-evaluate, the
activity mark, and the member facts campaign keeps from identity's events for segments."""

import datetime as dt
from collections.abc import Sequence
from typing import TypeAlias

import asyncpg

from services.shared.pg_arrays import text_array

Connection: TypeAlias = asyncpg.Connection | asyncpg.Pool


async def mark_dirty(connection: Connection, program_id: str, members: Sequence[str]) -> None:
    """Queue members for re-evaluation, only if the program has segments at all. A member merged
    away is queued as its final survivor: its facts count for the survivor's segments (and it is
    in none itself), so a return of its purchase, say, changes the survivor's."""
    await connection.execute(
        "INSERT INTO segment_dirty_members (program_id, member_id) "
        "SELECT DISTINCT $1, coalesce(m.merged_into, u.member_id) "
        "FROM unnest($2::text::text[]) AS u(member_id) "
        "LEFT JOIN members m ON m.program_id = $1 AND m.member_id = u.member_id "
        "WHERE EXISTS (SELECT 1 FROM segments WHERE program_id = $1) ON CONFLICT DO NOTHING",
        program_id,
        text_array(members),
    )


async def take_dirty(connection: asyncpg.Connection, limit: int) -> dict[str, list[str]]:
    """Up to `limit` queued members, by program, removed from the queue. In no particular
    order: the refresh job takes batches until the queue is empty on every pass."""
    rows = await connection.fetch(
        "DELETE FROM segment_dirty_members d USING (SELECT program_id, member_id FROM "
        "segment_dirty_members LIMIT $1 FOR UPDATE SKIP LOCKED) picked "
        "WHERE d.program_id = picked.program_id AND d.member_id = picked.member_id "
        "RETURNING d.program_id, d.member_id",
        limit,
    )
    taken: dict[str, list[str]] = {}
    for row in rows:
        taken.setdefault(row["program_id"], []).append(row["member_id"])
    return taken


async def recent_activity_members(
    connection: asyncpg.Connection, program_id: str, now: dt.datetime, limit: int
) -> list[str]:
    """Members with activities recorded since the last call (by recorded_at), advancing the
    mark. Activities come from RecordActivity and the consumer alike; reading the table covers
    both without touching their path."""
    mark = await connection.fetchval(
        "SELECT recorded_until FROM segment_activity_marks WHERE program_id = $1 FOR UPDATE",
        program_id,
    )
    since = mark or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    rows = await connection.fetch(
        "SELECT DISTINCT member_id FROM activities WHERE program_id = $1 AND recorded_at > $2 "
        "AND recorded_at <= $3 LIMIT $4",
        program_id,
        since,
        now,
        limit,
    )
    await connection.execute(
        "INSERT INTO segment_activity_marks (program_id, recorded_until) VALUES ($1, $2) "
        "ON CONFLICT (program_id) DO UPDATE SET recorded_until = EXCLUDED.recorded_until",
        program_id,
        now,
    )
    return [row["member_id"] for row in rows]


async def programs_with_segments(connection: Connection) -> list[str]:
    rows = await connection.fetch("SELECT DISTINCT program_id FROM segments ORDER BY program_id")
    return [row["program_id"] for row in rows]


async def record_enrolment(
    connection: Connection,
    program_id: str,
    member_id: str,
    *,
    channel: int,
    consents: Sequence[int],
    at: dt.datetime,
) -> None:
    await connection.execute(
        "INSERT INTO segment_member_facts (program_id, member_id, enrolled_channel) "
        "VALUES ($1, $2, $3) ON CONFLICT (program_id, member_id) "
        "DO UPDATE SET enrolled_channel = EXCLUDED.enrolled_channel",
        program_id,
        member_id,
        channel,
    )
    for channel_granted in consents:
        await record_consent(connection, program_id, member_id, channel_granted, True, at)


async def record_consent(
    connection: Connection,
    program_id: str,
    member_id: str,
    channel: int,
    granted: bool,
    at: dt.datetime,
) -> None:
    await connection.execute(
        "INSERT INTO segment_member_consents AS c (program_id, member_id, channel, granted, changed_at) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (program_id, member_id, channel) "
        "DO UPDATE SET granted = EXCLUDED.granted, changed_at = EXCLUDED.changed_at "
        "WHERE c.changed_at <= EXCLUDED.changed_at",
        program_id,
        member_id,
        channel,
        granted,
        at,
    )


async def record_erasure(connection: asyncpg.Connection, program_id: str, member_id: str) -> None:
    """An erased member leaves every segment at once and is never evaluated again."""
    await connection.execute(
        "INSERT INTO segment_member_facts (program_id, member_id, erased) VALUES ($1, $2, true) "
        "ON CONFLICT (program_id, member_id) DO UPDATE SET erased = true",
        program_id,
        member_id,
    )
    await connection.execute(
        "DELETE FROM segment_member_consents WHERE program_id = $1 AND member_id = $2",
        program_id,
        member_id,
    )
    await connection.execute(
        "UPDATE segments s SET member_count = s.member_count - 1 FROM segment_members m "
        "WHERE m.program_id = $1 AND m.member_id = $2 AND s.program_id = m.program_id "
        "AND s.segment_id = m.segment_id",
        program_id,
        member_id,
    )
    await connection.execute(
        "DELETE FROM segment_members WHERE program_id = $1 AND member_id = $2",
        program_id,
        member_id,
    )
