"""Under the WRITE_OFF policy a refund writes off the points it cannot take. Points it finds held
are not spent yet: when the hold is voided they come back, and they pay the write-off first (as
points given back pay debt first under RECORD_DEBT), so the member never keeps refunded points.
A committed hold spent them: its part of the write-off stands."""

import grpc
import pytest

from loyalty.ledger.v1 import ledger_pb2
from tests.services.ledger.support import Ledger, key, write_off


async def test_a_voided_hold_pays_back_the_write_off_of_its_refunded_points(
    ledger: Ledger,
) -> None:
    await write_off(ledger)
    await ledger.earn("ann", 100, source_reference="o1")
    held = await ledger.hold("ann", 100)
    refunded = await ledger.refund("ann", "o1", refunded=10, original=10)
    assert (refunded.reversed_points, refunded.debt_points) == (100, 0)  # written off

    void = ledger_pb2.VoidHoldRequest(
        program_id="acme", idempotency_key=key(), hold_id=held.hold.hold_id
    )
    await ledger.stub.VoidHold(void)
    await ledger.stub.VoidHold(void)  # a retry: one effect
    await ledger.void(held.hold.hold_id)  # another void of it: none

    # Before, the 100 came back and were spendable: the refund had taken nothing from the member.
    balance = await ledger.balance("ann")
    assert (balance.available_points, balance.held_points, balance.debt_points) == (0, 0, 0)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.redeem("ann", 1)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # The write-off (+100) is taken back (-100) by the void.
    assert await ledger.adjustments("ann") == [-100, 100]
    hold = await ledger.stub.GetHold(
        ledger_pb2.GetHoldRequest(program_id="acme", hold_id=held.hold.hold_id)
    )
    assert hold.hold.debt_paid_points == 100  # none of its points came back to the balance


async def test_a_committed_hold_leaves_its_part_of_the_write_off(ledger: Ledger) -> None:
    await write_off(ledger)
    await ledger.earn("bob", 100, source_reference="o1")
    spent = await ledger.hold("bob", 60)
    given_up = await ledger.hold("bob", 40)
    refunded = await ledger.refund("bob", "o1", refunded=10, original=10)
    assert (refunded.reversed_points, refunded.balance.held_points) == (100, 100)  # written off

    await ledger.commit(spent.hold.hold_id)  # 60 of the purchase's points spent: written off
    await ledger.void(given_up.hold.hold_id)  # 40 back: they pay the rest of the write-off

    balance = await ledger.balance("bob")
    assert (balance.available_points, balance.held_points, balance.debt_points) == (0, 0, 0)
    assert sum(await ledger.adjustments("bob")) == 60


async def test_a_hold_placed_after_the_refund_is_not_charged(ledger: Ledger) -> None:
    await write_off(ledger)
    await ledger.earn("cy", 100, source_reference="o1")
    await ledger.redeem("cy", 100)
    refunded = await ledger.refund("cy", "o1", refunded=10, original=10)
    assert refunded.reversed_points == 100  # all spent: written off for good
    await ledger.earn("cy", 30, source_reference="o2")
    held = await ledger.hold("cy", 30)
    await ledger.void(held.hold.hold_id)
    assert (await ledger.balance("cy")).available_points == 30
