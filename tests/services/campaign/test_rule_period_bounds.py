"""A rule's start and end against purchases to the microsecond, through RecordPurchase and
IngestTransactions, on the real ledger and campaign."""

import datetime as dt

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tests.services.campaign.support import batch, earning, ledger_and_campaign, rate, ts

START = dt.datetime(2026, 6, 1, 10, 0, 0, 500_000, tzinfo=dt.UTC)
END = dt.datetime(2026, 6, 2, 10, 0, 0, 500_000, tzinfo=dt.UTC)
MICROSECOND = dt.timedelta(microseconds=1)
# (purchase time, points at 1 point per euro on 100 euros)
PURCHASES = [
    (START - dt.timedelta(milliseconds=300), 0),  # the second the rule starts in, before it
    (START - MICROSECOND, 0),
    (START, 100),
    (END - MICROSECOND, 100),
    (END - dt.timedelta(milliseconds=100), 100),  # the second the rule ends in, before it
    (END, 0),
]


@pytest.mark.parametrize("path", ["record_purchase", "ingest"])
async def test_a_rule_is_in_force_from_its_start_to_its_end_to_the_microsecond(
    start_service, path: str
) -> None:
    """Purchases were compared with the rule's bounds in whole seconds: one 0.3 s before a start
    at 10:00:00.5 earned, and one 0.1 s before an end at 10:00:00.5 did not."""
    async with ledger_and_campaign(start_service) as (_, campaign):
        rule = earning("promo", rate=rate())
        rule.start_time.CopyFrom(ts(START))
        rule.end_time.CopyFrom(ts(END))
        await campaign.live(rule)
        if path == "record_purchase":
            points = [
                (await campaign.purchase(f"m{i}", f"t{i}", 10_000, at=at)).accrual.points
                for i, (at, _) in enumerate(PURCHASES)
            ]
        else:
            rows = [(f"t{i}", f"m{i}", 10_000, at) for i, (at, _) in enumerate(PURCHASES)]
            [answer] = await campaign.ingest(batch("b1", rows))
            points = list(answer.points)
        assert points == [expected for _, expected in PURCHASES]


async def test_a_bound_between_two_microseconds_rounds_up(start_service) -> None:
    async with ledger_and_campaign(start_service) as (_, campaign):
        rule = earning("promo", rate=rate())
        start = ts(START)
        rule.start_time.CopyFrom(Timestamp(seconds=start.seconds, nanos=start.nanos + 1))
        await campaign.live(rule)
        before = await campaign.purchase("ann", "t1", 10_000, at=START)
        after = await campaign.purchase("bob", "t2", 10_000, at=START + MICROSECOND)
        assert (before.accrual.points, after.accrual.points) == (0, 100)
