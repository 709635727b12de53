"""Points given back to their lots (a voided hold, a cancelled spend) pay the member's debt
first, as a new earn's do: a refund that found the points held or spent recorded them as debt."""

import grpc
import pytest

from loyalty.ledger.v1 import ledger_pb2
from tests.services.ledger.support import Ledger, key


async def test_a_hold_voided_after_its_points_were_refunded_pays_the_debt(ledger: Ledger) -> None:
    await ledger.earn("ann", 100, source_reference="o1")
    held = await ledger.hold("ann", 100)
    refunded = await ledger.refund("ann", "o1", refunded=10, original=10)
    assert (refunded.reversed_points, refunded.debt_points) == (100, 100)  # all of it was held

    await ledger.void(held.hold.hold_id)

    # The points came back and were owed: they pay the debt. They were available, and spent,
    # with the debt left standing: the refund had taken nothing back.
    balance = await ledger.balance("ann")
    assert (balance.available_points, balance.debt_points) == (0, 0)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.redeem("ann", 1)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_cancelled_spend_pays_the_debt_and_gives_back_the_rest(ledger: Ledger) -> None:
    await ledger.earn("bob", 100, source_reference="o1")
    await ledger.earn("bob", 30, source_reference="o2")
    spent = await ledger.redeem("bob", 130)
    refunded = await ledger.refund("bob", "o2", refunded=10, original=10)
    assert refunded.debt_points == 30

    given = await ledger.stub.Reverse(
        ledger_pb2.ReverseRequest(
            program_id="acme",
            idempotency_key=key(),
            member_id="bob",
            posting_id=spent.posting.posting_id,
        )
    )

    assert given.reversed_points == 130
    assert (given.balance.available_points, given.balance.debt_points) == (100, 0)
    lots = await ledger.stub.ListLots(
        ledger_pb2.ListLotsRequest(program_id="acme", member_id="bob")
    )
    assert sum(lot.remaining_points for lot in lots.lots) == 100


async def test_a_cancelled_spend_tells_how_much_of_it_paid_debt(ledger: Ledger) -> None:
    await ledger.earn("cy", 100, source_reference="o1")
    await ledger.earn("cy", 30, source_reference="o2")
    spent = await ledger.redeem("cy", 130)
    await ledger.refund("cy", "o2", refunded=10, original=10)  # 30 owed
    request = ledger_pb2.ReverseRequest(
        program_id="acme",
        idempotency_key=key(),
        member_id="cy",
        posting_id=spent.posting.posting_id,
    )

    given = await ledger.stub.Reverse(request)

    # All 130 are given back; 30 of them paid the debt, 100 are the member's to spend again.
    assert (given.reversed_points, given.debt_paid_points) == (130, 30)
    assert given.balance.available_points == 100
    assert await ledger.stub.Reverse(request) == given  # a retry: one effect
