"""Cancelling a redemption of a member merged since (a plastic card's member who installed the
app): the points go back to the survivor, which holds the member's points now."""

import asyncio
import datetime as dt

import asyncpg
import grpc
import pytest

from loyalty.ledger.v1 import ledger_pb2
from loyalty.rewards.v1 import rewards_pb2
from tests.conftest import Servers
from tests.services.ledger.test_consumers import closed_into, merged_event, publish
from tests.services.rewards.conftest import PROGRAM, key, reason, reward


async def merge(
    platform, servers: Servers, nats_namespace: str, database_url: str, merged: str, survivor: str
) -> None:
    """What identity's merge does to the ledger: the points move, then the ledger's
    member_merged consumer closes the account (awaited here)."""
    await platform.ledger.transfer(merged, survivor, transfer_all=True)
    await publish(
        servers, f"{nats_namespace}.identity.member_merged", merged_event(merged, survivor)
    )
    for _ in range(200):
        if merged in await closed_into(database_url):
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"the account of {merged!r} was not closed")


async def test_a_merged_members_redemption_is_cancelled_onto_the_survivor(
    platform, servers, nats_namespace, database_url
) -> None:
    coffee = await platform.create(reward())
    await platform.ledger.earn("old-card", 1_000)
    await platform.ledger.earn("app-user", 10)
    redemption = await platform.redeem("old-card", coffee.reward_id)
    await merge(platform, servers, nats_namespace, database_url, "old-card", "app-user")
    assert (await platform.ledger.balance("app-user")).available_points == 510

    cancel_key = key()
    cancelled = await platform.cancel(redemption.redemption_id, idempotency_key=cancel_key)
    assert cancelled.returned_points == 500
    assert cancelled.redemption.status == rewards_pb2.REDEMPTION_STATUS_CANCELLED
    assert [c.status for c in cancelled.redemption.codes] == [rewards_pb2.CODE_STATUS_CANCELLED]
    assert (await platform.ledger.balance("app-user")).available_points == 1_010
    stock = (await platform.get_reward(coffee.reward_id)).stock
    assert (stock.available, stock.reserved, stock.redeemed) == (10, 0, 0)

    # A retry answers the same and gives nothing twice, nor does the ledger asked again.
    again = await platform.cancel(redemption.redemption_id, idempotency_key=cancel_key)
    assert (again.returned_points, again.redemption.status) == (
        500,
        rewards_pb2.REDEMPTION_STATUS_CANCELLED,
    )
    reversed_again = await platform.ledger.stub.Reverse(
        ledger_pb2.ReverseRequest(
            program_id=PROGRAM,
            idempotency_key=key(),
            member_id="old-card",
            posting_id=redemption.posting_id,
        )
    )
    assert reversed_again.reversed_points == 0
    assert (await platform.ledger.balance("app-user")).available_points == 1_010
    await platform.ledger.assert_clean()


async def forget_posting(database_url: str, redemption_id: str, **columns: object) -> None:
    """Make the redemption one committed before its commit's posting id was recorded: its
    cancellation credits the points (Adjust), which the ledger refuses for a closed account."""
    assignments = "".join(f", {name} = ${index}" for index, name in enumerate(columns, start=2))
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            f"UPDATE rewards.redemptions SET posting_id = ''{assignments} WHERE redemption_id = $1",
            redemption_id,
            *columns.values(),
        )
    finally:
        await connection.close()


def refused_count(platform, reason: str) -> float:
    registry = platform.rewards_service.metrics.registry
    return (
        registry.get_sample_value("loyalty_rewards_cancellations_refused_total", {"reason": reason})
        or 0
    )


async def test_a_cancellation_the_ledger_refuses_for_good_is_undone_not_left_unavailable(
    platform, servers, nats_namespace, database_url
) -> None:
    coffee = await platform.create(reward())
    await platform.ledger.earn("old-card", 1_000)
    redemption = await platform.redeem("old-card", coffee.reward_id)
    await forget_posting(database_url, redemption.redemption_id)
    await merge(platform, servers, nats_namespace, database_url, "old-card", "app-user")

    cancel_key = key()
    for _ in range(2):  # and a retry with the same key, answered the same
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await platform.cancel(redemption.redemption_id, idempotency_key=cancel_key)
        assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert reason(error.value) == "LEDGER_REFUSED"
        assert "MEMBER_CLOSED" in error.value.details()
    assert refused_count(platform, "MEMBER_CLOSED") == 1

    # The member keeps the coupon: the redemption stands, its code is valid and can be used.
    kept = await platform.get_redemption(redemption.redemption_id)
    assert kept.status == rewards_pb2.REDEMPTION_STATUS_COMPLETED
    assert [c.status for c in kept.codes] == [rewards_pb2.CODE_STATUS_VALID]
    stock = (await platform.get_reward(coffee.reward_id)).stock
    assert (stock.available, stock.reserved, stock.redeemed) == (9, 0, 1)
    assert (await platform.ledger.balance("app-user")).available_points == 500
    await platform.use(redemption.codes[0].code)
    await platform.ledger.assert_clean()


@pytest.mark.parametrize(
    "rewards_overrides",
    [{"dependency_deadline_ms": 1_000, "redemption_lease_ms": 2_000, "recovery_interval_ms": 100}],
    indirect=True,
)
async def test_recovery_undoes_a_cancellation_the_ledger_refuses_for_good_once(
    platform, servers, nats_namespace, database_url
) -> None:
    coffee = await platform.create(reward())
    await platform.ledger.earn("old-card", 1_000)
    redemption = await platform.redeem("old-card", coffee.reward_id)
    await merge(platform, servers, nats_namespace, database_url, "old-card", "app-user")
    # A cancellation whose process stopped after cancelling the codes, before the ledger answered.
    await forget_posting(
        database_url,
        redemption.redemption_id,
        step="cancelling",
        lease_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1),
    )
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "UPDATE rewards.codes SET cancelled_at = now() WHERE redemption_id = $1",
            redemption.redemption_id,
        )
    finally:
        await connection.close()

    for _ in range(100):
        got = await platform.get_redemption(redemption.redemption_id)
        if [c.status for c in got.codes] == [rewards_pb2.CODE_STATUS_VALID]:
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("recovery did not undo the cancellation")
    assert got.status == rewards_pb2.REDEMPTION_STATUS_COMPLETED
    await asyncio.sleep(0.5)  # several recovery rounds: the redemption is not taken up again
    assert refused_count(platform, "MEMBER_CLOSED") == 1
    assert (await platform.ledger.balance("app-user")).available_points == 500
