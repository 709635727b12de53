"""SQL of experiments, the holdout, redemptions from rewards' events, and the reports' sums."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg

from loyalty.campaign.v1 import experiments_pb2
from services.campaign.assignment import arm_case_sql, bucket_sql
from services.campaign.instants import bound_micros
from services.campaign.segment_sql import Params, population_sql, purchase_nets_sql
from services.shared.timestamps import from_unix_micros, unix_micros

Connection: TypeAlias = asyncpg.Connection | asyncpg.Pool


@dataclass(frozen=True)
class StoredExperiment:
    experiment: experiments_pb2.Experiment
    ended_at: dt.datetime | None
    created_at: dt.datetime


@dataclass(frozen=True)
class StoredHoldout:
    holdout_bps: int
    salt: str
    start_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class ArmSums:
    """Per-member sums of one arm over a period."""

    members: int
    active: int
    redeemers: int
    spend_minor: int
    spend_squares: float
    points: int


_COLUMNS = "definition, ended_at, created_at"


def _stored(row: asyncpg.Record) -> StoredExperiment:
    return StoredExperiment(
        experiments_pb2.Experiment.FromString(row["definition"]), row["ended_at"], row["created_at"]
    )


async def insert_experiment(
    connection: asyncpg.Connection, experiment: experiments_pb2.Experiment
) -> StoredExperiment | None:
    rule_ids = sorted({rule_id for arm in experiment.arms for rule_id in arm.rule_ids})
    row = await connection.fetchrow(
        "INSERT INTO experiments (program_id, experiment_id, definition, rule_ids, start_at, end_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING "
        f"RETURNING {_COLUMNS}",
        experiment.program_id,
        experiment.experiment_id,
        experiment.SerializeToString(deterministic=True),
        rule_ids,
        # As the period is compared (experiment_definitions.active_period_micros): a bound's
        # nanoseconds round up, where ToDatetime would cut them.
        from_unix_micros(bound_micros(experiment.start_time)),
        from_unix_micros(bound_micros(experiment.end_time))
        if experiment.HasField("end_time")
        else None,
    )
    return None if row is None else _stored(row)


async def fetch_experiment(
    connection: Connection, program_id: str, experiment_id: str, *, lock: bool = False
) -> StoredExperiment | None:
    row = await connection.fetchrow(
        f"SELECT {_COLUMNS} FROM experiments WHERE program_id = $1 AND experiment_id = $2"
        + (" FOR UPDATE" if lock else ""),
        program_id,
        experiment_id,
    )
    return None if row is None else _stored(row)


async def list_experiments(
    connection: Connection,
    program_id: str,
    *,
    status: str,
    now: dt.datetime,
    after: str,
    limit: int,
) -> list[StoredExperiment]:
    """status: '' for all, or 'draft', 'running', 'ended'."""
    condition = {
        "": "true",
        "draft": "ended_at IS NULL AND start_at > $4",
        "running": "ended_at IS NULL AND start_at <= $4 AND (end_at IS NULL OR end_at > $4)",
        "ended": "(ended_at IS NOT NULL OR end_at <= $4)",
    }[status]
    # The instant only where the condition names it: a parameter the statement does not use has
    # no type, and PostgreSQL refuses the statement.
    instant = (now,) if status else ()
    rows = await connection.fetch(
        f"SELECT {_COLUMNS} FROM experiments WHERE program_id = $1 AND experiment_id > $2 "
        f"AND {condition} ORDER BY experiment_id LIMIT $3",
        program_id,
        after,
        limit,
        *instant,
    )
    return [_stored(row) for row in rows]


async def end_experiment(
    connection: asyncpg.Connection, program_id: str, experiment_id: str, at: dt.datetime
) -> None:
    await connection.execute(
        "UPDATE experiments SET ended_at = $3 WHERE program_id = $1 AND experiment_id = $2 "
        "AND ended_at IS NULL",
        program_id,
        experiment_id,
        at,
    )


async def experiments_of_rules(
    connection: Connection, program_id: str, rule_ids: Sequence[str]
) -> list[StoredExperiment]:
    """Every experiment (open or ended) whose arms name one of `rule_ids`."""
    if not rule_ids:
        return []
    rows = await connection.fetch(
        f"SELECT {_COLUMNS} FROM experiments WHERE program_id = $1 AND rule_ids && $2::text[] "
        "ORDER BY experiment_id",
        program_id,
        list(rule_ids),
    )
    return [_stored(row) for row in rows]


async def unended_experiments(
    connection: Connection, program_id: str, now: dt.datetime
) -> list[StoredExperiment]:
    """The experiments neither ended nor past their end time (a program has a handful)."""
    rows = await connection.fetch(
        f"SELECT {_COLUMNS} FROM experiments WHERE program_id = $1 AND ended_at IS NULL "
        "AND (end_at IS NULL OR end_at > $2) ORDER BY experiment_id",
        program_id,
        now,
    )
    return [_stored(row) for row in rows]


async def fetch_holdout(connection: Connection, program_id: str) -> StoredHoldout | None:
    row = await connection.fetchrow(
        "SELECT holdout_bps, assignment_salt, start_at, updated_at FROM holdouts WHERE program_id = $1",
        program_id,
    )
    if row is None:
        return None
    return StoredHoldout(
        row["holdout_bps"], row["assignment_salt"], row["start_at"], row["updated_at"]
    )


async def store_holdout(
    connection: asyncpg.Connection, program_id: str, *, bps: int, salt: str, start_at: dt.datetime
) -> StoredHoldout:
    row = await connection.fetchrow(
        "INSERT INTO holdouts (program_id, holdout_bps, assignment_salt, start_at) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (program_id) DO UPDATE SET "
        "holdout_bps = EXCLUDED.holdout_bps, assignment_salt = EXCLUDED.assignment_salt, "
        "start_at = EXCLUDED.start_at, updated_at = now() "
        "RETURNING holdout_bps, assignment_salt, start_at, updated_at",
        program_id,
        bps,
        salt,
        start_at,
    )
    return StoredHoldout(
        row["holdout_bps"], row["assignment_salt"], row["start_at"], row["updated_at"]
    )


async def record_redemption(
    connection: Connection,
    program_id: str,
    member_id: str,
    redemption_id: str,
    *,
    at: dt.datetime,
    points: int,
    cancelled: bool,
) -> None:
    """A redemption, or its cancellation (which may be seen first); both idempotent."""
    await connection.execute(
        "INSERT INTO member_redemptions AS r (program_id, member_id, redemption_id, redeemed_at, "
        "points, cancelled) VALUES ($1, $2, $3, $4, $5, $6) "
        "ON CONFLICT (program_id, member_id, redemption_id) DO UPDATE SET "
        "cancelled = r.cancelled OR EXCLUDED.cancelled, "
        "points = CASE WHEN EXCLUDED.cancelled THEN r.points ELSE EXCLUDED.points END, "
        "redeemed_at = CASE WHEN EXCLUDED.cancelled THEN r.redeemed_at ELSE EXCLUDED.redeemed_at END",
        program_id,
        member_id,
        redemption_id,
        at,
        points,
        cancelled,
    )


@dataclass(frozen=True)
class Arms:
    """How a population splits into arms: by the bucket of `salt`, in `allocations_bps` ranges;
    members held out by the holdout (`holdout_salt`, `holdout_bps`) are left out unless
    `holdout_is_arm`, in which case arm 1 is the holdout and arm 0 everybody else."""

    salt: str
    allocations_bps: tuple[int, ...]
    holdout_salt: str = ""
    holdout_bps: int = 0
    holdout_is_arm: bool = False
    segment_id: str = ""


async def arm_sums(
    connection: asyncpg.Connection,
    program_id: str,
    arms: Arms,
    *,
    start: dt.datetime,
    end: dt.datetime,
) -> dict[int, ArmSums]:
    """Per arm: members, active members (a purchase in [start, end) not returned in full),
    redeemers, spend and its sum of squares per member, points (a return counted with its
    purchase, segment_sql.purchase_nets_sql); one statement over the whole population. The caller
    holds a transaction (JIT is turned off in it: see repository_segments.compute)."""
    await connection.execute("SET LOCAL jit = off")
    params = Params()
    program = params.add(program_id, "text")
    population = population_sql(program, None)
    # Each member's buckets are computed once, then the arm is read off them.
    holdout_bucket = "0"
    if arms.holdout_bps:
        holdout_bucket = bucket_sql(params.add(arms.holdout_salt, "text"), "p.member_id")
    holdout_bps = params.add(arms.holdout_bps, "integer")
    if arms.holdout_is_arm:
        member_bucket = "0"
        arm = f"CASE WHEN holdout_bucket < {holdout_bps} THEN 1 ELSE 0 END"
        kept = "true"
    else:
        member_bucket = bucket_sql(params.add(arms.salt, "text"), "p.member_id")
        arm = arm_case_sql(arms.allocations_bps, "bucket")
        kept = f"holdout_bucket >= {holdout_bps}"
    segment_join = ""
    if arms.segment_id:
        segment_join = (
            f"JOIN segment_members sm ON sm.program_id = {program} AND sm.member_id = p.member_id "
            f"AND sm.segment_id = {params.add(arms.segment_id, 'text')}"
        )
    # Exactly: through a float's timestamp() some instants lost their last microsecond.
    start_micros = params.add(unix_micros(start), "bigint")
    end_micros = params.add(unix_micros(end), "bigint")
    start_at, end_at = params.add(start, "timestamptz"), params.add(end, "timestamptz")
    rows = await connection.fetch(
        f"WITH {population}, "
        f"bucketed AS (SELECT p.member_id, {member_bucket} AS bucket, "
        f"{holdout_bucket} AS holdout_bucket FROM population p "
        f"LEFT JOIN segment_member_facts f ON f.program_id = {program} AND f.member_id = p.member_id "
        f"{segment_join} WHERE NOT coalesce(f.erased, false)), "
        f"armed AS (SELECT member_id, {arm} AS arm FROM bucketed WHERE {kept}), "
        # A return counts with its purchase: the period's purchases net of their returns
        # (whenever made), and one returned in full is no participation, as in segments.
        f"{purchase_nets_sql(program, None)}, "
        "spend AS (SELECT member_id, sum(amount_minor) AS spend, "
        "count(*) FILTER (WHERE stands) AS purchases, sum(points) AS points FROM purchase_nets "
        f"WHERE occurred_micros >= {start_micros} "
        f"AND occurred_micros < {end_micros} GROUP BY member_id), "
        "redeemed AS (SELECT DISTINCT member_id FROM member_redemptions "
        f"WHERE program_id = {program} AND NOT cancelled AND redeemed_at >= {start_at} "
        f"AND redeemed_at < {end_at}) "
        "SELECT a.arm, count(*) AS members, count(*) FILTER (WHERE s.purchases > 0) AS active, "
        "count(r.member_id) AS redeemers, coalesce(sum(s.spend), 0) AS spend, "
        "coalesce(sum(s.spend::numeric * s.spend), 0) AS spend_squares, "
        "coalesce(sum(s.points), 0) AS points "
        "FROM armed a LEFT JOIN spend s ON s.member_id = a.member_id "
        "LEFT JOIN redeemed r ON r.member_id = a.member_id GROUP BY a.arm",
        *params.values,
    )
    return {
        row["arm"]: ArmSums(
            members=row["members"],
            active=row["active"],
            redeemers=row["redeemers"],
            spend_minor=int(row["spend"]),
            spend_squares=float(row["spend_squares"]),
            points=int(row["points"]),
        )
        for row in rows
    }
