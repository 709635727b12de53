"""Idempotency keys as every service checks them (services/shared/idempotency.py), through real
services on real PostgreSQL."""

import grpc
import pytest

from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from loyalty.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from services.ledger.app import SPEC as LEDGER_SPEC
from services.ledger.app import LedgerConfig
from services.rewards.app import SPEC as REWARDS_SPEC
from services.rewards.app import RewardsConfig
from tests.services.ledger.support import Ledger


def field(error: grpc.aio.AioRpcError) -> str:
    return dict(error.trailing_metadata() or ()).get("loyalty-error-field", "")


async def test_a_key_holding_nul_is_refused_naming_the_field(start_service) -> None:
    # PostgreSQL cannot store NUL in text: the key is refused before it reaches a statement, by
    # the check a ledger posting makes itself and by the one every `once` makes.
    async with start_service(LEDGER_SPEC, LedgerConfig, jobs_enabled=False) as (_, channel):
        await Ledger(channel).setup()
        ledger = ledger_pb2_grpc.LedgerServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await ledger.Earn(
                ledger_pb2.EarnRequest(
                    program_id="acme", idempotency_key="earn\x00-1", member_id="m1", points=10
                )
            )
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field(error.value) == "idempotency_key"
        assert error.value.details() == "idempotency_key: must not contain NUL characters"

    async with start_service(REWARDS_SPEC, RewardsConfig) as (_, channel):
        rewards = rewards_pb2_grpc.RewardsServiceStub(channel)
        coffee = rewards_pb2.Reward(
            name="Free coffee",
            kind=common_pb2.REWARD_KIND_COUPON,
            points_price=450,
            discount=rewards_pb2.Discount(percent_bps=10_000),
            stock=rewards_pb2.Stock(available=10),
        )
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await rewards.CreateReward(
                rewards_pb2.CreateRewardRequest(
                    program_id="acme", idempotency_key="\x00", reward=coffee
                )
            )
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field(error.value) == "idempotency_key"
