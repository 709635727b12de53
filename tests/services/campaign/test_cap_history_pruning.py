"""Member-cap history older than the retention is deleted by a job (cap_history_pruning.py)."""

import datetime as dt

import asyncpg
import pytest
from prometheus_client import CollectorRegistry, Counter

from loyalty.campaign.v1 import rules_pb2
from services.campaign.app import CampaignConfig
from services.campaign.cap_history_pruning import CapHistoryPruning
from services.shared.config import ConfigError, load_config
from tests.services.campaign.insight_support import eventually
from tests.services.campaign.support import batch, earning, ledger_and_campaign, rate

APRIL_FIRST = dt.datetime(2025, 4, 1, 9, 0, tzinfo=dt.UTC)
MAY_FIFTH = dt.datetime(2025, 5, 5, 9, 0, tzinfo=dt.UTC)
MAY_SIXTH = MAY_FIFTH + dt.timedelta(days=1)
DAY_CAPPED = earning("base", rate=rate(), caps=rules_pb2.EarningCaps(per_member_day_points_max=100))


async def history(database_url: str) -> dict[dt.date, int]:
    """The day rows of the history: the day each is of, and the points it holds."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "campaign"})
    try:
        rows = await connection.fetch("SELECT period_key, points FROM cap_history WHERE period = 0")
    finally:
        await connection.close()
    return {dt.date(1970, 1, 1) + dt.timedelta(days=key): points for key, points in rows}


async def test_history_before_the_retention_goes_and_late_purchases_then_find_none(
    start_service, database_url
) -> None:
    async with ledger_and_campaign(start_service, cap_history_retention_days=0) as (_, campaign):
        await campaign.live(DAY_CAPPED)
        await campaign.ingest(
            batch("a", [("a1", "al", 10_000, APRIL_FIRST)]),
            batch("b", [("b1", "al", 8_000, MAY_FIFTH)]),
            batch("c", [("c1", "al", 1_000, MAY_SIXTH)]),
        )
        # Each day's use went to the history when the counter moved on to a later day.
        assert await history(database_url) == {APRIL_FIRST.date(): 100, MAY_FIFTH.date(): 80}
        registry = CollectorRegistry()
        pruning = CapHistoryPruning(
            campaign.service.runtime.pool,
            retention_days=30,
            pruned_rows=Counter("pruned", "", registry=registry),
        )

        assert await pruning.run_once(MAY_FIFTH + dt.timedelta(days=30)) == 1
        assert await history(database_url) == {MAY_FIFTH.date(): 80}
        assert registry.get_sample_value("pruned_total") == 1
        assert await pruning.run_once(MAY_FIFTH + dt.timedelta(days=30)) == 0

        # A purchase later than the retention is capped as if its day had used nothing; one
        # within it still by what its day used.
        (late,) = await campaign.ingest(
            batch("d", [("d1", "al", 5_000, APRIL_FIRST), ("d2", "al", 5_000, MAY_FIFTH)])
        )
        assert list(late.points) == [50, 20]


async def test_the_service_prunes_on_its_interval(start_service, database_url) -> None:
    async with ledger_and_campaign(
        start_service, cap_history_retention_days=30, cap_history_pruning_interval_ms=100
    ) as (_, campaign):
        await campaign.live(DAY_CAPPED)
        await campaign.ingest(
            batch("a", [("a1", "al", 10_000, APRIL_FIRST)]),
            batch("b", [("b1", "al", 8_000, MAY_FIFTH)]),
        )
        registry = campaign.service.runtime.metrics.registry
        metric = "loyalty_campaign_cap_history_pruned_rows_total"

        async def pruned() -> float | None:
            return registry.get_sample_value(metric)

        # Both days are more than 30 days before today: the job empties the history.
        assert await eventually(pruned, 1.0) == 1.0
        assert await history(database_url) == {}


@pytest.mark.parametrize("days", ["-1", "36501"])
def test_a_retention_out_of_range_is_refused(days: str) -> None:
    environ = {
        "CAMPAIGN_DATABASE_URL": "postgresql://x",
        "CAMPAIGN_NATS_URL": "nats://x",
        "CAMPAIGN_CAP_HISTORY_RETENTION_DAYS": days,
    }
    with pytest.raises(ConfigError, match=r"must be 0 \(keep for ever\) to 36500") as error:
        load_config(CampaignConfig, prefix="CAMPAIGN", environ=environ)
    assert error.value.variable == "CAMPAIGN_CAP_HISTORY_RETENTION_DAYS"
