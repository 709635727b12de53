"""SQL of missions, members' progress on them, and member badges (asyncpg)."""

import datetime as dt
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg

from loyalty.campaign.v1 import engagement_pb2
from services.campaign.missions import ACTIVE, ARCHIVED, COMPLETED, DRAFT, Progress

Connection: TypeAlias = asyncpg.Connection | asyncpg.Pool


def _mission(row: asyncpg.Record) -> engagement_pb2.Mission:
    mission = engagement_pb2.Mission.FromString(row["definition"])
    mission.status = row["status"]
    return mission


async def insert_mission(
    connection: asyncpg.Connection, program_id: str, mission: engagement_pb2.Mission
) -> bool:
    """False if a mission with this id exists already."""
    inserted = await connection.fetchval(
        "INSERT INTO missions (program_id, mission_id, status, definition) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT DO NOTHING RETURNING true",
        program_id,
        mission.mission_id,
        mission.status,
        mission.SerializeToString(deterministic=True),
    )
    return bool(inserted)


async def fetch_mission(
    connection: Connection, program_id: str, mission_id: str, *, for_update: bool = False
) -> engagement_pb2.Mission | None:
    row = await connection.fetchrow(
        "SELECT status, definition FROM missions WHERE program_id = $1 AND mission_id = $2"
        + (" FOR UPDATE" if for_update else ""),
        program_id,
        mission_id,
    )
    return None if row is None else _mission(row)


async def activate_mission(
    connection: asyncpg.Connection, program_id: str, mission_id: str
) -> None:
    await connection.execute(
        "UPDATE missions SET status = $3 WHERE program_id = $1 AND mission_id = $2 AND status = $4",
        program_id,
        mission_id,
        ACTIVE,
        DRAFT,
    )


async def archive_mission(connection: asyncpg.Connection, program_id: str, mission_id: str) -> None:
    await connection.execute(
        "UPDATE missions SET status = $3, archived_at = now() "
        "WHERE program_id = $1 AND mission_id = $2 AND status <> $3",
        program_id,
        mission_id,
        ARCHIVED,
    )


async def list_missions(
    connection: Connection, program_id: str, *, statuses: list[int], after: str, limit: int
) -> list[engagement_pb2.Mission]:
    rows = await connection.fetch(
        "SELECT status, definition FROM missions WHERE program_id = $1 AND status = ANY($2) "
        "AND mission_id > $3 ORDER BY mission_id LIMIT $4",
        program_id,
        statuses,
        after,
        limit,
    )
    return [_mission(row) for row in rows]


async def active_missions(connection: Connection, program_id: str) -> list[engagement_pb2.Mission]:
    rows = await connection.fetch(
        "SELECT status, definition FROM missions WHERE program_id = $1 AND status = $2 "
        "ORDER BY mission_id",
        program_id,
        ACTIVE,
    )
    return [_mission(row) for row in rows]


async def fetch_missions(
    connection: Connection, program_id: str, mission_ids: list[str]
) -> list[engagement_pb2.Mission]:
    """These missions, whatever their status."""
    rows = await connection.fetch(
        "SELECT status, definition FROM missions WHERE program_id = $1 AND mission_id = ANY($2) "
        "ORDER BY mission_id",
        program_id,
        mission_ids,
    )
    return [_mission(row) for row in rows]


def _progress(row: asyncpg.Record) -> Progress:
    return Progress(
        attempt=row["attempt"],
        state=row["state"],
        counts=list(row["step_counts"]),
        steps_completed_at=list(row["step_completed_at"]),
        started_at=row["started_at"],
        deadline_at=row["deadline_at"],
        completed_at=row["completed_at"],
        completed_points=row["completed_points"],
    )


async def lock_progress(
    connection: asyncpg.Connection,
    program_id: str,
    pairs: list[tuple[str, str, int]],
) -> dict[tuple[str, str], Progress]:
    """The progress of (member, mission, step count) pairs, created if new and locked in one
    order (so concurrent batches wait for each other instead of counting a fact twice)."""
    pairs = sorted(pairs)
    members = [pair[0] for pair in pairs]
    missions = [pair[1] for pair in pairs]
    steps = [pair[2] for pair in pairs]
    # One statement: new rows are created, existing ones locked (a no-op update), all returned.
    rows = await connection.fetch(
        "INSERT INTO mission_progress (program_id, member_id, mission_id, attempt, state, "
        "step_counts, step_completed_at) "
        "SELECT $1, m, x, 1, 1, array_fill(0, ARRAY[n]), array_fill(NULL::timestamptz, ARRAY[n]) "
        "FROM unnest($2::text[], $3::text[], $4::int[]) AS p (m, x, n) ORDER BY m, x "
        "ON CONFLICT (program_id, member_id, mission_id) "
        "DO UPDATE SET attempt = mission_progress.attempt RETURNING *",
        program_id,
        members,
        missions,
        steps,
    )
    return {(row["member_id"], row["mission_id"]): _progress(row) for row in rows}


