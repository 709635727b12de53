"""A hold that rewards voids because its redemption failed or was cancelled keeps a note saying
why (the ledger's Hold.void_note), on real ledger and rewards processes."""

import asyncio
import contextlib

import grpc
import pytest

from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2
from loyalty.rewards.v1 import rewards_pb2
from tests.services.rewards.conftest import PROGRAM, key, reward

# Between placing the hold and reserving the stock, the redemption waits this long: a test
# changes the stock or cancels meanwhile.
PAUSED = {"pause_after_hold_ms": 1_500}


async def _placed(platform) -> rewards_pb2.Redemption:
    """The one redemption of m1, once its hold is placed."""
    for _ in range(200):
        listed = await platform.rewards.ListRedemptions(
            rewards_pb2.ListRedemptionsRequest(program_id=PROGRAM, member_id="m1")
        )
        if listed.redemptions and listed.redemptions[0].hold_id:
            return listed.redemptions[0]
        await asyncio.sleep(0.02)
    raise AssertionError("the hold was never placed")


async def _hold(platform, hold_id: str) -> ledger_pb2.Hold:
    response = await platform.ledger.stub.GetHold(
        ledger_pb2.GetHoldRequest(program_id=PROGRAM, hold_id=hold_id)
    )
    return response.hold


async def _take_the_stock(platform, redemption: rewards_pb2.Redemption) -> str:
    await platform.rewards.AdjustStock(
        rewards_pb2.AdjustStockRequest(
            program_id=PROGRAM,
            idempotency_key=key(),
            reward_id=redemption.reward_id,
            delta=-1,
            reason="sold at the counter",
        )
    )
    return "OUT_OF_STOCK"


async def _cancel(platform, redemption: rewards_pb2.Redemption) -> str:
    cancelled = await platform.cancel(redemption.redemption_id)
    assert cancelled.redemption.status == rewards_pb2.REDEMPTION_STATUS_CANCELLED
    return "CANCELLED"


@pytest.mark.parametrize("rewards_overrides", [PAUSED], indirect=True)
@pytest.mark.parametrize("interrupt", [_take_the_stock, _cancel], ids=["failed", "cancelled"])
async def test_a_hold_voided_for_a_redemption_says_which_and_why(platform, interrupt) -> None:
    await platform.ledger.earn("m1", 1_000)
    coffee = await platform.create(reward(stock=rewards_pb2.Stock(available=1)))
    redeeming = asyncio.ensure_future(platform.redeem("m1", coffee.reward_id))
    redemption = await _placed(platform)
    cause = await interrupt(platform, redemption)
    failing = pytest.raises(grpc.aio.AioRpcError)
    with failing if cause == "OUT_OF_STOCK" else contextlib.nullcontext():
        await redeeming

    hold = await _hold(platform, redemption.hold_id)
    assert hold.status == ledger_pb2.HOLD_STATUS_VOIDED
    assert redemption.redemption_id in hold.void_note and cause in hold.void_note, hold.void_note
    assert len(hold.void_note) <= 200
    balance = await platform.ledger.balance("m1")
    assert (balance.available_points, balance.held_points) == (1_000, 0)


@pytest.mark.parametrize(
    "rewards_overrides",
    [
        {
            "dependency_deadline_ms": 1_000,
            "redemption_lease_ms": 4_000,
            "recovery_interval_ms": 100,
            "pause_after_hold_ms": 60_000,
        }
    ],
    indirect=True,
)
async def test_a_hold_voided_under_the_key_without_a_note_still_ends_its_redemption(
    platform,
) -> None:
    # A rewards process before notes voided this hold (its key, no note) and stopped before it
    # recorded the void: the recovery's void, now with a note, finds the key taken.
    await platform.ledger.earn("m1", 1_000)
    coffee = await platform.create(reward())
    redeeming = asyncio.ensure_future(platform.redeem("m1", coffee.reward_id))
    try:
        redemption = await _placed(platform)
        await platform.ledger.stub.VoidHold(
            ledger_pb2.VoidHoldRequest(
                program_id=PROGRAM,
                idempotency_key=f"rewards.{redemption.redemption_id}.void",
                hold_id=redemption.hold_id,
                reason=common_pb2.HOLD_VOID_REASON_REQUESTED,
            )
        )
        for _ in range(150):
            ended = await platform.get_redemption(redemption.redemption_id)
            if ended.status != rewards_pb2.REDEMPTION_STATUS_PENDING:
                break
            await asyncio.sleep(0.1)
    finally:
        redeeming.cancel()
        with pytest.raises((asyncio.CancelledError, grpc.aio.AioRpcError)):
            await redeeming

    assert ended.status == rewards_pb2.REDEMPTION_STATUS_FAILED, ended
    stock = (await platform.get_reward(coffee.reward_id)).stock
    assert (stock.available, stock.reserved, stock.redeemed) == (10, 0, 0)
    balance = await platform.ledger.balance("m1")
    assert (balance.available_points, balance.held_points) == (1_000, 0)
