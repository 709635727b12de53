"""A redemption that fails after its hold was placed voids the hold through the ledger; when a
refund meanwhile left the member owing the held points, the HoldVoided read from JetStream names
them as paid debt (debt_paid_points), so a consumer does not announce them as given back."""

import asyncio

import grpc
import nats
import pytest

from loyalty.events.v1 import events_pb2
from loyalty.rewards.v1 import rewards_pb2
from tests.conftest import Servers
from tests.services.rewards.conftest import reward
from tests.services.rewards.test_void_notes import PAUSED, _placed, _take_the_stock


async def hold_voided(servers: Servers, namespace: str, hold_id: str) -> events_pb2.HoldVoided:
    """The hold's HoldVoided, once the ledger's outbox relay has published it."""
    client = await nats.connect(servers.nats_url)
    try:
        subject, stream = f"{namespace}.ledger.hold_voided", f"{namespace}_ledger".upper()
        for _ in range(200):
            info = await client.jetstream().stream_info(stream, subjects_filter=subject)
            if (info.state.subjects or {}).get(subject):
                subscription = await client.jetstream().pull_subscribe(subject, stream=stream)
                messages = await subscription.fetch(10, timeout=5)
                for message in messages:
                    voided = events_pb2.Event.FromString(message.data).hold_voided
                    if voided.hold_id == hold_id:
                        return voided
            await asyncio.sleep(0.05)
        raise AssertionError(f"no HoldVoided of {hold_id}")
    finally:
        await client.close()


@pytest.mark.parametrize("rewards_overrides", [PAUSED], indirect=True)
async def test_a_failed_redemption_s_voided_hold_names_the_points_that_paid_debt(
    platform, servers: Servers, nats_namespace: str
) -> None:
    await platform.ledger.earn("m1", 500, source_reference="o1")
    coffee = await platform.create(reward(stock=rewards_pb2.Stock(available=1)))
    redeeming = asyncio.ensure_future(platform.redeem("m1", coffee.reward_id))
    redemption = await _placed(platform)
    # The purchase that earned the points is refunded while they are held: 500 owed.
    refunded = await platform.ledger.refund("m1", "o1", refunded=10, original=10)
    assert refunded.debt_points == 500
    await _take_the_stock(platform, redemption)
    with pytest.raises(grpc.aio.AioRpcError):
        await redeeming

    voided = await hold_voided(servers, nats_namespace, redemption.hold_id)
    assert (voided.points, voided.debt_paid_points) == (500, 500)
    balance = await platform.ledger.balance("m1")
    assert (balance.available_points, balance.debt_points) == (0, 0)