async def lock_member_progress(
    connection: asyncpg.Connection, program_id: str, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], Progress]:
    """The stored progress of (member, mission) pairs, locked in the order lock_progress locks."""
    rows = await connection.fetch(
        "SELECT p.* FROM mission_progress p "
        "JOIN unnest($2::text[], $3::text[]) AS k (m, x) ON p.member_id = k.m AND p.mission_id = k.x "
        "WHERE p.program_id = $1 ORDER BY p.member_id, p.mission_id FOR UPDATE OF p",
        program_id,
        [member for member, _ in pairs],
        [mission for _, mission in pairs],
    )
    return {(row["member_id"], row["mission_id"]): _progress(row) for row in rows}


async def store_progress(
    connection: asyncpg.Connection,
    program_id: str,
    changed: dict[tuple[str, str], Progress],
) -> None:
    """Write the changed rows back in one statement (a batch changes thousands). The per-step
    arrays travel as array literals: unnest would flatten arrays of arrays."""
    ordered = sorted(changed.items())
    await connection.execute(
        "UPDATE mission_progress p SET attempt = r.a, state = r.s, step_counts = r.c::integer[], "
        "step_completed_at = r.t::timestamptz[], started_at = r.st, deadline_at = r.dl, "
        "completed_at = r.ca, completed_points = r.cp, updated_at = now() "
        "FROM unnest($2::text[], $3::text[], $4::integer[], $5::smallint[], $6::text[], "
        "$7::text[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::integer[]) "
        "AS r (m, x, a, s, c, t, st, dl, ca, cp) "
        "WHERE p.program_id = $1 AND p.member_id = r.m AND p.mission_id = r.x",
        program_id,
        [member for (member, _), _ in ordered],
        [mission for (_, mission), _ in ordered],
        [p.attempt for _, p in ordered],
        [p.state for _, p in ordered],
        ["{" + ",".join(map(str, p.counts)) + "}" for _, p in ordered],
        ["{" + ",".join(_literal(at) for at in p.steps_completed_at) + "}" for _, p in ordered],
        [p.started_at for _, p in ordered],
        [p.deadline_at for _, p in ordered],
        [p.completed_at for _, p in ordered],
        [p.completed_points for _, p in ordered],
    )


def _literal(moment: dt.datetime | None) -> str:
    return "NULL" if moment is None else f'"{moment.isoformat()}"'


async def fetch_member_progress(
    connection: Connection, program_id: str, member_id: str, mission_ids: list[str]
) -> dict[str, tuple[Progress | None, list[Progress]]]:
    """Per mission, the member's own progress and that of the members merged into it (rows stay
    under the member that made them). merged_into names the final survivor, so one colocated
    join on the member reads a whole chain of merges, through members_merged_into."""
    rows = await connection.fetch(
        "SELECT p.*, true AS own FROM mission_progress p WHERE p.program_id = $1 "
        "AND p.member_id = $2 AND p.mission_id = ANY($3) "
        "UNION ALL SELECT p.*, false FROM members m JOIN mission_progress p "
        "ON p.program_id = m.program_id AND p.member_id = m.member_id "
        "WHERE m.program_id = $1 AND m.merged_into = $2 AND p.mission_id = ANY($3)",
        program_id,
        member_id,
        mission_ids,
    )
    found: dict[str, tuple[Progress | None, list[Progress]]] = {}
    for row in rows:
        own, merged = found.get(row["mission_id"], (None, []))
        if row["own"]:
            own = _progress(row)
        else:
            merged.append(_progress(row))
        found[row["mission_id"]] = (own, merged)
    return found


async def completed_by_merged(
    connection: asyncpg.Connection, program_id: str, pairs: list[tuple[str, str]]
) -> set[tuple[str, str]]:
    """The (member, mission id) pairs a member merged into that member has completed: the
    mission is done for the survivor too (once per person), so its facts count no further."""
    if not pairs:
        return set()
    rows = await connection.fetch(
        "SELECT DISTINCT m.merged_into, p.mission_id FROM members m JOIN mission_progress p "
        "ON p.program_id = m.program_id AND p.member_id = m.member_id "
        "JOIN unnest($2::text[], $3::text[]) AS k (s, x) ON m.merged_into = k.s "
        "AND p.mission_id = k.x WHERE m.program_id = $1 AND p.state = $4",
        program_id,
        [member for member, _ in pairs],
        [mission for _, mission in pairs],
        COMPLETED,
    )
    return {(row[0], row[1]) for row in rows}


