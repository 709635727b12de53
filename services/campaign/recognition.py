"""Surprise and recognition on a schedule: birthday bonuses and the top members of the month.

Milestones are reached on purchases (services/campaign/purchases.py). Both jobs here run for each
program with recognition configured, in the program's time zone:

- birthday: members whose birthday is today get the bonus, once per member and year (members born
  on 29 February get it on 28 February in other years). Each run also serves the days since the
  last day it finished (kept in job_runs as ('birthday', 'YYYY-MM-DD'), at most
  `BIRTHDAY_CATCH_UP_DAYS_MAX` back), so days the job missed (the service down, the ledger
  unreachable) are given late rather than never, as the bonus of the birthday's own year. A day
  counts as finished once a run on a later day has served it: a member enrolled late in the
  evening is still served by the first run after midnight. The first run serves today only;
  days passed while the bonus is off are finished without bonuses;
- top of the month: once the month has ended, and its `settle_delay_hours` have passed (so late
  uploads of its last days count), its top N members by spend, purchases or rewarded activities
  (ties to the lower member id) get the bonus, once per month. The first month paid is the one in
  which top-N was switched on, all of it (its purchases before the switch count too), never the
  month before, which nobody was told about. "Switched on" is the first run that sees it on, by
  the job's own clock (the `now` it is run with), recorded per program in top_of_month_starts
  (replicas racing all keep the first claim); only months that end after it are settled. The job
  runs every few minutes, so that is minutes after the configuration; a switch in the last
  minutes of a month may start with the next one. ConfigureRecognition forgets the record when
  top-N is switched off or on, so the months it was off are never paid; changing only its
  points, basis or count keeps it.

Members merged into another (members.merged_into) get neither: the ledger would refuse their
points, so a merged member neither takes a top-N place nor fails a run. Members the program-wide
holdout keeps out get neither either, for a day or month that ends after the holdout's start:
their birthday is recorded with no points, and they take no top-N place (the next member has it).

Each award is recorded (bonus_awards) and posted in one campaign transaction; the ledger items'
keys name the member and the period, so a run repeated after a crash posts nothing twice. A run
counts only the bonuses the ledger posted for it (not those it found recorded, nor the ledger's
duplicates), so replicas running the jobs at once report each bonus once between them.
"""

import calendar
import dataclasses
import datetime as dt
import logging
import zoneinfo

import asyncpg

from loyalty.campaign.v1 import engagement_pb2
from services.campaign import repository, targeting
from services.campaign import repository_engagement as store
from services.campaign.assignment import bucket_sql
from services.campaign.errors import CampaignError
from services.campaign.ledger_client import LedgerClient, ProgramSettings, chunked
from services.campaign.purchases import bonus_item, post_batch_request
from services.shared.periodic import IncompleteRun
from services.shared.timestamps import from_unix_micros, unix_micros

logger = logging.getLogger(__name__)

MEMBERS_PER_RUN_MAX = 10_000
BIRTHDAY_JOB = "birthday"
# Birthdays this many days before today are still given by a run that missed them.
BIRTHDAY_CATCH_UP_DAYS_MAX = 7


