"""Tier re-qualification across the end of a calendar-year window, on the job's own clock.

The job runs on a clock the test sets (as the expiry notice tests do); postings at those
instants go through the ledger's own earn and transfer, on the real PostgreSQL. The years are
the program's current one (Y) and the two before it, so the calls answered on the servers' own
clock (GetBalance, EvaluateTiers) see the same window.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from loyalty.ledger.v1 import ledger_pb2
from services.ledger.app import SPEC, LedgerConfig
from services.ledger.jobs import TIER_REQUALIFICATION, Jobs
from services.ledger.ledger import Ledger as LedgerBook
from services.ledger.operations import load_program
from tests.services.ledger.support import Ledger, key
from tests.services.ledger.test_grouped_earns import close_account

# 1 January begins at 11:00 UTC on 31 December there (summer time, UTC+13): a window cut at
# midnight UTC would be eleven hours late.
AUCKLAND = ZoneInfo("Pacific/Auckland")
THIS_YEAR = dt.datetime.now(AUCKLAND).year


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=AUCKLAND)


class Clocked:
    """The ledger's earns, transfers and re-qualification job, each at an instant the test sets."""

    def __init__(self, running) -> None:
        runtime = running.runtime
        self.pool: asyncpg.Pool = runtime.pool
        self.book = LedgerBook(runtime.outbox)
        self.now = local(THIS_YEAR - 2, 1, 1, 12)
        self.jobs = Jobs(
            runtime.pool,
            self.book,
            runtime.outbox,
            runtime.metrics,
            clock=lambda: self.now.astimezone(dt.UTC),
            interval_s=1,
        )

    async def earn(self, member: str, points: int, at: dt.datetime) -> None:
        program = await load_program(self.pool, "acme")
        async with self.pool.acquire() as connection, connection.transaction():
            await self.book.earn(
                connection,
                program,
                at.astimezone(dt.UTC),
                member_id=member,
                points=points,
                source_reference=key(),
                reason=b"",
                occurred_at=None,
                vests_at=None,
                expires_at=None,
                qualifying=True,
                qualifying_spend_minor=0,
            )

    async def merge(self, source: str, target: str, at: dt.datetime) -> None:
        program = await load_program(self.pool, "acme")
        async with self.pool.acquire() as connection, connection.transaction():
            await self.book.transfer(
                connection,
                program,
                at.astimezone(dt.UTC),
                source_member_id=source,
                target_member_id=target,
                points=0,
                transfer_all=True,
                reason=b"",
            )

    async def requalify(self, at: dt.datetime) -> None:
        """The scheduled run at `at` (not forced: it re-qualifies if a year ended since the last)."""
        self.now = at
        await self.jobs.run_locked(TIER_REQUALIFICATION, program_id="acme")


def calendar_year(period: int = ledger_pb2.CALENDAR_PERIOD_YEAR) -> dict[str, object]:
    return {
        "time_zone": "Pacific/Auckland",
        "expiry_policy": ledger_pb2.ExpiryPolicy(kind=ledger_pb2.EXPIRY_KIND_NEVER),
        "tier_window": ledger_pb2.TierWindow(
            kind=ledger_pb2.TIER_WINDOW_KIND_CALENDAR_YEAR, requalification_period=period
        ),
    }


async def tiers(ledger: Ledger, members: list[str]) -> dict[str, str]:
    return {member: (await ledger.balance(member)).tier_code for member in members}


async def history(ledger: Ledger, member: str) -> list[tuple[str, str, int]]:
    changes = await ledger.stub.GetTierHistory(
        ledger_pb2.GetTierHistoryRequest(program_id="acme", member_id=member)
    )
    return [(c.from_tier_code, c.to_tier_code, c.qualifying_amount) for c in changes.tier_changes]


async def bucket(pool: asyncpg.Pool, member: str) -> None:
    """Move the member's latest qualifying day into its account's day bucket (migration 006),
    where bulk earning keeps it, so the day is counted from there."""
    async with pool.acquire() as connection, connection.transaction():
        day, amount = await connection.fetchrow(
            "DELETE FROM qualifying_days WHERE member_id = $1 AND day = ("
            " SELECT max(day) FROM qualifying_days WHERE member_id = $1) RETURNING day, amount",
            member,
        )
        await connection.execute(
            "UPDATE member_accounts SET qualifying_day = $2, qualifying_day_amount = $3"
            " WHERE member_id = $1",
            member,
            day,
            amount,
        )