async def insert_badge(
    connection: asyncpg.Connection,
    program_id: str,
    member_id: str,
    *,
    badge_code: str,
    name: str,
    mission_id: str = "",
    milestone_code: str = "",
    awarded_at: dt.datetime,
) -> bool:
    """False if the member has the badge already."""
    inserted = await connection.fetchval(
        "INSERT INTO member_badges (program_id, member_id, badge_code, name, mission_id, "
        "milestone_code, awarded_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "ON CONFLICT DO NOTHING RETURNING true",
        program_id,
        member_id,
        badge_code,
        name,
        mission_id,
        milestone_code,
        awarded_at,
    )
    return bool(inserted)


@dataclass(frozen=True, order=True)
class DeletedBadge:
    """A badge a withdrawal deleted, with what had awarded it."""

    member_id: str
    badge_code: str
    mission_id: str
    milestone_code: str


def _deleted(rows: list[asyncpg.Record]) -> list[DeletedBadge]:
    return sorted(
        DeletedBadge(row["member_id"], row["badge_code"], row["mission_id"], row["milestone_code"])
        for row in rows
    )


async def delete_milestone_badges(
    connection: asyncpg.Connection, program_id: str, milestones: list[tuple[str, str]]
) -> list[DeletedBadge]:
    """Delete the badges these (member, milestone code)s gave, so they may be given again;
    returns those deleted (each was announced by a BadgeAwarded when it was inserted)."""
    if not milestones:
        return []
    rows = await connection.fetch(
        "DELETE FROM member_badges b USING unnest($2::text[], $3::text[]) AS t(m, c) "
        "WHERE b.program_id = $1 AND b.member_id = t.m AND b.milestone_code = t.c "
        "RETURNING b.member_id, b.badge_code, b.mission_id, b.milestone_code",
        program_id,
        [member for member, _ in milestones],
        [code for _, code in milestones],
    )
    return _deleted(rows)


async def delete_mission_badges(
    connection: asyncpg.Connection, program_id: str, badges: list[tuple[str, str, str]]
) -> list[DeletedBadge]:
    """Delete the (member, mission id, badge code) badges the missions gave, so they may be given
    again; a badge of that code another mission or a milestone gave first stays. Returns those
    deleted (each was announced by a BadgeAwarded when it was inserted)."""
    if not badges:
        return []
    rows = await connection.fetch(
        "DELETE FROM member_badges b USING unnest($2::text[], $3::text[], $4::text[]) AS t(m, x, c) "
        "WHERE b.program_id = $1 AND b.member_id = t.m AND b.badge_code = t.c AND b.mission_id = t.x "
        "RETURNING b.member_id, b.badge_code, b.mission_id, b.milestone_code",
        program_id,
        [member for member, _, _ in badges],
        [mission for _, mission, _ in badges],
        [code for _, _, code in badges],
    )
    return _deleted(rows)


