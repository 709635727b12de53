"""Campaign's SQL for activities, referrals, bonuses and scheduled job runs."""

import datetime as dt
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg

from loyalty.campaign.v1 import engagement_pb2

Connection: TypeAlias = asyncpg.Connection | asyncpg.Pool
REFERRAL_PENDING, REFERRAL_REWARDED, REFERRAL_REJECTED = 1, 2, 3


@dataclass(frozen=True)
class Referral:
    referred_member_id: str
    referrer_member_id: str
    activity_id: str
    state: int
    rule_ref: str
    referrer_points: int
    referred_points: int


async def lock_member_activities(connection: Connection, program_id: str, member_id: str) -> None:
    """Serialise, per member, recording activities until the transaction ends: each counts the
    rewards before it against the caps and looks for its own id, so two at once would both
    find room under a cap (a burst of check-ins all rewarded) or both miss the other's row."""
    await connection.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('campaign.activities:' || $1 || ':' || $2, 0))",
        program_id,
        member_id,
    )


async def lock_referrals(connection: Connection, program_id: str, *, shared: bool = False) -> None:
    """Serialise, per program, recording referrals until the transaction ends: a referral's
    checks read other members' referrals (is the referred member referred already, does the
    chain of referrers loop back), which the referrer's own lock does not cover. Referrals are
    rare next to purchases, so one lock a program costs nothing that matters.

    Accruing purchases takes it `shared` (they do not wait for each other): a referral waiting
    for the referred member's first purchase then either sees that purchase, or is seen by it
    (claim_pending_referrals). Without it each missed the other's uncommitted row, and the
    referral went on waiting for a purchase made already."""
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    await connection.execute(
        f"SELECT {function}(hashtextextended('campaign.referrals:' || $1, 0))", program_id
    )


async def fetch_activity(
    connection: Connection, program_id: str, member_id: str, activity_id: str, *, lock: bool = False
) -> engagement_pb2.Activity | None:
    row = await connection.fetchrow(
        "SELECT definition FROM activities WHERE program_id = $1 AND member_id = $2 AND activity_id = $3"
        + (" FOR UPDATE" if lock else ""),
        program_id,
        member_id,
        activity_id,
    )
    return None if row is None else engagement_pb2.Activity.FromString(row["definition"])


async def stamp_activity(
    connection: Connection, program_id: str, member_id: str, activity_id: str
) -> dt.datetime:
    """The time given to an activity without one: the first attempt's, for every retry.

    A no-op update on conflict, not DO NOTHING and a read: an attempt whose insert waited for
    another's at once read the table with a snapshot from before that one committed, found no
    row, and failed INTERNAL; the update waits for the other's row and returns its time."""
    stamped: dt.datetime = await connection.fetchval(
        "INSERT INTO activity_times (program_id, member_id, activity_id) VALUES ($1, $2, $3) "
        "ON CONFLICT (program_id, member_id, activity_id) "
        "DO UPDATE SET occurred_at = activity_times.occurred_at RETURNING occurred_at",
        program_id,
        member_id,
        activity_id,
    )
    return stamped


async def forget_activity_stamp(
    connection: Connection, program_id: str, member_id: str, activity_id: str
) -> None:
    await connection.execute(
        "DELETE FROM activity_times WHERE program_id = $1 AND member_id = $2 AND activity_id = $3",
        program_id,
        member_id,
        activity_id,
    )


async def find_activity(
    connection: Connection, program_id: str, activity_id: str, *, lock: bool = False
) -> engagement_pb2.Activity | None:
    """An activity by its id alone (VerifyActivity does not name the member)."""
    row = await connection.fetchrow(
        "SELECT definition FROM activities WHERE program_id = $1 AND activity_id = $2 "
        "ORDER BY recorded_at LIMIT 1" + (" FOR UPDATE" if lock else ""),
        program_id,
        activity_id,
    )
    return None if row is None else engagement_pb2.Activity.FromString(row["definition"])