class Recognition:
    def __init__(
        self,
        pool: asyncpg.Pool,
        ledger: LedgerClient,
    ) -> None:
        self.pool = pool
        self.ledger = ledger

    async def run_once(self, now: dt.datetime) -> dict[str, int]:
        """Run both jobs for every program; returns the bonuses this run posted per job (those
        another replica's run or an earlier, crashed run posted are not counted), or ends with
        IncompleteRun naming the programs it could not serve (after serving the others)."""
        given = {"birthday": 0, "top_of_month": 0}
        problems = []
        rows = await self.pool.fetch("SELECT program_id, definition FROM recognition_configs")
        for row in rows:
            config = engagement_pb2.RecognitionConfig.FromString(row["definition"])
            try:
                program = await self.ledger.program(row["program_id"])
                given["birthday"] += await self.birthdays(program, config, now)
                if config.top_members_of_month.count:
                    given["top_of_month"] += await self.top_of_month(program, config, now)
            except CampaignError as error:
                # One program's trouble (not configured in the ledger, the ledger down) does
                # not hold up the others; the next run tries again.
                logger.warning("recognition of %s: %s", row["program_id"], error.details())
                problems.append(f"{row['program_id']}: {error.details()}")
        if problems:
            raise IncompleteRun(problems)
        return given

    async def birthdays(
        self, program: ProgramSettings, config: engagement_pb2.RecognitionConfig, now: dt.datetime
    ) -> int:
        """Give the birthday bonus of today and of the days missed since the last run."""
        today = now.astimezone(zoneinfo.ZoneInfo(program.time_zone)).date()
        total = 0
        if config.birthday_bonus_points:
            for day in await self._birthday_days(program.program_id, today):
                total += await self._birthdays_on(program, config.birthday_bonus_points, day)
        # The days before today are done; today is served again until it has passed.
        async with self.pool.acquire() as connection:
            await store.claim_job_run(
                connection,
                program.program_id,
                BIRTHDAY_JOB,
                (today - dt.timedelta(days=1)).isoformat(),
            )
        return total

    async def _birthday_days(self, program_id: str, today: dt.date) -> list[dt.date]:
        """The local days to serve: those after the last one done, and today."""
        last = await self.pool.fetchval(
            "SELECT max(period) FROM job_runs WHERE program_id = $1 AND job = $2",
            program_id,
            BIRTHDAY_JOB,
        )
        if last is None:
            return [today]
        first = max(
            dt.date.fromisoformat(last) + dt.timedelta(days=1),
            today - dt.timedelta(days=BIRTHDAY_CATCH_UP_DAYS_MAX),
        )
        missed = [first + dt.timedelta(days=n) for n in range((today - first).days)]
        return [*missed, today]

    async def _birthdays_on(self, program: ProgramSettings, points: int, day: dt.date) -> int:
        dates = [(day.month, day.day)]
        if dates == [(2, 28)] and not calendar.isleap(day.year):
            dates.append((2, 29))
        period = str(day.year)
        total = 0
        while True:
            async with self.pool.acquire() as connection, connection.transaction():
                members = await connection.fetch(
                    "SELECT m.member_id FROM members m WHERE m.program_id = $1 "
                    "AND m.merged_into IS NULL "
                    "AND (m.birthday_month, m.birthday_day) IN (SELECT * FROM unnest($2::smallint[], $3::smallint[])) "
                    "AND NOT EXISTS (SELECT 1 FROM bonus_awards b WHERE b.program_id = m.program_id "
                    "AND b.member_id = m.member_id AND b.kind = 'birthday' AND b.period = $4) "
                    "ORDER BY m.member_id LIMIT $5",
                    program.program_id,
                    [month for month, _ in dates],
                    [day_of_month for _, day_of_month in dates],
                    period,
                    MEMBERS_PER_RUN_MAX,
                )
                ids = [row["member_id"] for row in members]
                # A held-out member's birthday is decided too, as nothing: recorded with no
                # points, so it is neither selected again nor paid by a later run.
                held = await targeting.held_out_members(
                    connection, program.program_id, ids, _last_instant_of(day, program.time_zone)
                )
                total += await self._award(
                    connection,
                    program,
                    "birthday",
                    period,
                    [(member, 0 if member in held else points) for member in ids],
                    batch_id=f"birthday:{day.isoformat()}:{ids[0] if ids else ''}",
                )
            if len(ids) < MEMBERS_PER_RUN_MAX:
                return total

    async def top_of_month(
        self, program: ProgramSettings, config: engagement_pb2.RecognitionConfig, now: dt.datetime
    ) -> int:
        top = config.top_members_of_month
        month = settled_month(now, zoneinfo.ZoneInfo(program.time_zone), top.settle_delay_hours)
        async with self.pool.acquire() as connection:
            since = await repository.claim_top_of_month_start(connection, program.program_id, now)
        # A month that ended before top-N was switched on was never announced: not settled,
        # and not recorded as done either (it never becomes due).
        if since is None or month.end <= since:
            return 0
        async with self.pool.acquire() as connection, connection.transaction():
            if not await store.claim_job_run(
                connection, program.program_id, "top_of_month", month.period
            ):
                return 0
            holdout = await targeting.holdout_of(connection, program.program_id)
            if holdout is not None and month.end <= from_unix_micros(holdout.start_micros):
                holdout = None
            ranked = await _ranked(
                connection, program.program_id, top, month.start, month.end, holdout
            )
            return await self._award(
                connection,
                program,
                "top_of_month",
                month.period,
                [(member, top.points) for member in ranked],
                batch_id=f"top_of_month:{month.period}",
            )

    async def _award(
        self,
        connection: asyncpg.Connection,
        program: ProgramSettings,
        kind: str,
        period: str,
        awards: list[tuple[str, int]],
        *,
        batch_id: str,
    ) -> int:
        """Record the awards and post those not recorded before; returns the bonuses this call
        posted. Two replicas running a job at once find the same members, and a run repeated
        after a crash posts again what the ledger had posted: only the awards this call recorded
        are posted, and only what the ledger posted (not its duplicates) is counted, so the
        replicas' counts add up to the bonuses given."""
        fresh = await store.award_bonuses(
            connection, program.program_id, kind, [(m, period, p) for m, p in awards]
        )
        items = [
            bonus_item(member, points, key=f"{kind}:{period}", code=kind)
            for member, points in awards
            if (member, period) in fresh and points > 0
        ]
        if not items:
            return 0
        request = post_batch_request(program.program_id, f"campaign:{batch_id}", items)
        answers = await self.ledger.post_batches(chunked(request))
        rejected = sum(answer.rejected_count for answer in answers)
        if rejected:
            logger.error("the ledger rejected %d %s bonuses of %s", rejected, kind, period)
        return sum(int(answer.posted_count) for answer in answers)