async def list_badges(
    connection: Connection,
    program_id: str,
    member_id: str,
    *,
    after: tuple[dt.datetime, str] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """The member's badges and those of the members merged into it (rows stay under the member
    that earned them), each code once: the earliest award, the member's own on a tie. Newest
    first, then by code; `after` is the (awarded_at, badge_code) of the last one seen."""
    page = (
        "" if after is None else "WHERE awarded_at < $3 OR (awarded_at = $3 AND badge_code > $4) "
    )
    arguments: list[object] = [program_id, member_id]
    if after is not None:
        arguments += [after[0], after[1]]
    return await connection.fetch(
        "WITH held AS (SELECT b.*, true AS own FROM member_badges b WHERE b.program_id = $1 "
        "AND b.member_id = $2 UNION ALL SELECT b.*, false FROM members m JOIN member_badges b "
        "ON b.program_id = m.program_id AND b.member_id = m.member_id "
        "WHERE m.program_id = $1 AND m.merged_into = $2), "
        "shown AS (SELECT DISTINCT ON (badge_code) * FROM held "
        "ORDER BY badge_code, awarded_at, own DESC) "
        f"SELECT * FROM shown {page}ORDER BY awarded_at DESC, badge_code LIMIT ${len(arguments) + 1}",
        *arguments,
        limit,
    )


async def insert_purchase_steps(
    connection: asyncpg.Connection,
    program_id: str,
    rows: list[tuple[str, str, str, int, int]],
) -> None:
    """Record the (member, transaction id, mission id, attempt, step) each purchase counted for;
    one statement for the batch."""
    if not rows:
        return
    columns = list(zip(*sorted(rows), strict=True))
    await connection.execute(
        "INSERT INTO purchase_mission_steps (program_id, member_id, transaction_id, mission_id, "
        "attempt, step) SELECT $1, m, t, x, a, s FROM unnest($2::text[], $3::text[], $4::text[], "
        "$5::integer[], $6::integer[]) AS r (m, t, x, a, s) ON CONFLICT DO NOTHING",
        program_id,
        *(list(column) for column in columns),
    )


async def delete_purchase_steps(
    connection: asyncpg.Connection, program_id: str, keys: list[tuple[str, str]]
) -> list[tuple[str, str, str, int, int]]:
    """Delete the steps these (member, transaction id) purchases counted for; returns them as
    (member, transaction id, mission id, attempt, step), in the order they were counted."""
    if not keys:
        return []
    rows = await connection.fetch(
        "DELETE FROM purchase_mission_steps p USING unnest($2::text[], $3::text[]) AS k (m, t) "
        "WHERE p.program_id = $1 AND p.member_id = k.m AND p.transaction_id = k.t "
        "RETURNING p.member_id, p.transaction_id, p.mission_id, p.attempt, p.step",
        program_id,
        [member for member, _ in keys],
        [transaction for _, transaction in keys],
    )
    return sorted(
        (tuple(row) for row in rows),  # type: ignore[misc]
        key=lambda row: (row[2], row[3], row[4]),
    )


async def insert_activity_steps(
    connection: asyncpg.Connection,
    program_id: str,
    rows: list[tuple[str, str, str, int, int, int]],
) -> None:
    """Record the (member, activity id, mission id, attempt, step, occurred micros) each
    activity counted for."""
    if not rows:
        return
    columns = list(zip(*sorted(rows), strict=True))
    await connection.execute(
        "INSERT INTO activity_mission_steps (program_id, member_id, activity_id, mission_id, "
        "attempt, step, occurred_micros) SELECT $1, m, a, x, n, s, o FROM unnest($2::text[], "
        "$3::text[], $4::text[], $5::integer[], $6::integer[], $7::bigint[]) AS r (m, a, x, n, s, o) "
        "ON CONFLICT DO NOTHING",
        program_id,
        *(list(column) for column in columns),
    )


@dataclass(frozen=True)
class CountedFacts:
    """The facts recorded as counted in one attempt: how many, and the first one's time."""

    count: int
    first_micros: int


async def counted_facts(
    connection: asyncpg.Connection, program_id: str, attempts: list[tuple[str, str, int]]
) -> dict[tuple[str, str, int], CountedFacts]:
    """Per (member, mission id, attempt), the purchases (purchase_mission_steps, at their
    transactions' times) and activities (activity_mission_steps) recorded as counted in it;
    attempts with none are left out."""
    if not attempts:
        return {}
    rows = await connection.fetch(
        "WITH k (m, x, n) AS (SELECT * FROM unnest($2::text[], $3::text[], $4::integer[])), "
        "facts AS (SELECT p.member_id, p.mission_id, p.attempt, t.occurred_micros "
        "FROM purchase_mission_steps p JOIN k ON p.member_id = k.m AND p.mission_id = k.x "
        "AND p.attempt = k.n JOIN transactions t ON t.program_id = p.program_id "
        "AND t.member_id = p.member_id AND t.transaction_id = p.transaction_id "
        "WHERE p.program_id = $1 "
        "UNION ALL SELECT a.member_id, a.mission_id, a.attempt, a.occurred_micros "
        "FROM activity_mission_steps a JOIN k ON a.member_id = k.m AND a.mission_id = k.x "
        "AND a.attempt = k.n WHERE a.program_id = $1) "
        "SELECT member_id, mission_id, attempt, count(*) AS facts, "
        "min(occurred_micros) AS first_micros FROM facts GROUP BY member_id, mission_id, attempt",
        program_id,
        [member for member, _, _ in attempts],
        [mission for _, mission, _ in attempts],
        [attempt for _, _, attempt in attempts],
    )
    return {
        (row["member_id"], row["mission_id"], row["attempt"]): CountedFacts(
            row["facts"], row["first_micros"]
        )
        for row in rows
    }
