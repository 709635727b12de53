"""HoldVoided as read from JetStream: of the points the hold held, those that paid the member's
debt instead of returning to the balance are named (debt_paid_points, as GetHold's), whether the
hold is voided by VoidHold (rewards' failed or cancelled redemption calls it) or by the hold
timeout job."""

import asyncio

import pytest

from loyalty.ledger.v1 import ledger_pb2
from services.ledger.app import SPEC, LedgerConfig
from tests.conftest import Servers
from tests.services.ledger.support import Ledger, key
from tests.services.ledger.test_posted_events import ledger_events


@pytest.fixture
async def service(start_service):  # type: ignore[no-untyped-def]
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (running, channel):
        client = Ledger(channel)
        await client.setup()
        yield running, client
        await client.assert_clean()


async def voided(running, servers: Servers, nats_namespace: str) -> dict[str, tuple[int, int]]:  # type: ignore[no-untyped-def]
    """Each HoldVoided by hold id: (points, debt_paid_points)."""
    events = await ledger_events(running, servers, nats_namespace, "hold_voided")
    return {
        e.hold_voided.hold_id: (e.hold_voided.points, e.hold_voided.debt_paid_points)
        for e in events
    }


async def test_a_voided_hold_names_the_points_that_paid_debt(
    service, servers: Servers, nats_namespace: str
) -> None:
    running, ledger = service
    await ledger.earn("ann", 100, source_reference="o1")
    owing = await ledger.hold("ann", 40)
    refunded = await ledger.refund("ann", "o1", refunded=10, original=10)
    assert refunded.debt_points == 40  # the 40 held could not be taken back
    await ledger.earn("bob", 100, source_reference="o2")
    clear = await ledger.hold("bob", 30)

    await ledger.void(owing.hold.hold_id)
    await ledger.void(clear.hold.hold_id)

    assert await voided(running, servers, nats_namespace) == {
        owing.hold.hold_id: (40, 40),
        clear.hold.hold_id: (30, 0),
    }


async def test_a_lapsed_hold_names_the_points_that_paid_debt(
    service, servers: Servers, nats_namespace: str
) -> None:
    running, ledger = service
    await ledger.earn("cy", 100, source_reference="o3")
    lapsing = await ledger.hold("cy", 100, ttl_seconds=1)
    await ledger.refund("cy", "o3", refunded=4, original=10)  # 40 owed, all held
    await asyncio.sleep(1.1)

    result = await ledger.stub.RunMaintenance(
        ledger_pb2.RunMaintenanceRequest(
            program_id="acme",
            idempotency_key=key(),
            job=ledger_pb2.MAINTENANCE_JOB_HOLD_TIMEOUTS,
        )
    )

    assert result.processed_count == 1
    assert await voided(running, servers, nats_namespace) == {lapsing.hold.hold_id: (100, 40)}
    balance = await ledger.balance("cy")
    assert (balance.available_points, balance.debt_points) == (60, 0)