@dataclasses.dataclass(frozen=True)
class Month:
    """A local calendar month: its first instant, the first instant after it, and 'YYYY-MM'."""

    start: dt.datetime
    end: dt.datetime
    period: str


def settled_month(now: dt.datetime, zone: zoneinfo.ZoneInfo, settle_delay_hours: int) -> Month:
    """The last local month that ended at least the delay before `now`. Its bounds are local
    midnights made UTC, so they compare as instants whatever the offset (DST) on either side."""
    local = (now - dt.timedelta(hours=settle_delay_hours)).astimezone(zone)
    end = dt.datetime(local.year, local.month, 1, tzinfo=zone)
    previous = end - dt.timedelta(days=1)
    start = dt.datetime(previous.year, previous.month, 1, tzinfo=zone)
    return Month(
        start.astimezone(dt.UTC),
        end.astimezone(dt.UTC),
        f"{previous.year:04d}-{previous.month:02d}",
    )


def _last_instant_of(day: dt.date, time_zone: str) -> dt.datetime:
    """The last microsecond of a local day, as UTC: a day's bonus is held out if the holdout
    started before the day ended."""
    following = dt.datetime.combine(
        day + dt.timedelta(days=1), dt.time(), tzinfo=zoneinfo.ZoneInfo(time_zone)
    )
    return following.astimezone(dt.UTC) - dt.timedelta(microseconds=1)


async def _ranked(
    connection: asyncpg.Connection,
    program_id: str,
    top: engagement_pb2.TopMembersOfMonth,
    start: dt.datetime,
    end: dt.datetime,
    holdout: targeting.Holdout | None,
) -> list[str]:
    """The month's top members. Members the holdout keeps out take no place (the next member
    has it), by the holdout's bucket computed in SQL as assignment.bucket does."""
    if top.basis == engagement_pb2.TOP_MEMBERS_BASIS_ACTIVITIES:
        scores = (
            "SELECT member_id, count(*) AS score FROM activities WHERE program_id = $1 AND outcome = 1 "
            "AND occurred_at >= $2 AND occurred_at < $3 GROUP BY member_id"
        )
        bounds: tuple[object, object] = (start, end)
    else:
        # Purchases, or spend net of the month's returns.
        score = (
            "count(*) FILTER (WHERE kind = 1)"
            if top.basis == engagement_pb2.TOP_MEMBERS_BASIS_PURCHASES
            else "sum(amount_minor)"
        )
        scores = (
            f"SELECT member_id, {score} AS score FROM transactions WHERE program_id = $1 "
            "AND occurred_micros >= $2 AND occurred_micros < $3 GROUP BY member_id"
        )
        bounds = (unix_micros(start), unix_micros(end))
    held_out = ""
    holdout_values: tuple[object, ...] = ()
    if holdout is not None:
        held_out = f"AND {bucket_sql('$5::text', 's.member_id')} >= $6::integer "
        holdout_values = (holdout.salt, holdout.bps)
    rows = await connection.fetch(
        f"SELECT member_id FROM ({scores}) s WHERE score > 0 AND NOT EXISTS (SELECT 1 FROM members m "
        "WHERE m.program_id = $1 AND m.member_id = s.member_id AND m.merged_into IS NOT NULL) "
        f"{held_out}ORDER BY score DESC, member_id LIMIT $4",
        program_id,
        *bounds,
        top.count,
        *holdout_values,
    )
    return [row["member_id"] for row in rows]
