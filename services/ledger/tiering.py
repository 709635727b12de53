"""Tier evaluation over many members at once with ledger_core: upgrades, and downgrades at
re-qualification, each recorded with its reason and announced."""

import datetime as dt
from typing import NamedTuple

import asyncpg
import numpy as np

import ledger_core
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from services.ledger import domain, events, repository, store
from services.ledger.operations import Program, load_program
from services.ledger.policy import previous_window_start, qualifying_window_start
from services.shared.outbox import Outbox

EVALUATION_CHUNK = 50_000

# (member, from tier, to tier, direction, reason, qualifying amount) of one change.
TierChangeRow = tuple[str, str, str, int, int, int]


class Evaluation(NamedTuple):
    # The distinct open accounts of the program read and evaluated; unknown member ids and
    # accounts closed by a merge are not.
    evaluated_count: int
    # Every change made, in member id order.
    changes: list[TierChangeRow]


# In program_jobs: the window start (as midnight UTC) the accounts' day buckets were emptied for,
# and a calendar year's amounts kept (keep_previous_window).
DAY_BUCKETS_JOB = "qualifying_day_buckets"


async def decay_qualifying(
    connection: asyncpg.Connection, program: Program, now: dt.datetime
) -> int:
    """Take qualifying amounts that left the window off the members' counters; returns members.

    When the window start has moved since the last decay (daily for a rolling window, on
    1 January for a calendar year), a calendar year's amounts are kept first on the accounts
    (keep_previous_window), while its days are still there: re-qualification then judges the year
    that ended however late the first run after 1 January comes, and days of the new year count
    only for the new one."""
    start = qualifying_window_start(program.settings, now)
    moved = await _window_moved(connection, program, start)
    if moved:
        await keep_previous_window(connection, program, now)
    rows = await connection.fetch(
        "WITH gone AS (DELETE FROM qualifying_days WHERE program_id = $1 AND day < $2 RETURNING member_id, amount)"
        " SELECT member_id, sum(amount)::bigint AS amount FROM gone GROUP BY member_id ORDER BY member_id",
        program.program_id,
        start,
    )
    if rows:
        await connection.execute(
            "UPDATE member_accounts AS a SET qualifying = a.qualifying - t.amount"
            " FROM unnest($2::text[], $3::bigint[]) AS t(member_id, amount)"
            " WHERE a.program_id = $1 AND a.member_id = ANY($2::text[]) AND a.member_id = t.member_id",
            program.program_id,
            [r["member_id"] for r in rows],
            [r["amount"] for r in rows],
        )
    emptied = await _decay_day_buckets(connection, program, start) if moved else 0
    return len(rows) + emptied


async def _window_moved(connection: asyncpg.Connection, program: Program, start: dt.date) -> bool:
    """Whether the window start moved since the accounts' day buckets (migration 006) were last
    emptied. Buckets are written only for days in the window, so the accounts are read once each
    time the window start moves (daily), not on every run; program_jobs keeps the start they were
    last emptied for, locked here until the transaction ends."""
    emptied_for = await connection.fetchval(
        "SELECT last_run_at FROM program_jobs WHERE program_id = $1 AND job = $2 FOR UPDATE",
        program.program_id,
        DAY_BUCKETS_JOB,
    )
    return emptied_for is None or emptied_for < _midnight_utc(start)


def _midnight_utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


