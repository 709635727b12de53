"""The catalog and the tier perks follow the ledger's tier renames and removals
(TierDefinitionsChanged): eligibility names the tier the removed code's members went to, perks
of a removed tier join its target's and stay with their members, codes neither defined nor
mapped are listed for operators, and a late older announcement changes nothing. The ledger and
rewards run on real PostgreSQL and JetStream."""

import uuid

import nats

from loyalty.events.v1 import events_pb2
from loyalty.ledger.v1 import ledger_pb2
from loyalty.rewards.v1 import rewards_pb2
from services.rewards.tier_codes import TIER_DEFINITIONS_CONSUMER
from tests.services.ledger.support import key as ledger_key
from tests.services.rewards.conftest import PROGRAM, reward
from tests.services.rewards.test_perks import GRANTED, eventually, member_perks, set_perks
from tests.support.streams import consumed

BASIC = ledger_pb2.TierDefinition(code="basic", name="Basic", rank=0, threshold=0)
PLUS = ledger_pb2.TierDefinition(code="plus", name="Plus", rank=1, threshold=1_000)


def eligible_to(*codes: str) -> rewards_pb2.Reward:
    return reward(eligibility=rewards_pb2.Eligibility(tier_codes=list(codes)))


async def eligibility(platform, reward_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return list((await platform.get_reward(reward_id)).eligibility.tier_codes)


async def undefined_listed(platform) -> list[str]:  # type: ignore[no-untyped-def]
    response = await platform.rewards.ListRewards(
        rewards_pb2.ListRewardsRequest(
            program_id=PROGRAM, include_inactive=True, undefined_tier_codes_only=True
        )
    )
    return sorted(listing.reward.reward_id for listing in response.listings)


async def test_rewards_and_perks_follow_renamed_and_folded_tiers(
    platform, servers, nats_namespace
) -> None:  # type: ignore[no-untyped-def]
    silver_only = await platform.create(eligible_to("silver"))
    gold_and_silver = await platform.create(eligible_to("gold", "silver"))
    bronze = await platform.create(eligible_to("bronze"))  # a tier the ledger never had
    everybody = await platform.create(reward())
    await set_perks(platform, "silver", "lounge")
    await set_perks(platform, "gold", "valet")
    await platform.ledger.earn("ann", 1_500, qualifying=True)  # silver
    await platform.ledger.earn("bob", 6_000, qualifying=True)  # gold

    async def settled():  # type: ignore[no-untyped-def]
        return await member_perks(platform, "ann") == {
            "lounge": ("silver", GRANTED)
        } and await member_perks(platform, "bob") == {"valet": ("gold", GRANTED)}

    await eventually(settled)

    # Two tiers now: member renamed basic, silver and gold folded into plus.
    await platform.ledger.stub.SetTierDefinitions(
        ledger_pb2.SetTierDefinitionsRequest(
            program_id=PROGRAM,
            idempotency_key=ledger_key(),
            tiers=[BASIC, PLUS],
            tier_code_mappings=[
                ledger_pb2.TierCodeMapping(from_tier_code=f, to_tier_code=t)
                for f, t in (("member", "basic"), ("silver", "plus"), ("gold", "plus"))
            ],
        )
    )

    async def rewritten():  # type: ignore[no-untyped-def]
        return await eligibility(platform, silver_only.reward_id) == ["plus"]

    await eventually(rewritten)
    assert await eligibility(platform, gold_and_silver.reward_id) == ["plus"]
    assert await eligibility(platform, bronze.reward_id) == ["bronze"]  # left, and listed
    assert await eligibility(platform, everybody.reward_id) == []
    assert await undefined_listed(platform) == [bronze.reward_id]

    # Both keep their perks, and get those of the tier folded in with theirs.
    async def merged():  # type: ignore[no-untyped-def]
        expected = {"lounge": ("plus", GRANTED), "valet": ("plus", GRANTED)}
        return (
            await member_perks(platform, "ann") == expected
            and await member_perks(platform, "bob") == expected
        )

    await eventually(merged)
    tiers = await platform.rewards.ListTierPerks(
        rewards_pb2.ListTierPerksRequest(program_id=PROGRAM)
    )
    assert {t.tier_code: [p.perk_code for p in t.perks] for t in tiers.tier_perks} == {
        "plus": ["valet", "lounge"]  # gold's first (mapped first, by code), then silver's
    }

    # Fixing the reward takes it off the list.
    fixed = eligible_to("plus")
    fixed.reward_id = bronze.reward_id
    await platform.rewards.UpdateReward(
        rewards_pb2.UpdateRewardRequest(
            program_id=PROGRAM,
            idempotency_key=ledger_key(),
            reward=fixed,
            update_mask={"paths": ["eligibility"]},
        )
    )
    assert await undefined_listed(platform) == []

    # The first announcement (version 1: member, silver, gold) redelivered late: nothing moves
    # back, a reward created meanwhile naming gold is not rewritten by its mapping.
    late = await platform.create(eligible_to("gold"))
    event = events_pb2.Event(
        event_id=str(uuid.uuid4()),
        program_id=PROGRAM,
        producer="ledger",
        tier_definitions_changed=events_pb2.TierDefinitionsChanged(
            tiers=[
                events_pb2.TierDefinitionCode(code=c, rank=r)
                for r, c in enumerate(("member", "silver", "gold"))
            ],
            tier_code_mappings=[
                events_pb2.TierCodeMapping(from_tier_code="gold", to_tier_code="silver")
            ],
            entry_tier_code="member",
            version=1,
        ),
    )
    client = await nats.connect(servers.nats_url)
    try:
        await client.jetstream().publish(
            f"{nats_namespace}.ledger.tier_definitions_changed",
            event.SerializeToString(),
            headers={"Nats-Msg-Id": event.event_id},
        )
        await consumed(servers, nats_namespace, "ledger", TIER_DEFINITIONS_CONSUMER.durable)
    finally:
        await client.close()
    assert await eligibility(platform, late.reward_id) == ["gold"]
    assert await eligibility(platform, silver_only.reward_id) == ["plus"]
    assert await undefined_listed(platform) == [late.reward_id]  # the reward named gold since
