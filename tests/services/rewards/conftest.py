"""Ledger and rewards started in-process on the test's database and namespace, with a program."""

import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest

from deploy.local.servers import free_port
from loyalty.campaign.v1 import campaign_pb2_grpc
from loyalty.common.v1 import common_pb2
from loyalty.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from services.campaign.app import SPEC as CAMPAIGN_SPEC
from services.campaign.app import CampaignConfig
from services.ledger.app import SPEC as LEDGER_SPEC
from services.ledger.app import LedgerConfig
from services.rewards.app import SPEC as REWARDS_SPEC
from services.rewards.app import RewardsConfig
from services.shared.server import RunningService
from tests.services.ledger.support import Ledger

PROGRAM = "acme"
_keys = itertools.count(1)


def key() -> str:
    return f"rk{next(_keys)}"


def reward(**fields) -> rewards_pb2.Reward:
    """An active coupon of 500 points with 10 in stock, changed by `fields`."""
    made = rewards_pb2.Reward(
        name="Free coffee",
        kind=common_pb2.REWARD_KIND_COUPON,
        points_price=500,
        discount=rewards_pb2.Discount(percent_bps=10_000),
        stock=rewards_pb2.Stock(available=10),
        status=rewards_pb2.REWARD_STATUS_ACTIVE,
    )
    for field, value in fields.items():
        if hasattr(value, "DESCRIPTOR"):
            getattr(made, field).CopyFrom(value)
        elif isinstance(value, list):
            getattr(made, field).extend(value)
        else:
            setattr(made, field, value)
    return made


def redeem_request(
    member: str, reward_id: str, *, quantity: int = 1, idempotency_key: str = ""
) -> rewards_pb2.RedeemRequest:
    """A redemption in the app, under a fresh idempotency key unless one is given."""
    return rewards_pb2.RedeemRequest(
        program_id=PROGRAM,
        idempotency_key=idempotency_key or key(),
        member_id=member,
        reward_id=reward_id,
        quantity=quantity,
        channel=common_pb2.CHANNEL_APP,
    )


@dataclass
class Platform:
    """The ledger and rewards of one test, with small helpers for readable tests."""

    ledger: Ledger
    rewards: rewards_pb2_grpc.RewardsServiceStub
    rewards_service: RunningService

    async def create(self, made: rewards_pb2.Reward) -> rewards_pb2.Reward:
        response = await self.rewards.CreateReward(
            rewards_pb2.CreateRewardRequest(program_id=PROGRAM, idempotency_key=key(), reward=made)
        )
        return response.reward

    async def import_codes(  # type: ignore[no-untyped-def]
        self, reward_id: str, codes: list[str], *, idempotency_key: str = "", **fields
    ) -> rewards_pb2.ImportPartnerCodesResponse:
        """Partner codes into the reward's pool (expires_at=..., as ImportPartnerCodes takes)."""
        return await self.rewards.ImportPartnerCodes(
            rewards_pb2.ImportPartnerCodesRequest(
                program_id=PROGRAM,
                idempotency_key=idempotency_key or key(),
                reward_id=reward_id,
                codes=codes,
                **fields,
            )
        )

    async def redeem(
        self, member: str, reward_id: str, *, quantity: int = 1, idempotency_key: str = ""
    ) -> rewards_pb2.Redemption:
        response = await self.rewards.Redeem(
            redeem_request(member, reward_id, quantity=quantity, idempotency_key=idempotency_key)
        )
        return response.redemption

    async def get_reward(self, reward_id: str) -> rewards_pb2.Reward:
        response = await self.rewards.GetReward(
            rewards_pb2.GetRewardRequest(program_id=PROGRAM, reward_id=reward_id)
        )
        return response.reward

    async def get_redemption(self, redemption_id: str) -> rewards_pb2.Redemption:
        response = await self.rewards.GetRedemption(
            rewards_pb2.GetRedemptionRequest(program_id=PROGRAM, redemption_id=redemption_id)
        )
        return response.redemption

    async def cancel(self, redemption_id: str, *, idempotency_key: str = ""):
        return await self.rewards.CancelRedemption(
            rewards_pb2.CancelRedemptionRequest(
                program_id=PROGRAM,
                idempotency_key=idempotency_key or key(),
                redemption_id=redemption_id,
                reason="changed my mind",
                operator_id="desk-1",
            )
        )

    async def use(self, code: str, *, store_id: str = "s1", idempotency_key: str = ""):
        return await self.rewards.UseCode(
            rewards_pb2.UseCodeRequest(
                program_id=PROGRAM,
                idempotency_key=idempotency_key or key(),
                code=code,
                store_id=store_id,
                till_id="till-1",
                transaction_id="t-1",
            )
        )

    async def validate(self, code: str, *, store_id: str = "s1"):
        return await self.rewards.ValidateCode(
            rewards_pb2.ValidateCodeRequest(program_id=PROGRAM, code=code, store_id=store_id)
        )


@pytest.fixture
def rewards_overrides(request) -> dict[str, object]:
    """Extra RewardsConfig fields: parametrize with `indirect=["rewards_overrides"]`."""
    return getattr(request, "param", {})


@pytest.fixture
async def platform(start_service, rewards_overrides) -> AsyncIterator[Platform]:
    async with start_service(LEDGER_SPEC, LedgerConfig) as (ledger_service, ledger_channel):
        ledger = Ledger(ledger_channel)
        await ledger.setup()
        ledger_address = f"127.0.0.1:{ledger_service.port}"
        async with start_service(
            REWARDS_SPEC,
            RewardsConfig,
            ledger_address=ledger_address,
            campaign_address=f"127.0.0.1:{free_port()}",
            **rewards_overrides,
        ) as (service, channel):
            yield Platform(ledger, rewards_pb2_grpc.RewardsServiceStub(channel), service)


def reason(error: grpc.aio.AioRpcError) -> str:
    for name, value in error.trailing_metadata() or ():
        if name == "loyalty-error-reason":
            return value
    return ""


@contextlib.asynccontextmanager
async def with_campaign(
    start_service, rewards_config: dict[str, object] | None = None, **campaign_config: object
) -> AsyncIterator[
    tuple[Ledger, campaign_pb2_grpc.CampaignServiceStub, rewards_pb2_grpc.RewardsServiceStub]
]:
    """The ledger (with the program), campaign and rewards asking campaign, as real services;
    `rewards_config` sets RewardsConfig fields (a pause under a redemption)."""
    async with start_service(LEDGER_SPEC, LedgerConfig, jobs_enabled=False) as (
        ledger_service,
        ledger_channel,
    ):
        ledger = Ledger(ledger_channel, PROGRAM)
        await ledger.setup()
        ledger_address = f"127.0.0.1:{ledger_service.port}"
        async with (
            start_service(
                CAMPAIGN_SPEC,
                CampaignConfig,
                ledger_address=ledger_address,
                recognition_enabled=False,
                **campaign_config,
            ) as (campaign_service, campaign_channel),
            start_service(
                REWARDS_SPEC,
                RewardsConfig,
                ledger_address=ledger_address,
                campaign_address=f"127.0.0.1:{campaign_service.port}",
                **(rewards_config or {}),
            ) as (_, rewards_channel),
        ):
            yield (
                ledger,
                campaign_pb2_grpc.CampaignServiceStub(campaign_channel),
                rewards_pb2_grpc.RewardsServiceStub(rewards_channel),
            )