# Silver from 1000, gold from 5000 (test_programs.TIERS).
LAST_YEARS_TIERS = {
    "ann": "gold",
    "bob": "silver",
    "dora": "silver",
    "eve": "silver",
    "fred": "member",
}


@pytest.mark.parametrize(
    ("run_at", "missed_a_year"),
    [
        # The first run after midnight on 1 January, as the job runs every few seconds.
        ((1, 1, 0, 1), False),
        # Days late: the same year is judged, the days since count for the new one only.
        ((1, 3, 10, 0), False),
        # And after a year without any run: still the year that just ended, not the one before.
        ((1, 3, 10, 0), True),
    ],
)
async def test_the_run_after_new_year_judges_the_year_that_ended(
    start_service, run_at: tuple[int, int, int, int], missed_a_year: bool
) -> None:
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (running, channel):
        ledger = Ledger(channel)
        await ledger.setup(**calendar_year())
        clocked = Clocked(running)
        await clocked.requalify(local(THIS_YEAR - 2, 6, 1, 12))  # the job has run before
        for member in ("bob", "dora", "fred"):  # gold two years ago
            await clocked.earn(member, 6_000, local(THIS_YEAR - 2, 6, 15, 12))
        if not missed_a_year:
            await clocked.requalify(local(THIS_YEAR - 1, 1, 1, 0, 1))
        assert await tiers(ledger, ["bob", "dora", "fred"]) == dict.fromkeys(
            ["bob", "dora", "fred"], "gold"
        )
        # Last year, up to its last hour in Auckland (before noon UTC on 31 December).
        await clocked.earn("ann", 6_000, local(THIS_YEAR - 1, 12, 31, 23, 30))
        await clocked.earn("bob", 1_500, local(THIS_YEAR - 1, 12, 31, 23, 30))
        await clocked.earn("dora", 4_900, local(THIS_YEAR - 1, 3, 10, 9))
        await bucket(clocked.pool, "dora")  # as a PostBatch leaves a member's latest day
        if not missed_a_year:
            await clocked.requalify(local(THIS_YEAR - 1, 12, 31, 23, 45))  # not yet the end
        # The new year's first hours, before the run: they count for this year only.
        await clocked.earn("dora", 200, local(THIS_YEAR, 1, 1, 0, 0))
        await clocked.earn("eve", 1_200, local(THIS_YEAR, 1, 1, 0, 0))
        if run_at[1] > 1:
            await clocked.earn("eve", 10, local(THIS_YEAR, 1, 2, 18))
        assert (await ledger.balance("eve")).tier_code == "silver"  # upgraded at once

        await clocked.requalify(local(THIS_YEAR, *run_at))

        assert await tiers(ledger, list(LAST_YEARS_TIERS)) == LAST_YEARS_TIERS
        # Judged on last year's 4,900, not with the 200 of 1 January: down to silver.
        assert (await history(ledger, "dora"))[0] == ("gold", "silver", 4_900)
        assert (await history(ledger, "fred"))[0] == ("gold", "member", 0)
        # A later run of the year judges nobody again, nor does a forced one.
        await clocked.requalify(local(THIS_YEAR, 1, 5, 12))
        forced = await ledger.stub.RunMaintenance(
            ledger_pb2.RunMaintenanceRequest(
                program_id="acme",
                idempotency_key=key(),
                job=ledger_pb2.MAINTENANCE_JOB_TIER_REQUALIFICATION,
            )
        )
        assert forced.processed_count == 0
        assert await tiers(ledger, list(LAST_YEARS_TIERS)) == LAST_YEARS_TIERS
        await ledger.assert_clean()


