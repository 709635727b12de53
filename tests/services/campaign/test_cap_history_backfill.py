"""The history of periods cap counters left before campaign migration 013 is written by a job
(cap_history_backfill.py), so a purchase arriving late for one of them is capped by what the
period used."""

import datetime as dt

import asyncpg

import ledger_core
from loyalty.campaign.v1 import rules_pb2
from services.campaign.cap_history_backfill import JOB, CapHistoryBackfill, missing_history
from services.campaign.repository_cap_history import CappedPurchase, Counter
from tests.services.campaign.support import ZONE, batch, earning, ledger_and_campaign, rate

# Amsterdam is UTC+1 in winter and +2 in summer: 23:30 UTC on 1 March is 2 March there.
MARCH_FIRST_LATE = dt.datetime(2025, 3, 1, 23, 30, tzinfo=dt.UTC)
MARCH_TENTH = dt.datetime(2025, 3, 10, 9, 0, tzinfo=dt.UTC)
MIGRATED = dt.datetime(2025, 3, 12, 9, 0, tzinfo=dt.UTC)
MARCH_TWENTIETH = dt.datetime(2025, 3, 20, 9, 0, tzinfo=dt.UTC)
CAPPED = earning(
    "base",
    rate=rate(),
    caps=rules_pb2.EarningCaps(per_member_day_points_max=100, per_member_month_points_max=1_000),
)


def local_key(moment: dt.datetime, period: int) -> int:
    return int(ledger_core.period_keys(ZONE, [int(moment.timestamp())])[period, 0])


async def test_a_late_purchase_of_a_day_before_migration_013_is_capped_by_what_it_used(
    start_service, database_url
) -> None:
    async with ledger_and_campaign(start_service, cap_history_retention_days=0) as (_, campaign):
        await campaign.live(CAPPED)
        await campaign.ingest(
            batch("a", [("a1", "al", 8_000, MARCH_FIRST_LATE)]),
            batch("b", [("b1", "al", 3_000, MARCH_TENTH)]),
            batch("c", [("c1", "al", 1_000, MARCH_TWENTIETH)]),
        )
        connection = await asyncpg.connect(
            database_url, server_settings={"search_path": "campaign"}
        )
        try:
            # As a database migrated on 12 March left it: no history of the periods the counter
            # had left by then (its rows of 2 and 10 March were written since), and the job not
            # yet run by this version.
            await connection.execute("DELETE FROM cap_history")
            await connection.execute("DELETE FROM job_runs WHERE job = $1", JOB)
            await connection.execute(
                "UPDATE schema_migrations SET applied_at = $1 WHERE version = 13", MIGRATED
            )
            backfill = CapHistoryBackfill(
                campaign.service.runtime.pool, campaign.ledger_client(), retention_days=0
            )
            assert await backfill.run_once(MARCH_TWENTIETH) == 2
            rows = await connection.fetch(
                "SELECT period, period_key, points FROM cap_history ORDER BY period, period_key"
            )
            # The local days (2 March in Amsterdam); not March, which the counter holds, nor
            # weeks, which the rule does not cap (its counter keeps no week).
            assert [tuple(row) for row in rows] == [
                (0, local_key(MARCH_FIRST_LATE, 0), 80),
                (0, local_key(MARCH_TENTH, 0), 30),
            ]
            # Done: run again, it reads its mark only.
            await connection.execute("DELETE FROM cap_history")
            assert await backfill.run_once(MARCH_TWENTIETH) == 0
            await connection.execute("DELETE FROM job_runs WHERE job = $1", JOB)
            assert await backfill.run_once(MARCH_TWENTIETH) == 2
        finally:
            await connection.close()
        # Late purchases of those days are capped by what the days used.
        (late,) = await campaign.ingest(
            batch(
                "d",
                [("d1", "al", 5_000, MARCH_FIRST_LATE), ("d2", "al", 5_000, MARCH_TENTH)],
            )
        )
        assert list(late.points) == [20, 50]


def test_only_periods_before_the_migration_and_the_counter_are_written() -> None:
    day = 20_000
    counters = [Counter("al", "base", (day + 5, 0, 0))]
    purchases = [
        CappedPurchase("al", (day + offset) * 86_400_000_000 + 3_600_000_000, "base@1:10")
        for offset in (0, 1, 1, 2, 3, 5)
    ]
    purchases.append(CappedPurchase("al", day * 86_400_000_000, "other@1:7,base@2:0"))
    rows = missing_history(
        counters,
        purchases,
        "UTC",
        history_keys=(day + 3, 0, 0),
        first_kept_keys=(day + 1, 0, 0),
    )
    # Day 0 is before the retention, days 3 and 5 not before the migration; rule "other" has
    # no counter; 0 points count nothing.
    assert rows == [("al", "base", 0, day + 1, 20), ("al", "base", 0, day + 2, 10)]
    assert not missing_history(
        counters, [], "UTC", history_keys=(0, 0, 0), first_kept_keys=(0, 0, 0)
    )
