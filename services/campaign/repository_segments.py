"""SQL of segments: definitions, membership (full and incremental), exports, and the member
facts campaign keeps from identity's events for them."""

import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg

from loyalty.campaign.v1 import segments_pb2
from services.campaign import segment_definitions
from services.campaign.segment_sql import Params, membership_query

Connection: TypeAlias = asyncpg.Connection | asyncpg.Pool
EXPORT_CHUNK_SIZE = 5_000


@dataclass(frozen=True)
class StoredSegment:
    segment: segments_pb2.Segment
    refresh_interval_s: int
    member_count: int
    computed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class Change:
    member_count: int
    joined: int
    left: int
    computed_at: dt.datetime


_SEGMENT_COLUMNS = (
    "definition, refresh_interval_s, member_count, computed_at, created_at, updated_at"
)


def _stored(row: asyncpg.Record) -> StoredSegment:
    return StoredSegment(
        segment=segments_pb2.Segment.FromString(row["definition"]),
        refresh_interval_s=row["refresh_interval_s"],
        member_count=row["member_count"],
        computed_at=row["computed_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _definition(segment: segments_pb2.Segment) -> bytes:
    """The stored definition: what the operator gave, without the server's counts and times."""
    kept = segments_pb2.Segment()
    kept.CopyFrom(segment)
    for name in ("member_count", "computed_at", "create_time", "update_time"):
        kept.ClearField(name)  # type: ignore[arg-type]
    return kept.SerializeToString(deterministic=True)


async def insert_segment(
    connection: asyncpg.Connection, segment: segments_pb2.Segment
) -> StoredSegment | None:
    """None if the id is taken."""
    needs = segment_definitions.dependencies(segment)
    row = await connection.fetchrow(
        "INSERT INTO segments (program_id, segment_id, definition, purchase_driven, "
        "activity_driven, time_relative, refresh_interval_s) VALUES ($1, $2, $3, $4, $5, $6, $7) "
        f"ON CONFLICT DO NOTHING RETURNING {_SEGMENT_COLUMNS}",
        segment.program_id,
        segment.segment_id,
        _definition(segment),
        needs.purchase_driven,
        needs.activity_driven,
        needs.time_relative,
        segment.refresh_interval_seconds,
    )
    return None if row is None else _stored(row)


async def update_segment(
    connection: asyncpg.Connection, segment: segments_pb2.Segment
) -> StoredSegment | None:
    """None if there is no such segment. The membership stays until the next computation: the
    refresh job's next pass (computed_at is cleared, which makes it due) or ComputeSegment."""
    needs = segment_definitions.dependencies(segment)
    row = await connection.fetchrow(
        "UPDATE segments SET definition = $3, purchase_driven = $4, activity_driven = $5, "
        "time_relative = $6, refresh_interval_s = $7, updated_at = now(), computed_at = NULL "
        f"WHERE program_id = $1 AND segment_id = $2 RETURNING {_SEGMENT_COLUMNS}",
        segment.program_id,
        segment.segment_id,
        _definition(segment),
        needs.purchase_driven,
        needs.activity_driven,
        needs.time_relative,
        segment.refresh_interval_seconds,
    )
    return None if row is None else _stored(row)


async def fetch_segment(
    connection: Connection, program_id: str, segment_id: str, *, lock: bool = False
) -> StoredSegment | None:
    row = await connection.fetchrow(
        f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE program_id = $1 AND segment_id = $2"
        + (" FOR UPDATE" if lock else ""),
        program_id,
        segment_id,
    )
    return None if row is None else _stored(row)


async def list_segments(
    connection: Connection, program_id: str, after: str, limit: int
) -> list[StoredSegment]:
    rows = await connection.fetch(
        f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE program_id = $1 AND segment_id > $2 "
        "ORDER BY segment_id LIMIT $3",
        program_id,
        after,
        limit,
    )
    return [_stored(row) for row in rows]


async def existing_segments(
    connection: Connection, program_id: str, segment_ids: Sequence[str]
) -> set[str]:
    rows = await connection.fetch(
        "SELECT segment_id FROM segments WHERE program_id = $1 AND segment_id = ANY($2::text[])",
        program_id,
        list(segment_ids),
    )
    return {row["segment_id"] for row in rows}


def compute_statement(
    segment: segments_pb2.Segment,
    *,
    entry_tier: str,
    now: dt.datetime,
    time_zone: str,
    members: Sequence[str] | None,
    tier_mappings: Mapping[str, str] | None = None,
) -> tuple[str, list[object]]:
    """The one statement of `compute`: match, then delete who left and insert who joined."""
    params = Params()
    program = params.add(segment.program_id, "text")
    segment_id = params.add(segment.segment_id, "text")
    scope = params.add(list(members), "text[]") if members is not None else None
    query = membership_query(
        segment,
        params,
        program=program,
        entry_tier=entry_tier,
        now=now,
        time_zone=time_zone,
        members=scope,
        tier_mappings=tier_mappings,
    )
    in_scope = f" AND member_id = ANY({scope})" if scope else ""
    # The difference with the stored membership is a FULL JOIN, which PostgreSQL only runs as a
    # hash or merge join: one pass over both sides, however the rows are estimated.
    return (
        f"WITH matched AS MATERIALIZED ({query}), "
        "current AS (SELECT member_id FROM segment_members "
        f"WHERE program_id = {program} AND segment_id = {segment_id}{in_scope}), "
        "diff AS MATERIALIZED (SELECT coalesce(m.member_id, c.member_id) AS member_id, "
        "m.member_id IS NOT NULL AS inside, c.member_id IS NOT NULL AS was "
        "FROM matched m FULL JOIN current c ON c.member_id = m.member_id), "
        "gone AS (DELETE FROM segment_members s USING diff d "
        f"WHERE s.program_id = {program} AND s.segment_id = {segment_id} "
        "AND s.member_id = d.member_id AND NOT d.inside RETURNING 1), "
        "joined AS (INSERT INTO segment_members (program_id, member_id, segment_id) "
        f"SELECT {program}, member_id, {segment_id} FROM diff WHERE inside AND NOT was "
        "ON CONFLICT DO NOTHING RETURNING 1) "
        "SELECT (SELECT count(*) FROM diff WHERE inside) AS matched, "
        "(SELECT count(*) FROM joined) AS joined, (SELECT count(*) FROM gone) AS gone",
        params.values,
    )


async def compute(
    connection: asyncpg.Connection,
    segment: segments_pb2.Segment,
    *,
    entry_tier: str,
    now: dt.datetime,
    time_zone: str,
    members: Sequence[str] | None = None,
    tier_mappings: Mapping[str, str] | None = None,
) -> Change:
    """Evaluate the segment for every member (or only `members`) and store who joined and left,
    in one statement; tier conditions follow `tier_mappings` (the ledger's renames). The caller
    holds the segment's row lock (fetch_segment(lock=True)), so a full and an incremental
    computation never interleave."""
    sql, args = compute_statement(
        segment,
        entry_tier=entry_tier,
        now=now,
        time_zone=time_zone,
        members=members,
        tier_mappings=tier_mappings,
    )
    # The aggregates' joins are overestimated by orders of magnitude, which would make
    # PostgreSQL spend seconds compiling the statement with JIT for nothing.
    await connection.execute("SET LOCAL jit = off")
    row = await connection.fetchrow(sql, *args)
    joined, gone = row["joined"], row["gone"]
    if members is None:
        counted = await connection.fetchrow(
            "UPDATE segments SET member_count = $3, computed_at = $4 "
            "WHERE program_id = $1 AND segment_id = $2 RETURNING member_count, computed_at",
            segment.program_id,
            segment.segment_id,
            row["matched"],
            now,
        )
    else:
        counted = await connection.fetchrow(
            "UPDATE segments SET member_count = member_count + $3 "
            "WHERE program_id = $1 AND segment_id = $2 RETURNING member_count, computed_at",
            segment.program_id,
            segment.segment_id,
            joined - gone,
        )
    return Change(counted["member_count"], joined, gone, counted["computed_at"] or now)


async def member_segments(
    connection: Connection, program_id: str, member_id: str, segment_ids: Sequence[str]
) -> list[str]:
    """The segments among `segment_ids` (all when empty) the member is in."""
    if segment_ids:
        rows = await connection.fetch(
            "SELECT segment_id FROM segment_members WHERE program_id = $1 AND member_id = $2 "
            "AND segment_id = ANY($3::text[]) ORDER BY segment_id",
            program_id,
            member_id,
            list(segment_ids),
        )
    else:
        rows = await connection.fetch(
            "SELECT segment_id FROM segment_members WHERE program_id = $1 AND member_id = $2 "
            "ORDER BY segment_id",
            program_id,
            member_id,
        )
    return [row["segment_id"] for row in rows]


async def members_in(
    connection: Connection, program_id: str, segment_ids: Sequence[str], members: Sequence[str]
) -> set[tuple[str, str]]:
    """(member, segment) pairs of these members in these segments."""
    rows = await connection.fetch(
        "SELECT member_id, segment_id FROM segment_members WHERE program_id = $1 "
        "AND member_id = ANY($2::text[]) AND segment_id = ANY($3::text[])",
        program_id,
        list(members),
        list(segment_ids),
    )
    return {(row["member_id"], row["segment_id"]) for row in rows}


async def page_of_members(
    connection: Connection, program_id: str, segment_id: str, after: str, limit: int
) -> list[str]:
    rows = await connection.fetch(
        "SELECT member_id FROM segment_members WHERE program_id = $1 AND segment_id = $2 "
        "AND member_id > $3 ORDER BY member_id LIMIT $4",
        program_id,
        segment_id,
        after,
        limit,
    )
    return [row["member_id"] for row in rows]


async def iterate_segment_members(
    pool: asyncpg.Pool,
    program_id: str,
    segment_id: str,
    *,
    chunk_size: int = EXPORT_CHUNK_SIZE,
) -> AsyncIterator[list[str]]:
    """Every member id of the segment in member order, in chunks of at most `chunk_size`.

    For exports of any size (the operator CLI): keyset pages on the export index, each page its
    own short query, so no transaction or cursor stays open between chunks and memory stays
    bounded. A member who joins or leaves during the export may or may not be listed; the
    others are listed exactly once.
    """
    after = ""
    while True:
        async with pool.acquire() as connection:
            chunk = await page_of_members(connection, program_id, segment_id, after, chunk_size)
        if not chunk:
            return
        yield chunk
        if len(chunk) < chunk_size:
            return
        after = chunk[-1]


async def due_segments(
    connection: Connection, now: dt.datetime, limit: int
) -> list[tuple[str, str]]:
    """(program, segment) of segments never computed, or whose refresh interval has passed."""
    rows = await connection.fetch(
        "SELECT program_id, segment_id FROM segments WHERE computed_at IS NULL "
        "OR (refresh_interval_s > 0 AND computed_at + refresh_interval_s * interval '1 second' <= $1) "
        "ORDER BY computed_at NULLS FIRST LIMIT $2",
        now,
        limit,
    )
    return [(row["program_id"], row["segment_id"]) for row in rows]


async def recompute_in_full(
    connection: Connection, program_id: str, segment_ids: Sequence[str]
) -> None:
    """Make these segments due: the refresh job's next pass computes them in full (their
    membership stays until then, and incremental evaluation leaves them until it is done)."""
    await connection.execute(
        "UPDATE segments SET computed_at = NULL "
        "WHERE program_id = $1 AND segment_id = ANY($2::text[])",
        program_id,
        list(segment_ids),
    )


async def computed_segments(connection: Connection, program_id: str) -> list[segments_pb2.Segment]:
    """The program's segments that have been computed (the others are computed in full first).

    A marked member is evaluated against all of them: the mark does not say what changed, and
    tier, consent and enrolment conditions can be in any segment."""
    rows = await connection.fetch(
        "SELECT definition FROM segments WHERE program_id = $1 AND computed_at IS NOT NULL "
        "ORDER BY segment_id",
        program_id,
    )
    return [segments_pb2.Segment.FromString(row["definition"]) for row in rows]