async def keep_previous_window(
    connection: asyncpg.Connection, program: Program, now: dt.datetime
) -> int:
    """Keep on each account its qualifying amount of the calendar year that ended last (its
    qualifying_days rows and its day bucket of that year), before they leave the window; returns
    the members with such an amount. Nothing for a rolling window. Days of an earlier year (the
    job stopped for more than a year) are not counted: the year judged is the one just ended."""
    previous = previous_window_start(program.settings, now)
    if previous is None:
        return 0
    start = qualifying_window_start(program.settings, now)
    rows = await connection.fetch(
        "SELECT member_id, sum(amount)::bigint AS amount FROM ("
        "  SELECT member_id, amount FROM qualifying_days"
        "  WHERE program_id = $1 AND day >= $2 AND day < $3"
        "  UNION ALL SELECT member_id, qualifying_day_amount FROM member_accounts"
        "  WHERE program_id = $1 AND qualifying_day >= $2 AND qualifying_day < $3"
        ") AS year GROUP BY member_id ORDER BY member_id",
        program.program_id,
        previous,
        start,
    )
    if rows:
        await connection.execute(
            "UPDATE member_accounts AS a SET previous_window_qualifying = t.amount,"
            " previous_window_start = $4"
            " FROM unnest($2::text[], $3::bigint[]) AS t(member_id, amount)"
            " WHERE a.program_id = $1 AND a.member_id = ANY($2::text[]) AND a.member_id = t.member_id",
            program.program_id,
            [r["member_id"] for r in rows],
            [r["amount"] for r in rows],
            previous,
        )
    return len(rows)


async def _decay_day_buckets(
    connection: asyncpg.Connection, program: Program, start: dt.date
) -> int:
    """Empty the accounts' day buckets (migration 006) that left the window."""
    emptied = await connection.fetch(
        "UPDATE member_accounts SET qualifying = qualifying - qualifying_day_amount,"
        " qualifying_day = NULL, qualifying_day_amount = 0"
        " WHERE program_id = $1 AND qualifying_day < $2 RETURNING member_id",
        program.program_id,
        start,
    )
    await connection.execute(
        "INSERT INTO program_jobs (program_id, job, last_run_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (program_id, job) DO UPDATE SET last_run_at = EXCLUDED.last_run_at",
        program.program_id,
        DAY_BUCKETS_JOB,
        _midnight_utc(start),
    )
    return len(emptied)


async def evaluate(
    connection: asyncpg.Connection,
    outbox: Outbox,
    program: Program,
    now: dt.datetime,
    *,
    member_ids: list[str] | None,
    requalify: bool,
    undefined_only: bool = False,
) -> Evaluation:
    """Evaluate the tiers of `member_ids` (None: every account; `undefined_only`: only those
    holding a code the tiers do not define); a program without tiers has nothing to evaluate.
    An account closed by a merge (closed_into, migration 005) is left as it is: no tier change,
    no TierChanged event.

    The program is read again here under a share lock on its row: SetTierDefinitions waits for
    this transaction, and the tiers it evaluates by are the committed ones, not those of a
    cache another replica's change has made stale.

    An account holding a code the tiers no longer define (written by a replica whose cache held
    the old tiers, or a transaction begun before the change) always moves: it is evaluated as
    standing at the tier its code is mapped to (the lowest without a recorded mapping), so it
    ends where SetTierDefinitions moved the code's other holders unless its qualifying amount
    reaches higher (or, at re-qualification, only lower); reason DEFINITIONS_CHANGED, direction
    by the removed tier's threshold.

    A member stands by its qualifying amount in the window as of `now` (the caller takes what
    left it off first: decay_qualifying); in a calendar-year window, by the greater of that (the
    year so far) and the amount kept for last year (keep_previous_window). So a tier last year's
    points reach holds through this year, re-qualification after 1 January judges the year that
    ended rather than the new one's first hours, and a tier reached this year is not taken back
    by last year's. The tier change records that amount."""
    if not await repository.share_program(connection, program.program_id):
        return Evaluation(0, [])
    program = await load_program(connection, program.program_id)
    if not program.tiers:
        return Evaluation(0, [])
    thresholds = np.array([tier.threshold for tier in program.tiers], dtype=np.int64)
    defined = [tier.code for tier in program.tiers]
    changes: list[TierChangeRow] = []
    evaluated = 0
    after = ""
    while True:
        rows = await connection.fetch(
            "SELECT member_id, tier_code, CASE WHEN previous_window_start = $6"
            " THEN greatest(qualifying, previous_window_qualifying) ELSE qualifying END AS qualifying"
            " FROM member_accounts WHERE program_id = $1"
            " AND ($2::text[] IS NULL OR member_id = ANY($2)) AND member_id > $3"
            " AND ($5::text[] IS NULL OR tier_code <> ALL($5::text[]))"
            " AND closed_into IS NULL ORDER BY member_id LIMIT $4"
            " FOR UPDATE",
            program.program_id,
            member_ids,
            after,
            EVALUATION_CHUNK,
            defined if undefined_only else None,
            previous_window_start(program.settings, now),
        )
        if not rows:
            break
        evaluated += len(rows)  # one row per account: repeated ids match it once
        evaluation = ledger_core.evaluate_tiers(
            qualifying_points=np.fromiter(
                (r["qualifying"] for r in rows), dtype=np.int64, count=len(rows)
            ),
            current_tiers=np.fromiter(
                (program.tier_index(r["tier_code"]) for r in rows), dtype=np.int8, count=len(rows)
            ),
            thresholds_points=thresholds,
            policy=ledger_core.TierPolicy(is_requalification=requalify),
        )
        changed = {int(index) for index in evaluation.changed_member_indexes}
        changed.update(i for i, row in enumerate(rows) if not program.defines(row["tier_code"]))
        changes += [_change(program, rows[i], int(evaluation.tiers[i])) for i in sorted(changed)]
        if len(rows) < EVALUATION_CHUNK:
            break
        after = rows[-1]["member_id"]
    await _record(connection, outbox, program, now, changes)
    return Evaluation(evaluated, changes)