async def insert_activity(
    connection: asyncpg.Connection, program_id: str, activity: engagement_pb2.Activity
) -> bool:
    return bool(
        await connection.fetchval(
            "INSERT INTO activities (program_id, member_id, activity_id, kind, occurred_at, "
            "verification_state, outcome, points, definition) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
            "ON CONFLICT DO NOTHING RETURNING true",
            program_id,
            activity.member_id,
            activity.activity_id,
            activity.kind,
            activity.occurred_at.ToDatetime(tzinfo=dt.UTC),
            activity.verification_state,
            activity.outcome,
            activity.points,
            activity.SerializeToString(deterministic=True),
        )
    )


async def update_activity(
    connection: asyncpg.Connection, program_id: str, activity: engagement_pb2.Activity
) -> None:
    await connection.execute(
        "UPDATE activities SET verification_state = $4, outcome = $5, points = $6, definition = $7 "
        "WHERE program_id = $1 AND member_id = $2 AND activity_id = $3",
        program_id,
        activity.member_id,
        activity.activity_id,
        activity.verification_state,
        activity.outcome,
        activity.points,
        activity.SerializeToString(deterministic=True),
    )


async def list_activities(
    connection: Connection,
    program_id: str,
    *,
    member_id: str,
    verification_state: int,
    kind: int,
    before: tuple[dt.datetime, str, str] | None,
    limit: int,
) -> list[tuple[engagement_pb2.Activity, dt.datetime]]:
    rows = await connection.fetch(
        "SELECT definition, recorded_at FROM activities WHERE program_id = $1 "
        "AND ($2 = '' OR member_id = $2) AND ($3 = 0 OR verification_state = $3) AND ($4 = 0 OR kind = $4) "
        "AND ($5::timestamptz IS NULL OR (recorded_at, member_id, activity_id) < ($5, $6, $7)) "
        "ORDER BY recorded_at DESC, member_id DESC, activity_id DESC LIMIT $8",
        program_id,
        member_id,
        verification_state,
        kind,
        before[0] if before else None,
        before[1] if before else "",
        before[2] if before else "",
        limit,
    )
    return [
        (engagement_pb2.Activity.FromString(row["definition"]), row["recorded_at"]) for row in rows
    ]


async def count_rewards(
    connection: asyncpg.Connection,
    program_id: str,
    member_id: str,
    rule_id: str,
    *,
    day: dt.date,
    week: tuple[dt.date, dt.date],
    month: tuple[dt.date, dt.date],
) -> tuple[int, int, int, int]:
    """Rewarded (or pending) activities of a rule for a member: (day, week, month, lifetime).

    A week or a month is [start, end) in local days: an activity that arrives late counts
    against its own week and month, not against the ones after it."""
    row = await connection.fetchrow(
        "SELECT count(*) FILTER (WHERE local_day = $4) AS day, "
        "count(*) FILTER (WHERE local_day >= $5 AND local_day < $6) AS week, "
        "count(*) FILTER (WHERE local_day >= $7 AND local_day < $8) AS month, "
        "count(*) AS lifetime "
        "FROM activity_rewards WHERE program_id = $1 AND member_id = $2 AND rule_id = $3",
        program_id,
        member_id,
        rule_id,
        day,
        *week,
        *month,
    )
    assert row is not None
    return row["day"], row["week"], row["month"], row["lifetime"]


async def insert_reward(
    connection: asyncpg.Connection,
    program_id: str,
    member_id: str,
    rule_id: str,
    activity_id: str,
    *,
    day: dt.date,
    points: int,
) -> None:
    await connection.execute(
        "INSERT INTO activity_rewards (program_id, member_id, rule_id, activity_id, local_day, points) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        program_id,
        member_id,
        rule_id,
        activity_id,
        day,
        points,
    )


async def delete_rewards(
    connection: asyncpg.Connection, program_id: str, member_id: str, activity_id: str
) -> None:
    await connection.execute(
        "DELETE FROM activity_rewards WHERE program_id = $1 AND member_id = $2 AND activity_id = $3",
        program_id,
        member_id,
        activity_id,
    )


def _referral(row: asyncpg.Record) -> Referral:
    return Referral(
        row["referred_member_id"],
        row["referrer_member_id"],
        row["activity_id"],
        row["state"],
        row["rule_ref"],
        row["referrer_points"],
        row["referred_points"],
    )


_REFERRAL_COLUMNS = "referred_member_id, referrer_member_id, activity_id, state, rule_ref, referrer_points, referred_points"


