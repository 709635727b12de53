"""What a member token sees of the catalog: only the rewards offered to that member (active, for
its tier and segments, and for its experiment arm); any other reward is not found. API keys keep
reading the whole catalog."""

import asyncio
import datetime as dt

import grpc
import httpx

from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc, experiments_pb2
from loyalty.common.v1 import common_pb2
from loyalty.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from tests.gateway.conftest import PROGRAM, GatewayPlatform, unique
from tests.gateway.test_auth import assert_error

BASE = f"/v1/programs/{PROGRAM}"
MEMBERS_MAX = 24


async def _create_rewards(platform: GatewayPlatform, rewards: list[rewards_pb2.Reward]) -> None:
    async with grpc.aio.insecure_channel(platform.rewards_address) as channel:
        stub = rewards_pb2_grpc.RewardsServiceStub(channel)
        for reward in rewards:
            await stub.CreateReward(
                rewards_pb2.CreateRewardRequest(
                    program_id=PROGRAM, idempotency_key=unique("reward"), reward=reward
                )
            )


def coupon(reward_id: str, **fields: object) -> rewards_pb2.Reward:
    """An active coupon of 100 points, changed by `fields`."""
    values: dict[str, object] = {
        "reward_id": reward_id,
        "name": reward_id,
        "kind": common_pb2.REWARD_KIND_COUPON,
        "points_price": 100,
        "discount": rewards_pb2.Discount(percent_bps=1_000),
        "stock": rewards_pb2.Stock(unlimited=True),
        "status": rewards_pb2.REWARD_STATUS_ACTIVE,
    }
    return rewards_pb2.Reward(**(values | fields))  # type: ignore[arg-type]


async def _arms(platform: GatewayPlatform, offer_id: str, members: list[str]) -> dict[str, str]:
    """An experiment whose treatment arm is offered `offer_id`; each member's arm."""
    experiment = experiments_pb2.Experiment(
        experiment_id=unique("offer-test"),
        name="Does an offer bring members back?",
        arms=[
            experiments_pb2.ExperimentArm(arm_code="control", allocation_bps=5_000, control=True),
            experiments_pb2.ExperimentArm(
                arm_code="offer", allocation_bps=5_000, reward_ids=[offer_id]
            ),
        ],
    )
    experiment.start_time.FromDatetime(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    async with grpc.aio.insecure_channel(platform.campaign_address) as channel:
        stub = campaign_pb2_grpc.CampaignServiceStub(channel)
        await stub.CreateExperiment(
            campaign_pb2.CreateExperimentRequest(
                program_id=PROGRAM, idempotency_key=unique("experiment"), experiment=experiment
            )
        )
        arms = {}
        for member_id in members:
            assignment = await stub.GetExperimentAssignment(
                campaign_pb2.GetExperimentAssignmentRequest(
                    program_id=PROGRAM,
                    experiment_id=experiment.experiment_id,
                    member_id=member_id,
                )
            )
            arms[member_id] = assignment.arm_code
    return arms


def _listed(client: httpx.Client) -> set[str]:
    response = client.get(f"{BASE}/rewards", params={"page_size": 200})
    assert response.status_code == 200, response.text
    return {listing["reward"]["reward_id"] for listing in response.json()["rewards"]}


def test_a_member_sees_only_the_rewards_offered_to_it(
    platform: GatewayPlatform, admin: httpx.Client
) -> None:
    offer, gold, draft = unique("arm-offer"), unique("gold-only"), unique("draft")
    asyncio.run(
        _create_rewards(
            platform,
            [
                coupon(offer),
                coupon(gold, eligibility=rewards_pb2.Eligibility(tier_codes=["gold"])),
                coupon(draft, status=rewards_pb2.REWARD_STATUS_DRAFT),
            ],
        )
    )
    members = [platform.enrol() for _ in range(MEMBERS_MAX)]
    arms = asyncio.run(_arms(platform, offer, members))
    control = next(m for m in members if arms[m] == "control")
    treated = next(m for m in members if arms[m] == "offer")

    with platform.client(token=platform.member_token(control)) as client:
        listed = _listed(client)
        assert "free-coffee" in listed and not {offer, gold, draft} & listed
        page = client.get(f"{BASE}/rewards").json()
        # The member's own listing: whether it can afford each, and its points.
        assert page["available_points"] == 0
        assert all(item["affordable"] is False for item in page["rewards"])
        assert client.get(f"{BASE}/rewards/free-coffee").status_code == 200
        for hidden in (offer, gold, draft):
            response = client.get(f"{BASE}/rewards/{hidden}")
            assert_error(response, 404, "REWARD_NOT_FOUND")
            assert response.json()["error"]["field"] == "reward_id"

    with platform.client(token=platform.member_token(treated)) as client:
        assert offer in _listed(client)
        assert client.get(f"{BASE}/rewards/{offer}").json()["reward_id"] == offer

    # An operator's key reads the whole active catalog, and any reward by its id.
    assert {offer, gold} <= _listed(admin) and draft not in _listed(admin)
    assert admin.get(f"{BASE}/rewards/{draft}").json()["status"] == "draft"
    assert admin.get(f"{BASE}/rewards/{gold}").status_code == 200


def test_an_archived_reward_is_not_found_by_a_member(platform: GatewayPlatform) -> None:
    archived = unique("archived")
    asyncio.run(_create_rewards(platform, [coupon(archived)]))

    async def archive() -> None:
        async with grpc.aio.insecure_channel(platform.rewards_address) as channel:
            await rewards_pb2_grpc.RewardsServiceStub(channel).ArchiveReward(
                rewards_pb2.ArchiveRewardRequest(
                    program_id=PROGRAM, idempotency_key=unique("archive"), reward_id=archived
                )
            )

    member_id = platform.enrol()
    with platform.client(token=platform.member_token(member_id)) as client:
        assert client.get(f"{BASE}/rewards/{archived}").status_code == 200
        asyncio.run(archive())
        assert_error(client.get(f"{BASE}/rewards/{archived}"), 404, "REWARD_NOT_FOUND")
