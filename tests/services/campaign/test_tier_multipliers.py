"""Earning rules that take the tiers' own multipliers (apply_tier_multipliers): a tier's
multiplier_bps multiplies such a rule's rate for its members, and only such a rule's. The ledger
and campaign run on real PostgreSQL and JetStream."""

import datetime as dt

import grpc
import pytest

from loyalty.campaign.v1 import campaign_pb2, rules_pb2
from services.campaign.rule_compiler import CompiledRules
from services.campaign.tier_codes import with_tier_multipliers
from tests.services.campaign.insight_support import eventually
from tests.services.campaign.support import PROGRAM, earning, key, ledger_and_campaign, rate
from tests.services.campaign.test_tier_events import tier_of


@pytest.fixture
async def services(start_service):  # type: ignore[no-untyped-def]
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        yield ledger, campaign


async def test_a_rule_taking_the_tiers_multipliers_gives_each_tier_its_own(
    services, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    ledger, campaign = services
    # The ledger's test tiers: member 1x, silver 1.25x, gold 1.5x.
    await ledger.earn("ann", 1_500, qualifying=True)
    await ledger.earn("bob", 6_000, qualifying=True)
    await ledger.earn("cat", 10, qualifying=True)
    # cat stays in the entry tier: no TierChanged for her.
    for member, tier in (("ann", "silver"), ("bob", "gold")):
        assert await eventually(lambda m=member: tier_of(database_url, m), tier) == tier
    await campaign.live(earning("tiered", rate=rate(), apply_tier_multipliers=True))
    await campaign.live(earning("plain", rate=rate()))

    at = dt.datetime.now(dt.UTC)
    for member, tiered in (("ann", 25), ("bob", 30), ("cat", 20)):
        bought = await campaign.purchase(member, f"t-{member}", 2_000, at=at)
        by_rule = {a.rule_id: a.points for a in bought.accrual.applications}
        assert by_rule == {"tiered": tiered, "plain": 20}, member


@pytest.mark.parametrize(
    "fields",
    [
        # Both would apply to silver's members.
        {
            "rate": rate(),
            "multipliers": [rules_pb2.Multiplier(tier_code="silver", multiplier_bps=20_000)],
        },
        {"fixed_bonus_points": 50},  # nothing for a multiplier to multiply
    ],
)
async def test_a_rule_taking_the_tiers_multipliers_has_none_by_tier_and_a_rate(
    services, fields
) -> None:  # type: ignore[no-untyped-def]
    _, campaign = services
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await campaign.stub.CreateRule(
            campaign_pb2.CreateRuleRequest(
                program_id=PROGRAM,
                idempotency_key=key(),
                rule=earning("tiered", apply_tier_multipliers=True, **fields),
            )
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "rule.earning.apply_tier_multipliers" in (refused.value.details() or "")


def test_the_tiers_multipliers_reach_only_rules_taking_them_and_a_change_compiles_again() -> None:
    tiered = earning("tiered", rate=rate(), apply_tier_multipliers=True)
    plain = earning("plain", rate=rate())
    given = (("gold", 15_000), ("silver", 12_500))
    assert with_tier_multipliers(plain, given) is plain
    assert with_tier_multipliers(tiered, ()) is tiered
    applied = with_tier_multipliers(tiered, given)
    assert [(m.tier_code, m.multiplier_bps) for m in applied.earning.multipliers] == list(given)
    assert not tiered.earning.multipliers  # the stored rule is left as it is

    compiled = CompiledRules()
    for multipliers in (given, given, (("gold", 20_000),)):
        compiled.get(
            PROGRAM,
            with_tier_multipliers(tiered, multipliers),
            time_zone="Europe/Amsterdam",
            default_rounding=0,
            tier_multipliers=multipliers,
        )
    assert compiled.compilations == 2
