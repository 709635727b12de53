"""Retries of CreateReward and UpdateReward are answered from their record before the request is
checked again: through real gRPC and PostgreSQL, with the ledger up and then out of reach."""

import asyncpg
import grpc
import pytest
from google.protobuf import field_mask_pb2

from deploy.local.servers import free_port
from loyalty.common.v1 import common_pb2
from loyalty.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from services.ledger.app import SPEC as LEDGER_SPEC
from services.ledger.app import LedgerConfig
from services.rewards.app import SPEC as REWARDS_SPEC
from services.rewards.app import RewardsConfig
from services.shared.idempotency import request_hash
from tests.services.ledger.support import Ledger
from tests.services.rewards.conftest import PROGRAM, reason, reward


def money(amount_minor: int, currency: str = "EUR") -> common_pb2.Money:
    return common_pb2.Money(amount_minor=amount_minor, currency=currency)


def reused(error: grpc.aio.AioRpcError) -> bool:
    metadata = tuple(error.trailing_metadata() or ())
    return (
        reason(error) == "IDEMPOTENCY_KEY_REUSED"
        and ("loyalty-error-field", "idempotency_key") in metadata
    )


async def test_a_retry_of_a_reward_stored_before_image_urls_were_checked_is_answered(
    platform, database_url
) -> None:
    first = (
        await platform.rewards.CreateReward(
            rewards_pb2.CreateRewardRequest(
                program_id=PROGRAM, idempotency_key="old", reward=reward(reward_id="coffee")
            )
        )
    ).reward
    # Made as it was before image URLs were checked: one no new reward may have, stored and
    # bound to the key so.
    old = rewards_pb2.CreateRewardRequest(
        program_id=PROGRAM,
        idempotency_key="old",
        reward=reward(reward_id="coffee", image_url="javascript:alert(1)"),
    )
    stored = rewards_pb2.Reward()
    stored.CopyFrom(first)
    stored.image_url = old.reward.image_url
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "UPDATE rewards.idempotency_keys SET request_hash = $1, response = $2 "
            "WHERE idempotency_key = 'old'",
            request_hash(old),
            rewards_pb2.CreateRewardResponse(reward=stored).SerializeToString(),
        )
    finally:
        await connection.close()

    assert (await platform.rewards.CreateReward(old)).reward == stored
    # The key still answers only its own request; a new reward is held to the rule.
    other = rewards_pb2.CreateRewardRequest()
    other.CopyFrom(old)
    other.reward.name = "Free tea"
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.rewards.CreateReward(other)
    assert reused(error.value), error.value.details()
    fresh = rewards_pb2.CreateRewardRequest()
    fresh.CopyFrom(old)
    fresh.idempotency_key = "new"
    fresh.reward.reward_id = "tea"
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.rewards.CreateReward(fresh)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("reward.image_url:")


async def test_a_retry_is_answered_while_the_ledger_is_out_of_reach(start_service) -> None:
    # The discount's money is checked against the program's currency, which the ledger holds.
    create = rewards_pb2.CreateRewardRequest(
        program_id=PROGRAM,
        idempotency_key="create",
        reward=reward(reward_id="five-off", discount=rewards_pb2.Discount(fixed_amount=money(500))),
    )
    update = rewards_pb2.UpdateRewardRequest(
        program_id=PROGRAM,
        idempotency_key="update",
        reward=rewards_pb2.Reward(
            reward_id="five-off", discount=rewards_pb2.Discount(fixed_amount=money(700))
        ),
        update_mask=field_mask_pb2.FieldMask(paths=["discount"]),
    )
    async with start_service(LEDGER_SPEC, LedgerConfig, jobs_enabled=False) as (
        ledger_service,
        ledger_channel,
    ):
        await Ledger(ledger_channel, PROGRAM).setup()
        async with start_service(
            REWARDS_SPEC,
            RewardsConfig,
            ledger_address=f"127.0.0.1:{ledger_service.port}",
            campaign_address=f"127.0.0.1:{free_port()}",
        ) as (_, channel):
            rewards = rewards_pb2_grpc.RewardsServiceStub(channel)
            created = await rewards.CreateReward(create)
            updated = await rewards.UpdateReward(update)
    assert updated.reward.discount.fixed_amount == money(700)

    # The same rewards service with nothing at the ledger's address.
    async with start_service(
        REWARDS_SPEC,
        RewardsConfig,
        ledger_address=f"127.0.0.1:{free_port()}",
        campaign_address=f"127.0.0.1:{free_port()}",
        dependency_deadline_ms=500,
    ) as (_, channel):
        rewards = rewards_pb2_grpc.RewardsServiceStub(channel)
        assert await rewards.CreateReward(create) == created
        assert await rewards.UpdateReward(update) == updated
        # A key used for another request is refused as before, without asking the ledger.
        for method, first in ((rewards.CreateReward, create), (rewards.UpdateReward, update)):
            request = type(first)()
            request.CopyFrom(first)
            request.reward.discount.fixed_amount.amount_minor = 900
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await method(request)
            assert reused(error.value), error.value.details()
        # A request not yet stored needs the ledger.
        create.idempotency_key = "create-again"
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await rewards.CreateReward(create)
        assert error.value.code() == grpc.StatusCode.UNAVAILABLE
        assert reason(error.value) == "LEDGER_UNAVAILABLE"
