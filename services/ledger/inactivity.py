"""Expiry by inactivity: when a member's points expire, what the balance says of it, and the
notices ("your points expire in N days") before they do.

Under the inactivity policy a member's lots carry no expiry of their own: all the spendable
points (vested and pending) expire together when the member has had no activity for the
program's months, counted on the wall clock of the program's time zone (policy.inactivity_cutoff,
which the expiry job uses). Activity is an earn (at its occurred_at, the purchase's time), a
redemption, a committed hold or a transfer sent (MemberBook.post, and the bulk earns of
batches.py); it never moves back, so an import of old purchases leaves a dormant member dormant.
The clock starts when the account opens (an enrolment), and the account's first earn replaces
that: members enrolled by an import, then their purchases imported, count from their latest
purchase. A merge gives the survivor the later clock of the two.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import asyncpg

from loyalty.events.v1 import events_pb2
from services.ledger import events
from services.ledger.domain import ExpiryKind, ProgramSettings
from services.ledger.policy import (
    add_months,
    expiry_notice_days_ahead,
    expiry_notice_horizon,
    inactivity_cutoff,
    wall_clock_instant,
)
from services.shared.outbox import Outbox

# Accounts read per transaction by the notice job, in member order: a program's accounts are
# read whole (no index on last_activity_at, which every earn changes: migration 004), so at most
# once per NOTICE_PASS_INTERVAL (a forced run, RunMaintenance, reads them at once). Deadlines
# enter the window as the local days pass; an account an import opens with an old activity may
# have its deadline in the window already, and is announced at the next pass.
ACCOUNTS_PER_PAGE = 10_000
NOTICE_PASS_INTERVAL = dt.timedelta(hours=1)
# In program_jobs: when the notice job last read the program's accounts.
NOTICE_PASS = "inactivity_notices"


def deadline(settings: ProgramSettings, last_activity_at: dt.datetime) -> dt.datetime | None:
    """When the points of a member last active at `last_activity_at` expire; None if the
    program's policy is not inactivity. The expiry job takes them at its first run after this.

    The program's months later on the local wall clock: the moment from which
    inactivity_cutoff passes `last_activity_at`. A day the later month lacks (31 January plus a
    month) ends at the following local midnight (1 March), when the cutoff passes it, and a
    time the clocks skip (02:30 on the night they go from 02:00 to 03:00) at the jump, when the
    cutoff, read from the clock, goes from 01:59:59 to 03:00 at once."""
    if settings.expiry_kind != ExpiryKind.INACTIVITY_MONTHS:
        return None
    zone = ZoneInfo(settings.time_zone)
    local = last_activity_at.astimezone(zone).replace(tzinfo=None)
    later = add_months(local, settings.expiry_months)
    if later.day < local.day:
        later = later.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    return wall_clock_instant(later, zone)


def expiring(
    settings: ProgramSettings,
    *,
    last_activity_at: dt.datetime,
    spendable_points: int,
    lot_points: int,
    lot_first: dt.datetime | None,
    until: dt.datetime,
) -> tuple[int, dt.datetime | None]:
    """The points expiring before `until` and the next expiry, from the lots' own expiries
    (`lot_points` before `until`, `lot_first` the soonest) and, under the inactivity policy, the
    member's deadline, when all the spendable points (vested and pending) expire."""
    due = deadline(settings, last_activity_at) if spendable_points > 0 else None
    if due is None:
        return lot_points, lot_first
    points = spendable_points if due < until else lot_points
    return points, due if lot_first is None else min(due, lot_first)


async def notice(
    pool: asyncpg.Pool,
    outbox: Outbox,
    program_id: str,
    settings: ProgramSettings,
    now: dt.datetime,
    *,
    force: bool,
) -> tuple[int, int]:
    """Announce each deadline (PointsExpiring) that entered the notice window, once: the
    account keeps the last activity it was announced for (expiry_noticed_activity_at,
    migration 014), so the same deadline is not announced again and a later one, after new
    activity, is announced when it comes near. Reads the program's accounts in pages of
    ACCOUNTS_PER_PAGE, by member id, each page one statement and its events one more, in a
    transaction. Returns the members and the points announced."""
    if settings.expiry_kind != ExpiryKind.INACTIVITY_MONTHS or settings.expiry_notice_days == 0:
        return 0, 0
    last_pass = await pool.fetchval(
        "SELECT last_run_at FROM program_jobs WHERE program_id = $1 AND job = $2",
        program_id,
        NOTICE_PASS,
    )
    if not force and last_pass is not None and last_pass <= now < last_pass + NOTICE_PASS_INTERVAL:
        return 0, 0
    # A deadline in (now, horizon]: last active from the cutoff now (else the expiry job's)
    # to before the horizon's cutoff.
    cutoff = inactivity_cutoff(settings, now)
    horizon_cutoff = inactivity_cutoff(settings, expiry_notice_horizon(settings, now))
    assert cutoff is not None and horizon_cutoff is not None
    members = points = 0
    after = ""
    while True:
        async with pool.acquire() as connection, connection.transaction():
            last = await connection.fetchval(
                "SELECT max(member_id) FROM (SELECT member_id FROM member_accounts"
                " WHERE program_id = $1 AND member_id > $2 ORDER BY member_id LIMIT $3) AS page",
                program_id,
                after,
                ACCOUNTS_PER_PAGE,
            )
            if last is None:
                await connection.execute(
                    "INSERT INTO program_jobs (program_id, job, last_run_at) VALUES ($1, $2, $3)"
                    " ON CONFLICT (program_id, job) DO UPDATE SET last_run_at = EXCLUDED.last_run_at",
                    program_id,
                    NOTICE_PASS,
                    now,
                )
                return members, points
            rows = await connection.fetch(
                "UPDATE member_accounts SET expiry_noticed_activity_at = last_activity_at"
                " WHERE program_id = $1 AND member_id > $2 AND member_id <= $3"
                " AND closed_into IS NULL AND vested + pending > 0"
                " AND last_activity_at >= $4 AND last_activity_at < $5"
                " AND expiry_noticed_activity_at IS DISTINCT FROM last_activity_at"
                " RETURNING member_id, vested + pending AS points, last_activity_at",
                program_id,
                after,
                last,
                cutoff,
                horizon_cutoff,
            )
            announced = []
            for row in sorted(rows, key=lambda row: row["member_id"]):
                due = deadline(settings, row["last_activity_at"])
                assert due is not None
                expires = events_pb2.PointsExpiring(
                    member_id=row["member_id"],
                    points=row["points"],
                    days_ahead=expiry_notice_days_ahead(settings, now, due),
                )
                expires.expires_at.FromDatetime(due)
                announced.append(events_pb2.Event(program_id=program_id, points_expiring=expires))
                points += row["points"]
            await outbox.enqueue_many(connection, events.POINTS_EXPIRING, announced)
            members += len(rows)
            after = last
