"""One real call into each service that reaches its database, shared by the platform tests."""

import uuid

from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc, engagement_pb2
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from loyalty.rewards.v1 import rewards_pb2, rewards_pb2_grpc


def program(program_id: str) -> identity_pb2.Program:
    return identity_pb2.Program(
        program_id=program_id,
        name=f"Program {program_id}",
        points_name="points",
        currency="EUR",
        time_zone="Europe/Amsterdam",
        entry_tier_code="member",
        default_locale="nl-NL",
    )


async def create_program(channel, program_id: str) -> identity_pb2.CreateProgramResponse:
    return await identity_pb2_grpc.IdentityServiceStub(channel).CreateProgram(
        identity_pb2.CreateProgramRequest(
            program_id=program_id,
            idempotency_key=f"create-{program_id}",
            program=program(program_id),
        ),
        timeout=30,
    )


async def identity_roundtrip(channel, program_id: str) -> str:
    await create_program(channel, program_id)
    read = await identity_pb2_grpc.IdentityServiceStub(channel).GetProgram(
        identity_pb2.GetProgramRequest(program_id=program_id)
    )
    return read.program.time_zone


async def ledger_roundtrip(channel, program_id: str) -> str:
    stub = ledger_pb2_grpc.LedgerServiceStub(channel)
    config = ledger_pb2.ProgramConfig(
        program_id=program_id,
        points_name="points",
        currency="EUR",
        time_zone="Europe/Amsterdam",
        return_window_days=14,
        expiry_policy=ledger_pb2.ExpiryPolicy(kind=ledger_pb2.EXPIRY_KIND_NEVER),
        negative_balance_policy=ledger_pb2.NEGATIVE_BALANCE_POLICY_RECORD_DEBT,
        hold_ttl_seconds=600,
        tier_window=ledger_pb2.TierWindow(
            kind=ledger_pb2.TIER_WINDOW_KIND_CALENDAR_YEAR,
            requalification_period=ledger_pb2.CALENDAR_PERIOD_YEAR,
        ),
        qualifying_basis=ledger_pb2.QUALIFYING_BASIS_POINTS,
        rounding_mode=common_pb2.ROUNDING_MODE_FLOOR,
        entry_tier_code="member",
    )
    await stub.ConfigureProgram(
        ledger_pb2.ConfigureProgramRequest(
            program_id=program_id, idempotency_key="c1", config=config
        )
    )
    read = await stub.GetProgram(ledger_pb2.GetProgramRequest(program_id=program_id))
    return read.config.currency


async def campaign_roundtrip(channel, program_id: str) -> int:
    stub = campaign_pb2_grpc.CampaignServiceStub(channel)
    config = engagement_pb2.RecognitionConfig(birthday_bonus_points=250)
    await stub.ConfigureRecognition(
        campaign_pb2.ConfigureRecognitionRequest(
            program_id=program_id, idempotency_key="r1", config=config
        )
    )
    read = await stub.GetRecognition(campaign_pb2.GetRecognitionRequest(program_id=program_id))
    return read.config.birthday_bonus_points


async def rewards_roundtrip(channel, program_id: str) -> int:
    stub = rewards_pb2_grpc.RewardsServiceStub(channel)
    reward = rewards_pb2.Reward(
        reward_id="coffee",
        name="Free coffee",
        kind=common_pb2.REWARD_KIND_COUPON,
        points_price=500,
        discount=rewards_pb2.Discount(percent_bps=10_000),
        stock=rewards_pb2.Stock(available=100),
    )
    await stub.CreateReward(
        rewards_pb2.CreateRewardRequest(
            program_id=program_id, idempotency_key=uuid.uuid4().hex, reward=reward
        )
    )
    read = await stub.GetReward(
        rewards_pb2.GetRewardRequest(program_id=program_id, reward_id="coffee")
    )
    return read.reward.stock.available
