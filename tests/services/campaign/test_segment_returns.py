"""Segment windows take a return with its purchase. A return was counted when it happened: a
purchase of 40 days ago returned 10 days ago took its spend out of the last 30 days, where it
never was (a window's spend went below zero), and a purchase returned in full still counted as
a purchase for frequency and recency. Now a return takes the purchase's spend out of the windows
the purchase is in, and a purchase returned in full is no purchase; the refresh job's
incremental evaluation and a full computation agree (found by the learn-loop audit)."""

import datetime as dt

from loyalty.campaign.v1 import campaign_pb2, segments_pb2
from tests.services.campaign.insight_support import (
    compute,
    create_segment,
    eventually,
    segment,
    segments_of,
)
from tests.services.campaign.support import batch, earning, eur, ledger_and_campaign, rate

RETURN = campaign_pb2.TRANSACTION_KIND_RETURN

SEGMENTS = {
    # At least 40.00 EUR in the last 30 days.
    "spent-30": segments_pb2.SegmentCondition(
        monetary=segments_pb2.MonetaryCondition(window_days=30, spend_min=eur(4_000))
    ),
    # At least two purchases in the last 90 days.
    "regulars": segments_pb2.SegmentCondition(
        frequency=segments_pb2.FrequencyCondition(window_days=90, purchases_min=2)
    ),
    # A purchase in the last 30 days.
    "active": segments_pb2.SegmentCondition(
        recency=segments_pb2.RecencyCondition(days_since_purchase_max=30)
    ),
}
EXPECTED = {
    # 100.00 bought 40 days ago and returned 10 days ago, 50.00 bought 5 days ago: 50.00 in
    # the last 30 days (it read -50.00), one purchase that stands in 90 days.
    "ret": ["active", "spent-30"],
    # The same without the return.
    "kept": ["active", "regulars", "spent-30"],
    # Bought once 10 days ago and returned it all: no purchase.
    "gone": [],
}


async def test_a_return_counts_with_its_purchase_in_segment_windows(start_service) -> None:
    async with ledger_and_campaign(start_service, segments_interval_ms=200) as (_, campaign):
        await campaign.live(earning("base", rate=rate(1, 100)))
        for segment_id, condition in SEGMENTS.items():
            await create_segment(campaign, segment(segment_id, condition))
        now = dt.datetime.now(dt.UTC)

        def ago(days: int) -> dt.datetime:
            return now - dt.timedelta(days=days)

        await campaign.ingest(
            batch(
                "purchases",
                [
                    ("r1", "ret", 10_000, ago(40)),
                    ("r2", "ret", 5_000, ago(5)),
                    ("k1", "kept", 10_000, ago(40)),
                    ("k2", "kept", 5_000, ago(5)),
                    ("g1", "gone", 6_000, ago(10)),
                ],
            )
        )
        await campaign.ingest(
            batch(
                "returns",
                [("r1-back", "ret", 10_000, ago(10)), ("g1-back", "gone", 6_000, ago(5))],
                kinds=[RETURN, RETURN],
                original_transaction_ids=["r1", "g1"],
            )
        )

        async def memberships() -> dict[str, list[str]]:
            return {member: sorted(await segments_of(campaign, member)) for member in EXPECTED}

        # The refresh job re-evaluates the members the purchases and returns marked.
        assert await eventually(memberships, EXPECTED) == EXPECTED
        # A full computation agrees.
        for segment_id in SEGMENTS:
            await compute(campaign, segment_id)
        assert await memberships() == EXPECTED
