"""Under the WRITE_OFF policy a refund writes off the points it cannot take because the member
spent them. When that spend is cancelled (a redemption cancelled: `Reverse` of the spend), its
points come back, and they pay back first what the refund wrote off of them, as points given
back pay debt first under RECORD_DEBT: the member never keeps refunded points. Only the spends
the refund found (those that took the purchase's points) owe it; a spend made afterwards is
given back whole."""

from loyalty.ledger.v1 import ledger_pb2
from tests.services.ledger.support import Ledger, key, write_off


async def cancel(ledger: Ledger, member: str, posting_id: str, *, idempotency_key: str = ""):
    return await ledger.stub.Reverse(
        ledger_pb2.ReverseRequest(
            program_id="acme",
            idempotency_key=idempotency_key or key(),
            member_id=member,
            posting_id=posting_id,
        )
    )


async def test_a_cancelled_spend_pays_back_the_write_off_of_its_refunded_points(
    ledger: Ledger,
) -> None:
    await write_off(ledger)
    await ledger.earn("ann", 100, source_reference="o1")
    spent = await ledger.redeem("ann", 100)
    refunded = await ledger.refund("ann", "o1", refunded=10, original=10)
    assert (refunded.reversed_points, refunded.debt_points) == (100, 0)  # written off

    cancel_key = key()
    cancelled = await cancel(ledger, "ann", spent.posting.posting_id, idempotency_key=cancel_key)
    again = await cancel(ledger, "ann", spent.posting.posting_id, idempotency_key=cancel_key)
    await cancel(ledger, "ann", spent.posting.posting_id)  # another cancel of it: none

    # Before, the 100 came back spendable: the refund had taken nothing from the member.
    assert cancelled.debt_paid_points == again.debt_paid_points == 100
    balance = await ledger.balance("ann")
    assert (balance.available_points, balance.debt_points) == (0, 0)
    assert await ledger.adjustments("ann") == [-100, 100]  # the write-off, taken back
    await ledger.assert_clean()


async def test_a_cancelled_redemption_pays_back_the_write_off_of_its_held_points(
    ledger: Ledger,
) -> None:
    # A redemption of rewards holds the points, then commits them. The refund came while they
    # were held: the commit spent them, so that write-off stood, and the cancel gave them back.
    await write_off(ledger)
    await ledger.earn("bob", 100, source_reference="o1")
    await ledger.earn("bob", 30, source_reference="o2")
    held = await ledger.hold("bob", 130)
    refunded = await ledger.refund("bob", "o1", refunded=10, original=10)
    assert (refunded.reversed_points, refunded.balance.held_points) == (100, 130)
    committed = await ledger.commit(held.hold.hold_id)

    cancelled = await cancel(ledger, "bob", committed.posting.posting_id)

    assert cancelled.debt_paid_points == 100
    balance = await ledger.balance("bob")
    assert (balance.available_points, balance.debt_points) == (30, 0)  # o2's points only
    await ledger.assert_clean()


async def test_a_spend_made_after_the_refund_is_given_back_whole(ledger: Ledger) -> None:
    await write_off(ledger)
    await ledger.earn("cy", 100, source_reference="o1")
    first = await ledger.redeem("cy", 100)
    await ledger.refund("cy", "o1", refunded=10, original=10)  # 100 written off, owed by first
    await ledger.earn("cy", 200, source_reference="o2")
    later = await ledger.redeem("cy", 200)

    assert (await cancel(ledger, "cy", later.posting.posting_id)).debt_paid_points == 0
    assert (await ledger.balance("cy")).available_points == 200
    assert (await cancel(ledger, "cy", first.posting.posting_id)).debt_paid_points == 100
    assert (await ledger.balance("cy")).available_points == 200
    await ledger.assert_clean()


async def test_the_spends_pay_back_the_write_off_and_no_more(ledger: Ledger) -> None:
    # Two redemptions spent the purchase's 100 points (60, then 40). The refund takes the 50
    # points still on the balance and writes off the other 50, owed by those two spends: the
    # latest first (40), then 10 of the other. Cancelling both pays back 50, not 100.
    await write_off(ledger)
    await ledger.earn("dee", 100, source_reference="o1")
    await ledger.earn("dee", 50, source_reference="o2")
    big = await ledger.redeem("dee", 60)
    small = await ledger.redeem("dee", 40)
    refunded = await ledger.refund("dee", "o1", refunded=10, original=10)
    assert (refunded.reversed_points, refunded.balance.available_points) == (100, 0)

    assert (await cancel(ledger, "dee", small.posting.posting_id)).debt_paid_points == 40
    assert (await ledger.balance("dee")).available_points == 0
    assert (await cancel(ledger, "dee", big.posting.posting_id)).debt_paid_points == 10
    assert (await ledger.balance("dee")).available_points == 50  # 150 earned, 100 refunded
    assert await ledger.adjustments("dee") == [-40, -10, 50]
    await ledger.assert_clean()


async def test_a_cancelled_redemption_refunded_after_its_commit_pays_back(ledger: Ledger) -> None:
    # The usual order for rewards: the redemption completes (hold, commit), then the purchase is
    # refunded, then the redemption is cancelled.
    await write_off(ledger)
    await ledger.earn("eve", 100, source_reference="o1")
    held = await ledger.hold("eve", 100)
    committed = await ledger.commit(held.hold.hold_id)
    refunded = await ledger.refund("eve", "o1", refunded=10, original=10)
    assert (refunded.reversed_points, refunded.debt_points) == (100, 0)  # written off

    assert (await cancel(ledger, "eve", committed.posting.posting_id)).debt_paid_points == 100
    assert (await ledger.balance("eve")).available_points == 0
    await ledger.assert_clean()
