"""A reward's per-member limit counts a person once: after identity merges two members, what the
merged one redeemed counts against the survivor (and against whoever the survivor is merged
into later), until it is cancelled."""

import contextlib
import uuid

import grpc
import pytest

from loyalty.events.v1 import events_pb2
from loyalty.rewards.v1 import rewards_pb2
from tests.services.rewards.conftest import PROGRAM, reason, reward
from tests.services.rewards.test_member_perks import publish_identity
from tests.services.rewards.test_perks import eventually


def merge(survivor: str, merged: str) -> events_pb2.Event:
    return events_pb2.Event(
        event_id=str(uuid.uuid4()),
        program_id=PROGRAM,
        producer="identity",
        member_merged=events_pb2.MemberMerged(survivor_member_id=survivor, merged_member_id=merged),
    )


async def remaining(platform, member: str, reward_id: str) -> int:
    """What the member's listing says they may still redeem of the reward."""
    listed = await platform.rewards.ListRewards(
        rewards_pb2.ListRewardsRequest(program_id=PROGRAM, member_id=member)
    )
    [listing] = [entry for entry in listed.listings if entry.reward.reward_id == reward_id]
    return listing.remaining_member_limit


async def reaches(platform, member: str, reward_id: str, wanted: int) -> None:
    """Wait until the member's listing shows `wanted` left (rewards applies identity's events
    as they arrive)."""

    async def reached() -> bool:
        return await remaining(platform, member, reward_id) == wanted

    with contextlib.suppress(AssertionError):
        await eventually(reached)
    assert await remaining(platform, member, reward_id) == wanted


async def refused(platform, member: str, reward_id: str) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.redeem(member, reward_id)
    return reason(error.value)


async def test_a_merged_members_redemptions_count_against_the_survivors_limit(
    platform, servers, nats_namespace
) -> None:
    for member in ("card", "app", "family"):
        await platform.ledger.earn(member, 5_000)
    limited = await platform.create(reward(per_member_limit=2, points_price=100))
    first = await platform.redeem("card", limited.reward_id)
    await platform.redeem("card", limited.reward_id)
    assert await remaining(platform, "app", limited.reward_id) == 2

    # The same person's card account is merged into their app account: two redeemed already.
    await publish_identity(servers, nats_namespace, merge("app", "card"))
    await reaches(platform, "app", limited.reward_id, 0)
    assert await refused(platform, "app", limited.reward_id) == "MEMBER_LIMIT_REACHED"

    # A cancelled one no longer counts, for the survivor either.
    await platform.cancel(first.redemption_id)
    assert await remaining(platform, "app", limited.reward_id) == 1
    await platform.redeem("app", limited.reward_id)
    assert await refused(platform, "app", limited.reward_id) == "MEMBER_LIMIT_REACHED"

    # Merged on into another member, both accounts' redemptions count there; a redelivered
    # merge counts nothing twice.
    await publish_identity(servers, nats_namespace, merge("family", "app"))
    await publish_identity(servers, nats_namespace, merge("app", "card"))
    await reaches(platform, "family", limited.reward_id, 0)
    assert await refused(platform, "family", limited.reward_id) == "MEMBER_LIMIT_REACHED"
    # The ledger moved the merged accounts' points too: three accounts' less two units.
    balance = await platform.ledger.balance("family")
    assert (balance.available_points, balance.held_points) == (14_800, 0)
    stock = (await platform.get_reward(limited.reward_id)).stock
    assert (stock.available, stock.reserved, stock.redeemed) == (8, 0, 2)
