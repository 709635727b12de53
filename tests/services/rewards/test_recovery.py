"""Redemptions whose driver stalls past its lease are finished by the recovery worker: voided
before the codes were issued, committed after; a hold that lapses before the commit is voided."""

import asyncio

import grpc
import pytest

from loyalty.ledger.v1 import ledger_pb2
from loyalty.rewards.v1 import rewards_pb2
from tests.services.rewards.conftest import PROGRAM, reason, reward

QUICK_RECOVERY = {
    "dependency_deadline_ms": 1_000,
    "redemption_lease_ms": 2_000,
    "recovery_interval_ms": 100,
}


async def _stalled(platform, reward_id: str) -> rewards_pb2.Redemption:
    """Start a redemption whose driver stalls, and wait until recovery ended it."""
    redeeming = asyncio.ensure_future(platform.redeem("m1", reward_id))
    try:
        for _ in range(100):
            await asyncio.sleep(0.1)
            listed = await platform.rewards.ListRedemptions(
                rewards_pb2.ListRedemptionsRequest(program_id=PROGRAM, member_id="m1")
            )
            done = [
                r for r in listed.redemptions if r.status != rewards_pb2.REDEMPTION_STATUS_PENDING
            ]
            if done:
                return done[0]
        raise AssertionError("recovery did not end the redemption")
    finally:
        redeeming.cancel()
        with pytest.raises((asyncio.CancelledError, grpc.aio.AioRpcError)):
            await redeeming


async def _hold(platform, hold_id: str) -> ledger_pb2.Hold:
    response = await platform.ledger.stub.GetHold(
        ledger_pb2.GetHoldRequest(program_id=PROGRAM, hold_id=hold_id)
    )
    return response.hold


@pytest.mark.parametrize(
    "rewards_overrides", [{**QUICK_RECOVERY, "pause_after_hold_ms": 60_000}], indirect=True
)
async def test_a_redemption_stalled_after_the_hold_is_voided(platform) -> None:
    await platform.ledger.earn("m1", 1_000)
    coffee = await platform.create(reward())
    redemption = await _stalled(platform, coffee.reward_id)

    assert redemption.status == rewards_pb2.REDEMPTION_STATUS_FAILED
    assert "interrupted" in redemption.failure_reason and list(redemption.codes) == []
    assert (await _hold(platform, redemption.hold_id)).status == ledger_pb2.HOLD_STATUS_VOIDED
    balance = await platform.ledger.balance("m1")
    assert (balance.available_points, balance.held_points) == (1_000, 0)
    stock = (await platform.get_reward(coffee.reward_id)).stock
    assert (stock.available, stock.reserved, stock.redeemed) == (10, 0, 0)


@pytest.mark.parametrize(
    "rewards_overrides", [{**QUICK_RECOVERY, "pause_before_commit_ms": 60_000}], indirect=True
)
async def test_a_redemption_stalled_after_its_codes_were_issued_is_committed(platform) -> None:
    await platform.ledger.earn("m1", 1_000)
    coffee = await platform.create(reward())
    redemption = await _stalled(platform, coffee.reward_id)

    assert redemption.status == rewards_pb2.REDEMPTION_STATUS_COMPLETED
    [code] = redemption.codes
    assert code.status == rewards_pb2.CODE_STATUS_VALID
    assert (await _hold(platform, redemption.hold_id)).status == ledger_pb2.HOLD_STATUS_COMMITTED
    balance = await platform.ledger.balance("m1")
    assert (balance.available_points, balance.held_points) == (500, 0)
    stock = (await platform.get_reward(coffee.reward_id)).stock
    assert (stock.available, stock.reserved, stock.redeemed) == (9, 0, 1)
    assert (await platform.validate(code.code)).status == rewards_pb2.CODE_STATUS_VALID
    await platform.ledger.assert_clean()


@pytest.mark.parametrize("rewards_overrides", [{"pause_before_commit_ms": 1_500}], indirect=True)
async def test_a_hold_that_lapses_before_the_commit_is_voided_and_the_stock_released(
    platform,
) -> None:
    await platform.ledger.setup(hold_ttl_seconds=1)
    await platform.ledger.earn("m1", 1_000)
    coffee = await platform.create(reward())
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.redeem("m1", coffee.reward_id)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(error.value) == "HOLD_EXPIRED"
    balance = await platform.ledger.balance("m1")
    assert (balance.available_points, balance.held_points) == (1_000, 0)
    stock = (await platform.get_reward(coffee.reward_id)).stock
    assert (stock.available, stock.reserved, stock.redeemed) == (10, 0, 0)
    await platform.ledger.assert_clean()
