"""Cancelling a redemption whose points a refund has since taken back: the points the ledger
gives back pay the member's debt first, and the answer says how many came back to the balance
and how many paid debt (it said the whole price came back)."""

import asyncio

import pytest

from loyalty.ledger.v1 import ledger_pb2
from loyalty.rewards.v1 import rewards_pb2
from tests.services.rewards.conftest import PROGRAM, key, reward
from tests.services.rewards.test_edits_in_flight import PAUSED, _held


async def test_a_cancellation_says_what_paid_debt_and_what_came_back(platform) -> None:
    coffee = await platform.create(reward())
    await platform.ledger.earn("ann", 1_000, source_reference="o1")
    await platform.ledger.earn("ann", 200, source_reference="o2")
    redemption = await platform.redeem("ann", coffee.reward_id)  # 500 of o1's points
    refunded = await platform.ledger.refund("ann", "o1", refunded=100, original=100)
    assert refunded.debt_points == 300  # o1's 500 left and o2's 200 taken, 300 owed

    cancel_key = key()
    cancelled = await platform.cancel(redemption.redemption_id, idempotency_key=cancel_key)

    assert cancelled.redemption.status == rewards_pb2.REDEMPTION_STATUS_CANCELLED
    assert (cancelled.returned_points, cancelled.debt_paid_points) == (200, 300)
    balance = await platform.ledger.balance("ann")
    assert (balance.available_points, balance.debt_points) == (200, 0)
    again = await platform.cancel(redemption.redemption_id, idempotency_key=cancel_key)
    assert (again.returned_points, again.debt_paid_points) == (200, 300)  # one effect
    assert (await platform.ledger.balance("ann")).available_points == 200
    await platform.ledger.assert_clean()


@pytest.mark.parametrize("rewards_overrides", [PAUSED], indirect=True)
async def test_a_cancellation_under_way_says_what_paid_debt(platform) -> None:
    # The redemption holds the points (and pauses) when the refund comes: the hold's points
    # come back with the void, and pay the debt the refund recorded first.
    coffee = await platform.create(reward())
    await platform.ledger.earn("bob", 1_000, source_reference="o1")
    await platform.ledger.earn("bob", 200, source_reference="o2")
    redeeming = asyncio.ensure_future(platform.redeem("bob", coffee.reward_id))
    held = await _held(platform, "bob")
    refunded = await platform.ledger.refund("bob", "o1", refunded=100, original=100)
    assert refunded.debt_points == 300

    cancelled = await platform.cancel(held.redemption_id)

    assert cancelled.redemption.status == rewards_pb2.REDEMPTION_STATUS_CANCELLED
    assert (cancelled.returned_points, cancelled.debt_paid_points) == (200, 300)
    assert (await redeeming).status == rewards_pb2.REDEMPTION_STATUS_CANCELLED
    hold = await platform.ledger.stub.GetHold(
        ledger_pb2.GetHoldRequest(program_id=PROGRAM, hold_id=held.hold_id)
    )
    assert hold.hold.debt_paid_points == 300
    balance = await platform.ledger.balance("bob")
    assert (balance.available_points, balance.held_points, balance.debt_points) == (200, 0, 0)
    await platform.ledger.assert_clean()


async def test_a_cancellation_under_write_off_pays_back_what_the_refund_wrote_off(
    platform,
) -> None:
    # Under WRITE_OFF the refund of spent points records no debt: it writes them off. The
    # cancelled redemption's points pay that write-off back first (the member kept them).
    await platform.ledger.setup(
        negative_balance_policy=ledger_pb2.NEGATIVE_BALANCE_POLICY_WRITE_OFF
    )
    coffee = await platform.create(reward())
    await platform.ledger.earn("cy", 500, source_reference="o1")
    await platform.ledger.earn("cy", 200, source_reference="o2")
    redemption = await platform.redeem("cy", coffee.reward_id)  # o1's 500
    refunded = await platform.ledger.refund("cy", "o1", refunded=100, original=100)
    assert (refunded.reversed_points, refunded.debt_points) == (500, 0)  # 200 taken, 300 off

    cancelled = await platform.cancel(redemption.redemption_id)

    assert (cancelled.returned_points, cancelled.debt_paid_points) == (200, 300)
    balance = await platform.ledger.balance("cy")
    assert (balance.available_points, balance.debt_points) == (200, 0)  # 700 less 500 refunded
    await platform.ledger.assert_clean()
