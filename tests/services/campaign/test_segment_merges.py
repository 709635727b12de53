"""Segments after a merge: the survivor's recency, frequency, spend and engagement include what
the member merged into it did before the merge (a plastic-card customer who later installs the
app is one person). They counted only the survivor's own purchases and activities, so the
survivor of a big spender's card fell out of "spent 250 EUR in 90 days" at the merge (found by
the learn-loop audit)."""

import datetime as dt

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2, segments_pb2
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from tests.services.campaign.insight_support import (
    compute,
    create_segment,
    eventually,
    publish,
    segment,
    segments_of,
)
from tests.services.campaign.support import (
    PROGRAM,
    batch,
    earning,
    eur,
    key,
    ledger_and_campaign,
    rate,
)

REVIEW = common_pb2.ACTIVITY_KIND_REVIEW


def spent(days: int, spend_min: int) -> segments_pb2.SegmentCondition:
    return segments_pb2.SegmentCondition(
        monetary=segments_pb2.MonetaryCondition(window_days=days, spend_min=eur(spend_min))
    )


def bought(days: int, purchases_min: int) -> segments_pb2.SegmentCondition:
    return segments_pb2.SegmentCondition(
        frequency=segments_pb2.FrequencyCondition(window_days=days, purchases_min=purchases_min)
    )


def lapsed(days_min: int) -> segments_pb2.SegmentCondition:
    return segments_pb2.SegmentCondition(
        recency=segments_pb2.RecencyCondition(days_since_purchase_min=days_min)
    )


def reviewed(days: int, activities_min: int) -> segments_pb2.SegmentCondition:
    return segments_pb2.SegmentCondition(
        engagement=segments_pb2.EngagementCondition(
            window_days=days, activity_kind=REVIEW, activities_min=activities_min
        )
    )


SEGMENTS = {
    "big-spenders": spent(90, 25_000),
    "regulars": bought(90, 3),
    # The survivor bought yesterday (the card 40 days ago): it has not lapsed.
    "lapsed": lapsed(30),
    "reviewers": reviewed(90, 2),
}


async def test_the_survivor_of_a_merge_is_measured_with_the_merged_member_s_history(
    start_service, servers, nats_namespace
) -> None:
    async with ledger_and_campaign(start_service, segments_interval_ms=200) as (_, campaign):
        await campaign.live(earning("base", rate=rate(1, 100)))
        for segment_id, condition in SEGMENTS.items():
            await create_segment(campaign, segment(segment_id, condition))
        now = dt.datetime.now(dt.UTC)
        await campaign.ingest(
            batch(
                "history",
                [
                    ("c1", "card", 20_000, now - dt.timedelta(days=40)),
                    ("c2", "card", 5_000, now - dt.timedelta(days=20)),
                    ("a1", "app", 1_000, now - dt.timedelta(days=1)),
                ],
            )
        )
        for member in ("card", "app"):
            await campaign.stub.RecordActivity(
                campaign_pb2.RecordActivityRequest(
                    program_id=PROGRAM,
                    idempotency_key=key(),
                    activity=engagement_pb2.Activity(
                        activity_id=f"review-{member}",
                        member_id=member,
                        kind=REVIEW,
                        channel=common_pb2.CHANNEL_WEBSHOP,
                    ),
                )
            )
        for segment_id in SEGMENTS:
            await compute(campaign, segment_id)
        assert await segments_of(campaign, "card") == ["big-spenders"]
        assert await segments_of(campaign, "app") == []

        await publish(
            servers.nats_url,
            nats_namespace,
            "identity.member_merged",
            events_pb2.Event(
                member_merged=events_pb2.MemberMerged(
                    survivor_member_id="app", merged_member_id="card"
                )
            ),
        )
        expected = ["big-spenders", "regulars", "reviewers"]

        async def survivor() -> list[str]:
            return sorted(await segments_of(campaign, "app"))

        # The refresh job re-evaluates the survivor the merge marked.
        assert await eventually(survivor, expected) == expected
        assert await segments_of(campaign, "card") == []
        # A full computation agrees.
        for segment_id in SEGMENTS:
            await compute(campaign, segment_id)
        assert await survivor() == expected
        counts = {
            segment_id: (
                await campaign.stub.GetSegment(
                    campaign_pb2.GetSegmentRequest(program_id=PROGRAM, segment_id=segment_id)
                )
            ).segment.member_count
            for segment_id in SEGMENTS
        }
        assert counts == {"big-spenders": 1, "regulars": 1, "lapsed": 0, "reviewers": 1}


async def test_a_return_of_a_merged_member_s_purchase_re_evaluates_its_survivor(
    start_service, servers, nats_namespace
) -> None:
    """A return is marked for the member whose segments it changes: the survivor, when the
    purchase's member was merged away (the merged member itself is in no segment). It marked the
    merged member, which re-evaluation skips, so the survivor stayed a big spender."""
    async with ledger_and_campaign(start_service, segments_interval_ms=200) as (_, campaign):
        await campaign.live(earning("base", rate=rate(1, 100)))
        await create_segment(campaign, segment("big-spenders", SEGMENTS["big-spenders"]))
        now = dt.datetime.now(dt.UTC)
        await campaign.ingest(
            batch("history", [("c1", "card", 30_000, now - dt.timedelta(days=10))])
        )
        await publish(
            servers.nats_url,
            nats_namespace,
            "identity.member_merged",
            events_pb2.Event(
                member_merged=events_pb2.MemberMerged(
                    survivor_member_id="app", merged_member_id="card"
                )
            ),
        )

        async def survivor() -> list[str]:
            return await segments_of(campaign, "app")

        assert await eventually(survivor, ["big-spenders"]) == ["big-spenders"]
        await campaign.record_return(
            "card", "r1", "c1", at=now - dt.timedelta(days=1), refunded_amount=eur(30_000)
        )
        # The refresh job re-evaluates the survivor the return marked: 0 EUR spent now.
        assert await eventually(survivor, []) == []