async def fetch_referral(
    connection: Connection, program_id: str, referred_member_id: str
) -> Referral | None:
    row = await connection.fetchrow(
        f"SELECT {_REFERRAL_COLUMNS} FROM referrals WHERE program_id = $1 AND referred_member_id = $2",
        program_id,
        referred_member_id,
    )
    return None if row is None else _referral(row)


async def insert_referral(
    connection: asyncpg.Connection, program_id: str, referral: Referral
) -> bool:
    return bool(
        await connection.fetchval(
            f"INSERT INTO referrals (program_id, {_REFERRAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
            "ON CONFLICT DO NOTHING RETURNING true",
            program_id,
            referral.referred_member_id,
            referral.referrer_member_id,
            referral.activity_id,
            referral.state,
            referral.rule_ref,
            referral.referrer_points,
            referral.referred_points,
        )
    )


async def referrer_of(connection: Connection, program_id: str, member_id: str) -> str:
    """Who referred the member ('' if nobody, or if that referral was rejected)."""
    value = await connection.fetchval(
        "SELECT referrer_member_id FROM referrals WHERE program_id = $1 AND referred_member_id = $2 "
        "AND state <> 3",
        program_id,
        member_id,
    )
    return value or ""


async def claim_pending_referrals(
    connection: asyncpg.Connection, program_id: str, referred_member_ids: list[str]
) -> list[Referral]:
    """Mark the pending referrals of these members rewarded; returns them."""
    if not referred_member_ids:
        return []
    if not await connection.fetchval(
        "SELECT EXISTS (SELECT 1 FROM referrals WHERE program_id = $1 AND state = 1)", program_id
    ):
        return []
    rows = await connection.fetch(
        "UPDATE referrals r SET state = 2 FROM unnest($2::text[]) AS k(member_id) "
        "WHERE r.program_id = $1 AND r.referred_member_id = k.member_id AND r.state = 1 "
        "RETURNING " + ", ".join(f"r.{c.strip()}" for c in _REFERRAL_COLUMNS.split(",")),
        program_id,
        referred_member_ids,
    )
    return [_referral(row) for row in rows]


async def reopen_referrals(
    connection: asyncpg.Connection, program_id: str, referred_member_ids: list[str]
) -> list[Referral]:
    """Mark the rewarded referrals of these members pending again; returns them. For referred
    members left without a purchase, as a referral waits for the first one."""
    if not referred_member_ids:
        return []
    rows = await connection.fetch(
        "UPDATE referrals r SET state = 1 FROM unnest($2::text[]) AS k(member_id) "
        "WHERE r.program_id = $1 AND r.referred_member_id = k.member_id AND r.state = 2 "
        "RETURNING " + ", ".join(f"r.{c.strip()}" for c in _REFERRAL_COLUMNS.split(",")),
        program_id,
        referred_member_ids,
    )
    return [_referral(row) for row in rows]


# A referral whose referred member returned every purchase in full: both bonuses were taken back
# through the ledger, and it is never rewarded again (states 1 to 3: migration 004).
REFERRAL_RETURNED = 4


async def take_back_referral(
    connection: asyncpg.Connection, program_id: str, referred_member_id: str
) -> Referral | None:
    """Mark the member's rewarded referral returned; returns it, or None if it was not rewarded
    (pending, rejected, or returned before)."""
    row = await connection.fetchrow(
        "UPDATE referrals SET state = $3 WHERE program_id = $1 AND referred_member_id = $2 "
        f"AND state = 2 RETURNING {_REFERRAL_COLUMNS}",
        program_id,
        referred_member_id,
        REFERRAL_RETURNED,
    )
    return None if row is None else _referral(row)


async def set_referral_state(
    connection: asyncpg.Connection, program_id: str, referred_member_id: str, state: int
) -> None:
    await connection.execute(
        "UPDATE referrals SET state = $3 WHERE program_id = $1 AND referred_member_id = $2",
        program_id,
        referred_member_id,
        state,
    )


async def has_purchased(connection: Connection, program_id: str, member_id: str) -> bool:
    return bool(
        await connection.fetchval(
            "SELECT EXISTS (SELECT 1 FROM transactions WHERE program_id = $1 AND member_id = $2 "
            "AND kind = 1)",
            program_id,
            member_id,
        )
    )


