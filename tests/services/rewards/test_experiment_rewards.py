"""A reward named by an experiment arm, end to end: offered to that arm's members only while the
experiment runs, to everyone once it has ended. The ledger, campaign (which assigns the arms and
answers CheckRewardTargeting) and rewards as real services."""

import datetime as dt

import grpc
import pytest

from loyalty.campaign.v1 import campaign_pb2, experiments_pb2
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

MEMBERS = [f"m{index}" for index in range(24)]


async def test_an_arm_s_offer_is_for_its_members_until_the_experiment_ends(
    start_service,
) -> None:
    async with with_campaign(start_service) as (ledger, campaign, rewards):
        await run(ledger, campaign, rewards)


async def run(ledger: Ledger, campaign, rewards) -> None:  # type: ignore[no-untyped-def]
    for member in MEMBERS:
        await ledger.earn(member, 1_000)

    async def create(name: str) -> str:
        created = await rewards.CreateReward(
            rewards_pb2.CreateRewardRequest(
                program_id=PROGRAM, idempotency_key=key(), reward=reward(name=name)
            )
        )
        return created.reward.reward_id

    offer, everyday = await create("Treatment offer"), await create("Everyday coffee")
    made = experiments_pb2.Experiment(
        experiment_id="coupon-test",
        name="Does a coupon bring members back?",
        arms=[
            experiments_pb2.ExperimentArm(arm_code="control", allocation_bps=5_000, control=True),
            experiments_pb2.ExperimentArm(
                arm_code="coupon", allocation_bps=5_000, reward_ids=[offer]
            ),
        ],
    )
    made.start_time.FromDatetime(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    await campaign.CreateExperiment(
        campaign_pb2.CreateExperimentRequest(
            program_id=PROGRAM, idempotency_key=key(), experiment=made
        )
    )
    arms = {}
    for member in MEMBERS:
        assignment = await campaign.GetExperimentAssignment(
            campaign_pb2.GetExperimentAssignmentRequest(
                program_id=PROGRAM, experiment_id="coupon-test", member_id=member
            )
        )
        arms[member] = assignment.arm_code
    treated = sorted(m for m, arm in arms.items() if arm == "coupon")
    control = sorted(m for m, arm in arms.items() if arm == "control")
    assert treated and control, arms

    async def listed(member: str) -> set[str]:
        response = await rewards.ListRewards(
            rewards_pb2.ListRewardsRequest(program_id=PROGRAM, member_id=member)
        )
        return {listing.reward.reward_id for listing in response.listings}

    async def redeem(member: str, reward_id: str) -> rewards_pb2.RedeemResponse:
        return await rewards.Redeem(redeem_request(member, reward_id))

    for member in MEMBERS:
        expected = {offer, everyday} if member in treated else {everyday}
        assert await listed(member) == expected, (member, arms[member])

    # A control member cannot redeem the arm's offer; nothing is held or spent for trying.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await redeem(control[0], offer)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(refused.value) == "NOT_ELIGIBLE" and "experiment" in refused.value.details()
    balance = await ledger.balance(control[0])
    assert (balance.available_points, balance.held_points) == (1_000, 0)
    assert (await redeem(control[0], everyday)).redemption.points_spent == 500
    assert (await redeem(treated[0], offer)).redemption.points_spent == 500

    # Once the experiment has ended, the offer is the reward's own again: for everyone.
    await campaign.EndExperiment(
        campaign_pb2.EndExperimentRequest(
            program_id=PROGRAM, idempotency_key=key(), experiment_id="coupon-test"
        )
    )
    assert await listed(control[1]) == {offer, everyday}
    assert (await redeem(control[1], offer)).redemption.points_spent == 500
    await ledger.assert_clean()
