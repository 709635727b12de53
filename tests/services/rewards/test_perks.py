"""Tier perks follow the ledger's TierChanged events: granted on reaching a tier, withdrawn on
leaving it, each event applied once."""

import asyncio
import datetime as dt
import uuid

import asyncpg
import grpc
import nats
import pytest

from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.rewards.v1 import rewards_pb2
from tests.services.rewards.conftest import PROGRAM, key

GRANTED = rewards_pb2.PERK_STATUS_GRANTED
WITHDRAWN = rewards_pb2.PERK_STATUS_WITHDRAWN


def perk(code: str) -> rewards_pb2.TierPerk:
    return rewards_pb2.TierPerk(perk_code=code, name=code.replace("_", " ").title())


async def set_perks(platform, tier: str, *codes: str):
    return await platform.rewards.SetTierPerks(
        rewards_pb2.SetTierPerksRequest(
            program_id=PROGRAM,
            idempotency_key=key(),
            tier_code=tier,
            perks=[perk(c) for c in codes],
        )
    )


async def member_perks(platform, member: str) -> dict[str, tuple[str, int]]:
    response = await platform.rewards.ListMemberPerks(
        rewards_pb2.ListMemberPerksRequest(
            program_id=PROGRAM, member_id=member, include_withdrawn=True
        )
    )
    return {p.perk.perk_code: (p.tier_code, p.status) for p in response.perks}


async def eventually(check, *, timeout_s: float = 10.0):
    for _ in range(int(timeout_s / 0.05)):
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("the condition never held")


async def publish_tier_change(
    servers,
    namespace: str,
    member: str,
    before: str,
    after: str,
    at: dt.datetime,
    event_id: str,
    *,
    message_id: str = "",
) -> None:
    """A TierChanged as the ledger publishes it; another `message_id` for the same event is a
    redelivery that JetStream does not de-duplicate, so the consumer has to."""
    event = events_pb2.Event(
        event_id=event_id,
        program_id=PROGRAM,
        producer="ledger",
        tier_changed=events_pb2.TierChanged(
            member_id=member,
            from_tier_code=before,
            to_tier_code=after,
            direction=common_pb2.TIER_CHANGE_DIRECTION_DOWNGRADE,
        ),
    )
    event.occurred_at.FromDatetime(at)
    client = await nats.connect(servers.nats_url)
    try:
        await client.jetstream().publish(
            f"{namespace}.ledger.tier_changed",
            event.SerializeToString(),
            headers={"Nats-Msg-Id": message_id or event_id},
        )
    finally:
        await client.close()


async def test_perks_are_granted_on_reaching_a_tier_and_withdrawn_on_leaving_it(
    platform, servers, nats_namespace, database_url
) -> None:
    await set_perks(platform, "silver", "free_shipping", "early_access")
    await set_perks(platform, "gold", "lounge")
    await platform.ledger.earn("m1", 1_500, qualifying=True)  # the ledger upgrades m1 to silver

    async def granted():
        held = await member_perks(platform, "m1")
        return held if len(held) == 2 else None

    assert await eventually(granted) == {
        "free_shipping": ("silver", GRANTED),
        "early_access": ("silver", GRANTED),
    }

    # Requalification moves m1 down to member: the silver perks are withdrawn, once.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    downgrade = str(uuid.uuid4())
    for attempt in range(2):
        await publish_tier_change(
            servers,
            nats_namespace,
            "m1",
            "silver",
            "member",
            later,
            downgrade,
            message_id=f"{downgrade}-{attempt}",
        )

    async def withdrawn():
        held = await member_perks(platform, "m1")
        return held if held["free_shipping"][1] == WITHDRAWN else None

    assert await eventually(withdrawn) == {
        "free_shipping": ("silver", WITHDRAWN),
        "early_access": ("silver", WITHDRAWN),
    }
    current = await platform.rewards.ListMemberPerks(
        rewards_pb2.ListMemberPerksRequest(program_id=PROGRAM, member_id="m1")
    )
    assert list(current.perks) == []

    # An older event that arrives late changes nothing; a newer one to gold grants its perk.
    await publish_tier_change(
        servers,
        nats_namespace,
        "m1",
        "",
        "gold",
        later - dt.timedelta(seconds=60),
        str(uuid.uuid4()),
    )
    await publish_tier_change(
        servers,
        nats_namespace,
        "m1",
        "member",
        "gold",
        later + dt.timedelta(seconds=1),
        str(uuid.uuid4()),
    )

    async def gold():
        held = await member_perks(platform, "m1")
        return held if "lounge" in held else None

    held = await eventually(gold)
    assert held["lounge"] == ("gold", GRANTED) and held["free_shipping"][1] == WITHDRAWN
    connection = await asyncpg.connect(database_url)
    try:
        announced = dict(
            await connection.fetch(
                "SELECT split_part(subject, '.', 3), count(*) FROM rewards.outbox GROUP BY 1"
            )
        )
    finally:
        await connection.close()
    assert announced == {"perk_granted": 3, "perk_withdrawn": 2}


async def test_changing_a_tiers_perks_changes_what_its_members_hold(
    platform, servers, nats_namespace
) -> None:
    await set_perks(platform, "silver", "free_shipping", "early_access")
    now = dt.datetime.now(dt.UTC)
    await publish_tier_change(
        servers, nats_namespace, "m1", "member", "silver", now, str(uuid.uuid4())
    )

    async def granted():
        return len(await member_perks(platform, "m1")) == 2

    await eventually(granted)
    stored = await set_perks(platform, "silver", "early_access", "birthday_gift")
    assert [p.perk_code for p in stored.tier_perks.perks] == ["early_access", "birthday_gift"]
    assert await member_perks(platform, "m1") == {
        "free_shipping": ("silver", WITHDRAWN),
        "early_access": ("silver", GRANTED),
        "birthday_gift": ("silver", GRANTED),
    }
    listed = await platform.rewards.ListTierPerks(
        rewards_pb2.ListTierPerksRequest(program_id=PROGRAM)
    )
    assert [t.tier_code for t in listed.tier_perks] == ["silver"]

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await set_perks(platform, "gold", "early_access")
    assert error.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error.value.details().startswith("perks[0].perk_code:")
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await set_perks(platform, "gold", "lounge", "lounge")
    assert error.value.details().startswith("perks[1].perk_code:")
