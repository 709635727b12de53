"""The demo program `make run` loads: a coffee chain with tiers, recognition and a small catalog.

Every call carries a fixed idempotency key, so loading it again on the next `make run` is a no-op.
"""

import grpc

from deploy.local.cluster import Endpoint
from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc, engagement_pb2
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from loyalty.rewards.v1 import rewards_pb2, rewards_pb2_grpc

PROGRAM_ID = "demo-coffee"
TIME_ZONE = "Europe/Amsterdam"

TIERS = [
    ledger_pb2.TierDefinition(
        code="green",
        name="Green",
        rank=0,
        threshold=0,
        multiplier_bps=10_000,
        benefits_text="Earn 10 beans per euro.",
    ),
    ledger_pb2.TierDefinition(
        code="silver",
        name="Silver",
        rank=1,
        threshold=1_500,
        multiplier_bps=12_500,
        benefits_text="25% more beans and a birthday drink.",
    ),
    ledger_pb2.TierDefinition(
        code="gold",
        name="Gold",
        rank=2,
        threshold=5_000,
        multiplier_bps=15_000,
        benefits_text="50% more beans, free refills and early access to seasonal drinks.",
    ),
]

REWARDS = [
    rewards_pb2.Reward(
        reward_id="free-coffee",
        name="Free coffee of your choice",
        kind=common_pb2.REWARD_KIND_COUPON,
        points_price=450,
        discount=rewards_pb2.Discount(percent_bps=10_000),
        stock=rewards_pb2.Stock(unlimited=True),
        status=rewards_pb2.REWARD_STATUS_ACTIVE,
    ),
    rewards_pb2.Reward(
        reward_id="five-euro-voucher",
        name="EUR 5 voucher",
        kind=common_pb2.REWARD_KIND_VOUCHER,
        points_price=900,
        discount=rewards_pb2.Discount(
            fixed_amount=common_pb2.Money(amount_minor=500, currency="EUR")
        ),
        stock=rewards_pb2.Stock(unlimited=True),
        status=rewards_pb2.REWARD_STATUS_ACTIVE,
    ),
    rewards_pb2.Reward(
        reward_id="tote-bag",
        name="Canvas tote bag",
        kind=common_pb2.REWARD_KIND_PRODUCT,
        sku="TOTE-01",
        points_price=2_500,
        stock=rewards_pb2.Stock(available=50),
        per_member_limit=1,
        status=rewards_pb2.REWARD_STATUS_ACTIVE,
    ),
]


async def load_demo_program(endpoints: dict[str, Endpoint]) -> dict[str, str]:
    """Create the demo program in every service; returns what to print about it."""
    async with (
        grpc.aio.insecure_channel(endpoints["identity"].grpc_address) as identity_channel,
        grpc.aio.insecure_channel(endpoints["ledger"].grpc_address) as ledger_channel,
        grpc.aio.insecure_channel(endpoints["campaign"].grpc_address) as campaign_channel,
        grpc.aio.insecure_channel(endpoints["rewards"].grpc_address) as rewards_channel,
    ):
        identity = identity_pb2_grpc.IdentityServiceStub(identity_channel)
        program = identity_pb2.Program(
            program_id=PROGRAM_ID,
            name="Demo Coffee Club",
            points_name="beans",
            currency="EUR",
            time_zone=TIME_ZONE,
            entry_tier_code="green",
            default_locale="nl-NL",
        )
        try:
            await identity.CreateProgram(
                identity_pb2.CreateProgramRequest(
                    program_id=PROGRAM_ID, idempotency_key="demo-program", program=program
                )
            )
        except grpc.aio.AioRpcError as error:
            # Created by an earlier run under another key, e.g. after an edit of this file.
            if error.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise

        ledger = ledger_pb2_grpc.LedgerServiceStub(ledger_channel)
        await ledger.ConfigureProgram(
            ledger_pb2.ConfigureProgramRequest(
                program_id=PROGRAM_ID,
                idempotency_key="demo-ledger-config",
                config=ledger_pb2.ProgramConfig(
                    program_id=PROGRAM_ID,
                    points_name="beans",
                    currency="EUR",
                    time_zone=TIME_ZONE,
                    return_window_days=14,
                    expiry_policy=ledger_pb2.ExpiryPolicy(
                        kind=ledger_pb2.EXPIRY_KIND_ROLLING_MONTHS, months=12
                    ),
                    negative_balance_policy=ledger_pb2.NEGATIVE_BALANCE_POLICY_RECORD_DEBT,
                    hold_ttl_seconds=900,
                    tier_window=ledger_pb2.TierWindow(
                        kind=ledger_pb2.TIER_WINDOW_KIND_ROLLING_DAYS,
                        rolling_days=365,
                        requalification_period=ledger_pb2.CALENDAR_PERIOD_MONTH,
                    ),
                    qualifying_basis=ledger_pb2.QUALIFYING_BASIS_POINTS,
                    rounding_mode=common_pb2.ROUNDING_MODE_HALF_EVEN,
                    expiry_notice_days=30,
                    entry_tier_code="green",
                ),
            )
        )
        await ledger.SetTierDefinitions(
            ledger_pb2.SetTierDefinitionsRequest(
                program_id=PROGRAM_ID, idempotency_key="demo-tiers", tiers=TIERS
            )
        )

        campaign = campaign_pb2_grpc.CampaignServiceStub(campaign_channel)
        await campaign.ConfigureRecognition(
            campaign_pb2.ConfigureRecognitionRequest(
                program_id=PROGRAM_ID,
                idempotency_key="demo-recognition",
                config=engagement_pb2.RecognitionConfig(birthday_bonus_points=250),
            )
        )

        rewards = rewards_pb2_grpc.RewardsServiceStub(rewards_channel)
        for reward in REWARDS:
            try:
                await rewards.CreateReward(
                    rewards_pb2.CreateRewardRequest(
                        program_id=PROGRAM_ID,
                        idempotency_key=f"demo-reward-{reward.reward_id}",
                        reward=reward,
                    )
                )
            except grpc.aio.AioRpcError as error:
                if error.code() != grpc.StatusCode.ALREADY_EXISTS:
                    raise
    return {
        "program": f"{PROGRAM_ID} (Demo Coffee Club, beans, EUR, {TIME_ZONE})",
        "tiers": ", ".join(f"{t.name} from {t.threshold}" for t in TIERS),
        "rewards": ", ".join(f"{r.name} ({r.points_price})" for r in REWARDS),
        "try": (
            f'grpcurl -plaintext -d \'{{"program_id":"{PROGRAM_ID}"}}\' '
            f"{endpoints['ledger'].grpc_address} loyalty.ledger.v1.LedgerService/ListTierDefinitions"
        ),
    }
