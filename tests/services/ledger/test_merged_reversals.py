"""Reversing a posting of a member that was merged away: the points are the survivor's now, and
so is the debt a reversal left."""

import asyncio
import datetime as dt

import grpc
import pytest

from loyalty.ledger.v1 import ledger_pb2
from tests.conftest import Servers
from tests.services.ledger.support import Ledger, key, ts
from tests.services.ledger.test_consumers import closed_into, merged_event, publish
from tests.services.ledger.test_expired_refunds import expire_now


@pytest.fixture
def merge(ledger: Ledger, servers: Servers, nats_namespace: str, database_url: str):
    async def merge(merged: str, survivor: str) -> None:
        """What identity's merge does: the points move, then the ledger's member_merged
        consumer closes the account (awaited here)."""
        await ledger.transfer(merged, survivor, transfer_all=True)
        await publish(
            servers, f"{nats_namespace}.identity.member_merged", merged_event(merged, survivor)
        )
        for _ in range(200):
            if merged in await closed_into(database_url):
                return
            await asyncio.sleep(0.05)
        pytest.fail(f"the account of {merged!r} was not closed")

    return merge


async def reverse(ledger: Ledger, member: str, posting_id: str) -> ledger_pb2.ReverseResponse:
    return await ledger.stub.Reverse(
        ledger_pb2.ReverseRequest(
            program_id="acme", idempotency_key=key(), member_id=member, posting_id=posting_id
        )
    )


async def lots(ledger: Ledger, member: str) -> list[ledger_pb2.Lot]:
    response = await ledger.stub.ListLots(
        ledger_pb2.ListLotsRequest(program_id="acme", member_id=member, page_size=100)
    )
    return list(response.lots)


async def test_a_merged_members_redemption_is_given_back_to_the_survivor_once(
    ledger: Ledger, merge
) -> None:
    expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=90)
    await ledger.earn("old-card", 100, expires_at=ts(expires), source_reference="order-1")
    await ledger.earn("app-user", 40)
    redeemed = await ledger.redeem("old-card", 60)
    await merge("old-card", "app-user")
    assert (await ledger.balance("app-user")).available_points == 80

    given = await reverse(ledger, "old-card", redeemed.posting.posting_id)
    assert (given.reversed_points, given.debt_points) == (60, 0)
    assert (given.balance.member_id, given.balance.available_points) == ("app-user", 140)
    [posting] = given.postings
    assert (posting.member_id, posting.points) == ("app-user", 60)
    # The points come back with the expiry they had: a cancellation does not renew them.
    back = [lot for lot in await lots(ledger, "app-user") if lot.posting_id == posting.posting_id]
    assert [(lot.remaining_points, lot.expires_at.ToDatetime(tzinfo=dt.UTC)) for lot in back] == [
        (60, expires)
    ]

    again = await reverse(ledger, "old-card", redeemed.posting.posting_id)  # another key
    assert (again.reversed_points, again.balance.available_points) == (0, 140)
    assert (await ledger.balance("old-card")).available_points == 0


async def test_a_merged_members_committed_hold_is_given_back_to_the_last_survivor(
    ledger: Ledger, merge
) -> None:
    await ledger.earn("a", 100)
    held = await ledger.hold("a", 30, reference="redemption-1")
    committed = await ledger.commit(held.hold.hold_id)
    await merge("a", "b")
    first = await reverse(ledger, "a", committed.hold.posting_id)
    assert (first.reversed_points, first.balance.member_id) == (30, "b")
    # b merged on into c: the points given back on b went along, and are not given twice.
    await merge("b", "c")
    again = await reverse(ledger, "a", committed.hold.posting_id)
    assert (again.reversed_points, again.balance.member_id) == (0, "c")
    assert (await ledger.balance("c")).available_points == 100