async def purchasers(connection: Connection, program_id: str, members: list[str]) -> set[str]:
    """Those of `members` with a purchase recorded."""
    rows = await connection.fetch(
        "SELECT DISTINCT member_id FROM transactions WHERE program_id = $1 "
        "AND member_id = ANY($2::text[]) AND kind = 1",
        program_id,
        members,
    )
    return {row["member_id"] for row in rows}


async def award_bonuses(
    connection: asyncpg.Connection,
    program_id: str,
    kind: str,
    awards: list[tuple[str, str, int]],
) -> set[tuple[str, str]]:
    """Record (member, period, points) awards of a kind; returns those not awarded before."""
    if not awards:
        return set()
    awards = sorted(awards)
    rows = await connection.fetch(
        "INSERT INTO bonus_awards (program_id, member_id, kind, period, points) "
        "SELECT $1, m, $2, p, pts FROM unnest($3::text[], $4::text[], $5::bigint[]) AS t(m, p, pts) "
        "ON CONFLICT DO NOTHING RETURNING member_id, period",
        program_id,
        kind,
        [a[0] for a in awards],
        [a[1] for a in awards],
        [a[2] for a in awards],
    )
    return {(row["member_id"], row["period"]) for row in rows}


async def withdraw_awards(
    connection: asyncpg.Connection, program_id: str, kind: str, awards: list[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Delete (member, period) awards of a kind, so they may be given again; returns those held."""
    if not awards:
        return set()
    rows = await connection.fetch(
        "DELETE FROM bonus_awards b USING unnest($3::text[], $4::text[]) AS t(m, p) "
        "WHERE b.program_id = $1 AND b.kind = $2 AND b.member_id = t.m AND b.period = t.p "
        "RETURNING b.member_id, b.period",
        program_id,
        kind,
        [member for member, _ in awards],
        [period for _, period in awards],
    )
    return {(row["member_id"], row["period"]) for row in rows}


async def take_back_awards(
    connection: asyncpg.Connection, program_id: str, kind: str, member_id: str, periods: list[str]
) -> list[tuple[str, int]]:
    """Mark the member's awards of a kind in these periods taken back by a return, each once: a
    row of kind 'returned:<kind>' beside the award, whose own row stays (so it is not given
    again). Returns the (period, points) of the awards marked now."""
    if not periods:
        return []
    rows = await connection.fetch(
        "INSERT INTO bonus_awards (program_id, member_id, kind, period, points) "
        "SELECT program_id, member_id, 'returned:' || kind, period, points FROM bonus_awards "
        "WHERE program_id = $1 AND member_id = $2 AND kind = $3 AND period = ANY($4::text[]) "
        "ORDER BY period ON CONFLICT DO NOTHING RETURNING period, points",
        program_id,
        member_id,
        kind,
        sorted(periods),
    )
    return sorted((row["period"], row["points"]) for row in rows)


async def mark_taken_back(
    connection: asyncpg.Connection,
    program_id: str,
    kind: str,
    member_id: str,
    awards: list[tuple[str, int]],
) -> list[tuple[str, int]]:
    """Mark (period, points) bonuses of a kind given without an award row (a mission's) taken
    back by a return, each once, as take_back_awards does; returns those marked now."""
    if not awards:
        return []
    rows = await connection.fetch(
        "INSERT INTO bonus_awards (program_id, member_id, kind, period, points) "
        "SELECT $1, $2, 'returned:' || $3, p, pts FROM unnest($4::text[], $5::bigint[]) "
        "AS t(p, pts) ORDER BY p ON CONFLICT DO NOTHING RETURNING period, points",
        program_id,
        member_id,
        kind,
        [period for period, _ in awards],
        [points for _, points in awards],
    )
    return sorted((row["period"], row["points"]) for row in rows)


async def claim_job_run(
    connection: asyncpg.Connection, program_id: str, job: str, period: str
) -> bool:
    return bool(
        await connection.fetchval(
            "INSERT INTO job_runs (program_id, job, period) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING RETURNING true",
            program_id,
            job,
            period,
        )
    )
