"""The member's tier campaign keeps (for tier conditions and multipliers) follows the ledger's,
whatever order the TierChanged events arrive in: after a consumer crash JetStream redelivers the
messages it held once their ack wait passes, after later ones were handled."""

import asyncio
import datetime as dt
import uuid

import asyncpg
import nats
import pytest

from loyalty.events.v1 import events_pb2
from services.campaign.events import TIER_CONSUMER
from tests.services.campaign.support import PROGRAM, ledger_and_campaign

MEMBER = "m-tiers"


@pytest.fixture
async def services(start_service):  # type: ignore[no-untyped-def]
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        yield ledger, campaign


async def campaign_tier(database_url: str) -> str | None:
    connection = await asyncpg.connect(database_url)
    try:
        return await connection.fetchval(  # type: ignore[no-any-return]
            "SELECT tier_code FROM campaign.members WHERE program_id = $1 AND member_id = $2",
            PROGRAM,
            MEMBER,
        )
    finally:
        await connection.close()


async def consumed(client: nats.NATS, namespace: str) -> None:
    stream = f"{namespace}_ledger".upper()
    for _ in range(600):
        info = await client.jetstream().consumer_info(stream, TIER_CONSUMER.durable)
        if info.num_pending == 0 and info.num_ack_pending == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("campaign did not consume the tier changes")


async def test_a_late_redelivered_tier_change_leaves_the_current_tier(
    services, servers, nats_namespace: str, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    ledger, _ = services
    await ledger.earn(MEMBER, 6_000, qualifying=True)  # straight to gold (from 5000)
    client = await nats.connect(servers.nats_url)
    try:
        for _ in range(600):
            if await campaign_tier(database_url) == "gold":
                break
            await asyncio.sleep(0.05)
        assert await campaign_tier(database_url) == "gold"

        # An earlier change (member -> silver) that a crashed consumer held comes back now.
        stale = events_pb2.Event(
            event_id=str(uuid.uuid4()),
            program_id=PROGRAM,
            producer="ledger",
            tier_changed=events_pb2.TierChanged(
                member_id=MEMBER, from_tier_code="member", to_tier_code="silver"
            ),
        )
        stale.occurred_at.FromDatetime(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
        await client.jetstream().publish(
            f"{nats_namespace}.ledger.tier_changed",
            stale.SerializeToString(),
            headers={"Nats-Msg-Id": stale.event_id},
        )
        await consumed(client, nats_namespace)
    finally:
        await client.close()
    assert await campaign_tier(database_url) == "gold"