async def test_a_merged_members_earn_is_taken_back_from_the_survivor(ledger: Ledger, merge) -> None:
    earned = await ledger.earn("old-card", 100, source_reference="order-1")
    await ledger.earn("app-user", 40)
    await merge("old-card", "app-user")
    taken = await reverse(ledger, "old-card", earned.posting.posting_id)
    assert (taken.reversed_points, taken.balance.available_points) == (100, 40)
    again = await reverse(ledger, "old-card", earned.posting.posting_id)
    assert (again.reversed_points, again.balance.available_points) == (0, 40)
    # The purchase's refund finds its points taken back already.
    refund = await ledger.refund("old-card", "order-1", refunded=1_000, original=1_000)
    assert (refund.reversed_points, refund.balance.available_points) == (0, 40)


async def test_debt_a_merge_moves_is_paid_from_the_survivors_points(ledger: Ledger, merge) -> None:
    await ledger.earn("old-card", 100, source_reference="order-1")
    await ledger.redeem("old-card", 100)
    owed = await ledger.refund("old-card", "order-1", refunded=1_000, original=1_000)
    assert owed.debt_points == 100
    await ledger.earn("app-user", 80)
    await ledger.earn("app-user", 10, vested=False)  # pending: it pays debt too, as earnings do

    await merge("old-card", "app-user")

    # The survivor could spend its 80 with the 100 owed left standing; now they pay it.
    balance = await ledger.balance("app-user")
    assert (balance.available_points, balance.pending_points, balance.debt_points) == (0, 0, 10)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.redeem("app-user", 1)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    await ledger.earn("app-user", 25)  # the rest of the debt is paid first, as always
    balance = await ledger.balance("app-user")
    assert (balance.available_points, balance.debt_points) == (15, 0)


async def test_a_refund_counts_the_points_that_expired_on_the_survivor(
    ledger: Ledger, merge, database_url: str
) -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    await ledger.earn("old-card", 100, source_reference="order-1", expires_at=ts(soon))
    await ledger.earn("app-user", 50)
    await merge("old-card", "app-user")
    await ledger.redeem("app-user", 30)  # from order-1's points, which expire first
    await expire_now(database_url, "order-1", "app-user")  # the other 70 expire on the survivor

    once = key()
    refunded = await ledger.refund(
        "old-card", "order-1", refunded=1_000, original=1_000, idempotency_key=once
    )

    # Only the 30 spent are taken back. It took the 70 expired a second time before (50 and a
    # debt of 20): the purchase's expired points were looked for on the merged member only.
    assert (refunded.reversed_points, refunded.debt_points) == (30, 0)
    assert (refunded.balance.member_id, refunded.balance.available_points) == ("app-user", 20)
    again = await ledger.refund(
        "old-card", "order-1", refunded=1_000, original=1_000, idempotency_key=once
    )
    assert again == refunded  # a retry: one effect
    assert (await ledger.balance("app-user")).available_points == 20


async def test_points_that_expired_on_a_survivor_merged_since_count_too(
    ledger: Ledger, merge, database_url: str
) -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    await ledger.earn("a", 100, source_reference="order-1", expires_at=ts(soon))
    await merge("a", "b")
    await merge("b", "c")  # the purchase's lot moved twice
    await ledger.earn("c", 50)
    await expire_now(database_url, "order-1", "c")

    refunded = await ledger.refund("a", "order-1", refunded=1_000, original=1_000)

    assert (refunded.reversed_points, refunded.debt_points) == (0, 0)
    assert (refunded.balance.member_id, refunded.balance.available_points) == ("c", 50)


async def test_a_refund_counts_the_expiry_of_points_given_back_to_the_survivor(
    ledger: Ledger, merge, database_url: str
) -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    await ledger.earn("old-card", 100, source_reference="order-1", expires_at=ts(soon))
    redeemed = await ledger.redeem("old-card", 100)
    await merge("old-card", "app-user")
    await reverse(ledger, "old-card", redeemed.posting.posting_id)  # back on the survivor's lots
    await ledger.earn("app-user", 50)
    await expire_now(database_url, "order-1", "app-user")

    refunded = await ledger.refund("old-card", "order-1", refunded=1_000, original=1_000)

    assert (refunded.reversed_points, refunded.debt_points) == (0, 0)
    assert refunded.balance.available_points == 50