async def test_evaluate_tiers_and_merges_keep_last_years_amounts(
    start_service, database_url: str
) -> None:
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (running, channel):
        ledger = Ledger(channel)
        await ledger.setup(**calendar_year())
        clocked = Clocked(running)
        await clocked.requalify(local(THIS_YEAR - 1, 6, 1, 12))
        for member, points in (("ann", 3_000), ("bob", 3_000), ("dora", 4_900)):
            await clocked.earn(member, points, local(THIS_YEAR - 1, 11, 20, 12))
        # EvaluateTiers on the servers' clock, this year, before the job's first run of it:
        # the window moves first, and members are judged on last year's amounts.
        evaluated = await ledger.stub.EvaluateTiers(
            ledger_pb2.EvaluateTiersRequest(
                program_id="acme", idempotency_key=key(), requalify=True
            )
        )
        assert (evaluated.evaluated_count, len(evaluated.tier_changes)) == (3, 0)
        # So this year's points no longer add to last year's: 200 do not make dora gold.
        await clocked.earn("dora", 200, dt.datetime.now(AUCKLAND))
        assert (await ledger.balance("dora")).tier_code == "silver"
        await clocked.requalify(dt.datetime.now(AUCKLAND))  # nothing lost by the RPC's move
        silver = {"ann": "silver", "bob": "silver", "dora": "silver"}
        assert await tiers(ledger, ["ann", "bob", "dora"]) == silver
        # Merged into ann this year, bob brings his last year's amount: 6,000 reach gold.
        await clocked.merge("bob", "ann", dt.datetime.now(AUCKLAND))
        await close_account(database_url, "bob")
        evaluated = await ledger.stub.EvaluateTiers(
            ledger_pb2.EvaluateTiersRequest(program_id="acme", idempotency_key=key())
        )
        assert [
            (c.member_id, c.to_tier_code, c.qualifying_amount) for c in evaluated.tier_changes
        ] == [("ann", "gold", 6_000)]
        async with clocked.pool.acquire() as connection:
            kept = await connection.fetch(
                "SELECT member_id, previous_window_qualifying FROM member_accounts"
                " WHERE previous_window_start = $1 ORDER BY member_id",
                dt.date(THIS_YEAR - 1, 1, 1),
            )
        assert [tuple(row) for row in kept] == [("ann", 6_000), ("bob", 0), ("dora", 4_900)]
        await ledger.assert_clean()


async def test_a_rolling_window_is_judged_as_it_stands_at_the_run(start_service) -> None:
    # Unchanged by keeping a calendar year's amounts: the last 365 days as of the run.
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (running, channel):
        ledger = Ledger(channel)
        await ledger.setup(
            time_zone="Pacific/Auckland",
            expiry_policy=ledger_pb2.ExpiryPolicy(kind=ledger_pb2.EXPIRY_KIND_NEVER),
        )
        clocked = Clocked(running)
        run = local(THIS_YEAR, 1, 1, 0, 1)
        first_day = run - dt.timedelta(days=364)  # the window's first local day, 1 January's too
        await clocked.requalify(local(THIS_YEAR - 2, 6, 1, 12))
        await clocked.earn("ann", 6_000, first_day.replace(hour=12))
        await clocked.earn("bob", 6_000, first_day.replace(hour=12) - dt.timedelta(days=1))
        await clocked.earn("bob", 1_500, local(THIS_YEAR - 1, 12, 31, 23, 30))
        await clocked.earn("eve", 1_200, local(THIS_YEAR, 1, 1, 0, 0))
        await clocked.requalify(run)
        assert await tiers(ledger, ["ann", "bob", "eve"]) == {
            "ann": "gold",
            "bob": "silver",
            "eve": "silver",
        }
        assert (await history(ledger, "bob"))[0] == ("gold", "silver", 1_500)
        await ledger.assert_clean()


async def test_a_monthly_period_takes_a_tier_only_from_members_neither_year_reaches(
    start_service, database_url: str
) -> None:
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (running, channel):
        ledger = Ledger(channel)
        await ledger.setup(**calendar_year(ledger_pb2.CALENDAR_PERIOD_MONTH))
        clocked = Clocked(running)
        await clocked.requalify(local(THIS_YEAR - 1, 12, 1, 12))
        await clocked.earn("ann", 6_000, local(THIS_YEAR - 1, 12, 10, 12))
        await clocked.earn("fred", 1_500, local(THIS_YEAR - 1, 12, 10, 12))
        await clocked.requalify(local(THIS_YEAR, 1, 1, 0, 1))
        await clocked.earn("eve", 1_200, local(THIS_YEAR, 1, 20, 12))
        connection = await asyncpg.connect(database_url)
        try:  # a tier neither year reaches, as a stored tier out of step with the counters
            await connection.execute(
                "UPDATE ledger.member_accounts SET tier_code = 'gold' WHERE member_id = 'fred'"
            )
        finally:
            await connection.close()
        # February and March: last year's gold is still ann's, January's silver eve's.
        await clocked.requalify(local(THIS_YEAR, 2, 1, 0, 1))
        await clocked.requalify(local(THIS_YEAR, 3, 1, 0, 1))
        assert await tiers(ledger, ["ann", "eve", "fred"]) == {
            "ann": "gold",
            "eve": "silver",
            "fred": "silver",
        }
        assert (await history(ledger, "fred"))[0] == ("gold", "silver", 1_500)
        await ledger.assert_clean()
