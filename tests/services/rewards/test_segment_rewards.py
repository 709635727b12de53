"""A reward restricted to a segment, end to end: the ledger, campaign (which keeps the segment)
and rewards (which asks campaign's CheckSegmentMembership) as real services."""

import asyncio
import datetime as dt

import asyncpg
import grpc
import pytest

from loyalty.campaign.v1 import campaign_pb2, segments_pb2
from loyalty.common.v1 import common_pb2
from loyalty.rewards.v1 import rewards_pb2
from tests.services.ledger.support import Ledger
from tests.services.rewards.conftest import (
    PROGRAM,
    key,
    reason,
    redeem_request,
    reward,
    with_campaign,
)


def big_spenders(spend_min: int) -> segments_pb2.Segment:
    """The segment of members who spent `spend_min` (minor units) or more in 30 days."""
    return segments_pb2.Segment(
        segment_id="big_spenders",
        name="Big spenders",
        conditions=[
            segments_pb2.SegmentCondition(
                monetary=segments_pb2.MonetaryCondition(
                    window_days=30,
                    spend_min=common_pb2.Money(amount_minor=spend_min, currency="EUR"),
                )
            )
        ],
    )


async def purchase(campaign, member: str, spend: int) -> None:  # type: ignore[no-untyped-def]
    await campaign.RecordPurchase(
        campaign_pb2.RecordPurchaseRequest(
            program_id=PROGRAM,
            idempotency_key=key(),
            member_id=member,
            transaction_id=f"t-{member}",
            amount=common_pb2.Money(amount_minor=spend, currency="EUR"),
            channel=common_pb2.CHANNEL_POS,
        )
    )


async def big_spenders_reward(rewards) -> str:  # type: ignore[no-untyped-def]
    """A reward only members of big_spenders may redeem; answers its id."""
    created = await rewards.CreateReward(
        rewards_pb2.CreateRewardRequest(
            program_id=PROGRAM,
            idempotency_key=key(),
            reward=reward(eligibility=rewards_pb2.Eligibility(segment_ids=["big_spenders"])),
        )
    )
    return created.reward.reward_id


async def test_only_segment_members_redeem_a_segment_reward(start_service, database_url) -> None:
    async with with_campaign(start_service, segments_interval_ms=200) as (
        ledger,
        campaign,
        rewards,
    ):
        await run(ledger, campaign, rewards, database_url)


async def run(ledger: Ledger, campaign, rewards, database_url: str) -> None:  # type: ignore[no-untyped-def]
    for member, spend in (("rich", 25_000), ("poor", 2_000)):
        await ledger.earn(member, 1_000)
        await purchase(campaign, member, spend)
    await campaign.CreateSegment(
        campaign_pb2.CreateSegmentRequest(
            program_id=PROGRAM, idempotency_key=key(), segment=big_spenders(10_000)
        )
    )
    computed = await campaign.ComputeSegment(
        campaign_pb2.ComputeSegmentRequest(
            program_id=PROGRAM, idempotency_key=key(), segment_id="big_spenders"
        )
    )
    assert computed.member_count == 1
    reward_id = await big_spenders_reward(rewards)

    async def listed(member: str) -> list[str]:
        response = await rewards.ListRewards(
            rewards_pb2.ListRewardsRequest(program_id=PROGRAM, member_id=member)
        )
        return [listing.reward.reward_id for listing in response.listings]

    assert await listed("rich") == [reward_id]
    assert await listed("poor") == []
    redeemed = await rewards.Redeem(redeem_request("rich", reward_id))
    assert redeemed.redemption.points_spent == 500
    assert (await ledger.balance("rich")).available_points == 500
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await rewards.Redeem(redeem_request("poor", reward_id))
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(error.value) == "NOT_ELIGIBLE"
    assert (await ledger.balance("poor")).available_points == 1_000

    # The redemption reaches campaign as rewards' RewardRedeemed event, for experiment reports.
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "campaign"})
    try:
        deadline = dt.datetime.now() + dt.timedelta(seconds=20)
        rows: list[asyncpg.Record] = []
        while not rows and dt.datetime.now() < deadline:
            rows = await connection.fetch(
                "SELECT member_id, points, cancelled FROM member_redemptions WHERE program_id = $1",
                PROGRAM,
            )
            if not rows:
                await asyncio.sleep(0.2)
    finally:
        await connection.close()
    assert [(r["member_id"], r["points"], r["cancelled"]) for r in rows] == [("rich", 500, False)]


async def test_a_member_out_of_the_segment_under_a_redemption_spends_nothing(
    start_service,
) -> None:
    # The member is in the segment when Redeem checks, and out of it (the segment redefined and
    # computed again) while the redemption holds its points: it fails NOT_ELIGIBLE, as a first
    # check would, the hold voided and no stock taken.
    async with with_campaign(
        start_service, rewards_config={"pause_after_hold_ms": 4_000}, segments_interval_ms=200
    ) as (ledger, campaign, rewards):
        await ledger.earn("rich", 1_000)
        await purchase(campaign, "rich", 25_000)

        async def define(spend_min: int) -> None:
            segment = big_spenders(spend_min)
            if spend_min == 10_000:
                await campaign.CreateSegment(
                    campaign_pb2.CreateSegmentRequest(
                        program_id=PROGRAM, idempotency_key=key(), segment=segment
                    )
                )
            else:
                await campaign.UpdateSegment(
                    campaign_pb2.UpdateSegmentRequest(
                        program_id=PROGRAM, idempotency_key=key(), segment=segment
                    )
                )
            await campaign.ComputeSegment(
                campaign_pb2.ComputeSegmentRequest(
                    program_id=PROGRAM, idempotency_key=key(), segment_id="big_spenders"
                )
            )

        await define(10_000)
        reward_id = await big_spenders_reward(rewards)
        redeeming = asyncio.ensure_future(rewards.Redeem(redeem_request("rich", reward_id)))
        for _ in range(200):
            if (await ledger.balance("rich")).held_points:
                break
            await asyncio.sleep(0.02)
        assert (await ledger.balance("rich")).held_points == 500
        await define(50_000)
        members = await campaign.CheckSegmentMembership(
            campaign_pb2.CheckSegmentMembershipRequest(
                program_id=PROGRAM, member_id="rich", segment_ids=["big_spenders"]
            )
        )
        assert list(members.member_segment_ids) == []

        with pytest.raises(grpc.aio.AioRpcError) as error:
            await redeeming
        assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert reason(error.value) == "NOT_ELIGIBLE"
        balance = await ledger.balance("rich")
        assert (balance.available_points, balance.held_points) == (1_000, 0)
        stock = (
            await rewards.GetReward(
                rewards_pb2.GetRewardRequest(program_id=PROGRAM, reward_id=reward_id)
            )
        ).reward.stock
        assert (stock.available, stock.reserved, stock.redeemed) == (10, 0, 0)
