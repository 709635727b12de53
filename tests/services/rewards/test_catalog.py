"""Reward creation through real gRPC and PostgreSQL."""

import grpc
import pytest

from loyalty.common.v1 import common_pb2
from loyalty.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from services.rewards.app import SPEC, RewardsConfig


@pytest.fixture
async def rewards(start_service):
    async with start_service(SPEC, RewardsConfig) as (_, channel):
        yield rewards_pb2_grpc.RewardsServiceStub(channel)


def coupon(**fields) -> rewards_pb2.Reward:
    reward = rewards_pb2.Reward(
        name="Free coffee",
        kind=common_pb2.REWARD_KIND_COUPON,
        points_price=450,
        discount=rewards_pb2.Discount(percent_bps=10_000),
        stock=rewards_pb2.Stock(available=10),
    )
    for field, value in fields.items():
        if isinstance(value, rewards_pb2.Discount | rewards_pb2.Stock):
            getattr(reward, field).CopyFrom(value)
        else:
            setattr(reward, field, value)
    return reward


async def create(stub, reward, key: str = "k1"):
    return await stub.CreateReward(
        rewards_pb2.CreateRewardRequest(program_id="acme", idempotency_key=key, reward=reward)
    )


async def test_a_created_reward_reads_back_as_a_draft_with_its_stock(rewards) -> None:
    created = (await create(rewards, coupon())).reward
    assert created.reward_id and created.status == rewards_pb2.REWARD_STATUS_DRAFT
    assert created.stock == rewards_pb2.Stock(available=10)
    read = (
        await rewards.GetReward(
            rewards_pb2.GetRewardRequest(program_id="acme", reward_id=created.reward_id)
        )
    ).reward
    assert read == created


async def test_a_retry_returns_the_same_generated_id(rewards) -> None:
    first = (await create(rewards, coupon())).reward
    assert (await create(rewards, coupon())).reward.reward_id == first.reward_id


async def test_a_taken_reward_id_is_already_exists(rewards) -> None:
    await create(rewards, coupon(reward_id="coffee"))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await create(rewards, coupon(reward_id="coffee"), key="k2")
    assert error.value.code() == grpc.StatusCode.ALREADY_EXISTS


@pytest.mark.parametrize(
    ("reward", "field"),
    [
        (coupon(points_price=0), "reward.points_price"),
        (coupon(name=""), "reward.name"),
        (coupon(kind=common_pb2.REWARD_KIND_UNSPECIFIED), "reward.kind"),
        (coupon(discount=rewards_pb2.Discount(percent_bps=20_000)), "reward.discount.percent_bps"),
        (
            coupon(kind=common_pb2.REWARD_KIND_PRODUCT, discount=rewards_pb2.Discount()),
            "reward.sku",
        ),
        (coupon(stock=rewards_pb2.Stock(available=-1)), "reward.stock.available"),
        (coupon(status=rewards_pb2.REWARD_STATUS_ARCHIVED), "reward.status"),
    ],
)
async def test_bad_rewards_name_the_field(rewards, reward, field) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await create(rewards, reward)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith(f"{field}:")


async def test_an_unknown_reward_is_not_found(rewards) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await rewards.GetReward(rewards_pb2.GetRewardRequest(program_id="acme", reward_id="nope"))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