def _change(program: Program, row: asyncpg.Record, reached: int) -> TierChangeRow:
    code, to_code = row["tier_code"], program.tiers[reached].code
    if not program.defines(code):
        direction = domain.direction_between(
            program.removed_from_threshold(code), program.tiers[reached].threshold
        )
        reason = common_pb2.TIER_CHANGE_REASON_DEFINITIONS_CHANGED
    elif reached > program.tier_index(code):
        direction = common_pb2.TIER_CHANGE_DIRECTION_UPGRADE
        reason = common_pb2.TIER_CHANGE_REASON_THRESHOLD_REACHED
    else:
        direction = common_pb2.TIER_CHANGE_DIRECTION_DOWNGRADE
        reason = common_pb2.TIER_CHANGE_REASON_REQUALIFICATION
    return (row["member_id"], code, to_code, direction, reason, row["qualifying"])


async def _record(
    connection: asyncpg.Connection,
    outbox: Outbox,
    program: Program,
    now: dt.datetime,
    changes: list[TierChangeRow],
) -> None:
    if not changes:
        return
    # A lateral move (a renamed tier) keeps tier_since, as SetTierDefinitions' own moves do.
    await connection.execute(
        "UPDATE member_accounts AS a SET tier_code = t.tier,"
        " tier_since = CASE WHEN t.direction = $5 THEN a.tier_since ELSE $4 END"
        " FROM unnest($2::text[], $3::text[], $6::smallint[]) AS t(member_id, tier, direction)"
        " WHERE a.program_id = $1 AND a.member_id = ANY($2::text[]) AND a.member_id = t.member_id",
        program.program_id,
        [c[0] for c in changes],
        [c[2] for c in changes],
        now,
        common_pb2.TIER_CHANGE_DIRECTION_LATERAL,
        [c[3] for c in changes],
    )
    for member, before, after, direction, reason, qualifying in changes:
        await store.insert_tier_change(
            connection,
            program.program_id,
            member,
            from_tier=before,
            to_tier=after,
            direction=direction,
            reason=reason,
            qualifying_amount=qualifying,
            changed_at=now,
        )
        await outbox.enqueue(
            connection,
            events.TIER_CHANGED,
            events_pb2.Event(
                program_id=program.program_id,
                tier_changed=events_pb2.TierChanged(
                    member_id=member,
                    from_tier_code=before,
                    to_tier_code=after,
                    direction=direction,
                    reason=reason,
                    qualifying_amount=qualifying,
                ),
            ),
        )
