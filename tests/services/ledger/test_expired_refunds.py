"""Refunds and reversals of purchases whose points expired: the expired points went to the
program's expired account already, so they are never taken a second time from the member's other
points, nor recorded as debt for points the member never spent."""

import datetime as dt

import asyncpg

from loyalty.ledger.v1 import ledger_pb2
from services.ledger.app import SPEC, LedgerConfig
from tests.services.ledger.support import Ledger, key, ts


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def expire_now(database_url: str, reference: str, member_id: str | None = None) -> None:
    """Time travel: the lot of `reference` (the one `member_id` holds, if given) is past its
    expiry, however slow the machine."""
    connection = await asyncpg.connect(database_url)
    try:
        moved = await connection.execute(
            "UPDATE ledger.lots SET expires_at = now() - interval '1 second' "
            "WHERE source_reference = $1 AND ($2::text IS NULL OR member_id = $2)",
            reference,
            member_id,
        )
        assert moved == "UPDATE 1"
    finally:
        await connection.close()


async def spent_then_expired(  # type: ignore[no-untyped-def]
    ledger: Ledger, database_url: str, **earn_fields
) -> ledger_pb2.ReverseRequest:
    """ann earns 70 of o1 and 100 of o2, spends 30 (from o1), and o1's 40 left are past their
    expiry (they expire in the reversal's transaction): the request to reverse o1's earn."""
    earned = await ledger.earn(
        "ann", 70, source_reference="o1", expires_at=ts(now() + dt.timedelta(1)), **earn_fields
    )
    await ledger.earn("ann", 100, source_reference="o2", **earn_fields)
    await ledger.redeem("ann", 30)  # from o1
    await expire_now(database_url, "o1")
    return ledger_pb2.ReverseRequest(
        program_id="acme",
        idempotency_key=key(),
        member_id="ann",
        posting_id=earned.posting.posting_id,
    )


async def test_a_refund_of_expired_points_takes_nothing_from_the_members_other_points(
    ledger: Ledger,
) -> None:
    await ledger.earn(
        "ann", 70, source_reference="o1", qualifying=True, expires_at=ts(now() - dt.timedelta(1))
    )
    await ledger.earn("ann", 100, source_reference="o2", qualifying=True)
    assert (await ledger.balance("ann")).available_points == 100  # o1's 70 expired

    refunded = await ledger.refund("ann", "o1", refunded=1_000, original=1_000)

    # It took 70 of o2's points (or 70 of debt from a member with none left) before.
    assert (refunded.reversed_points, refunded.debt_points) == (0, 0)
    assert list(refunded.postings) == []
    balance = refunded.balance
    assert (balance.available_points, balance.debt_points) == (100, 0)
    assert balance.qualifying_amount == 100  # the refunded purchase no longer counts


async def test_partial_refunds_count_the_expired_points_first_and_take_what_was_spent(
    ledger: Ledger, database_url: str
) -> None:
    await ledger.earn("ann", 100, source_reference="o1", expires_at=ts(now() + dt.timedelta(1)))
    await ledger.earn("ann", 100, source_reference="o2")
    await ledger.redeem("ann", 60)  # from o1, which expires first
    await expire_now(database_url, "o1")  # its 40 left expire in the refund's own transaction

    half = await ledger.refund("ann", "o1", refunded=500, original=1_000)
    # Half of the purchase's 100: its 40 expired count first, then 10 of what was spent.
    assert (half.reversed_points, half.balance.available_points) == (10, 90)
    rest = await ledger.refund("ann", "o1", refunded=500, original=1_000)
    # In all, exactly the 60 the member spent of the purchase is taken back.
    assert (rest.reversed_points, rest.balance.available_points) == (50, 40)
    history = await ledger.stub.ListHistory(
        ledger_pb2.ListHistoryRequest(program_id="acme", member_id="ann")
    )
    assert [(p.kind, p.points) for p in history.postings][:3] == [(5, -50), (5, -10), (4, -40)]


async def test_a_reversal_of_an_earn_whose_points_expired_takes_back_only_what_is_left(
    ledger: Ledger, database_url: str
) -> None:
    request = await spent_then_expired(ledger, database_url)
    reversed_ = await ledger.stub.Reverse(request)
    # The 30 spent are taken back (from o2); the 40 expired are not taken a second time.
    assert (reversed_.reversed_points, reversed_.balance.available_points) == (30, 70)
    request.idempotency_key = key()
    assert (await ledger.stub.Reverse(request)).reversed_points == 0
    # A refund of the purchase after the reversal takes nothing more either.
    refunded = await ledger.refund("ann", "o1", refunded=1_000, original=1_000)
    assert (refunded.reversed_points, refunded.balance.available_points) == (0, 70)


async def test_a_refund_after_inactivity_expiry_takes_nothing_more(start_service) -> None:
    # Under the inactivity policy lots carry no expiry of their own: the job expires them.
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (_, channel):
        ledger = Ledger(channel)
        await ledger.setup(
            expiry_policy=ledger_pb2.ExpiryPolicy(
                kind=ledger_pb2.EXPIRY_KIND_INACTIVITY_MONTHS, months=6
            )
        )
        dormant = now() - dt.timedelta(days=400)
        await ledger.earn("ann", 100, source_reference="o1", occurred_at=ts(dormant))
        expired = await ledger.stub.RunMaintenance(
            ledger_pb2.RunMaintenanceRequest(
                program_id="acme", idempotency_key=key(), job=ledger_pb2.MAINTENANCE_JOB_EXPIRY
            )
        )
        assert expired.affected_points == 100
        await ledger.earn("ann", 50, source_reference="o2")

        refunded = await ledger.refund("ann", "o1", refunded=1_000, original=1_000)

        assert (refunded.reversed_points, refunded.balance.available_points) == (0, 50)
        await ledger.assert_clean()


async def test_a_reversal_of_an_earn_whose_points_expired_takes_all_its_tier_progress_back(
    ledger: Ledger, database_url: str
) -> None:
    # Tier progress counts what was earned, not what is left: the expired part goes back too.
    request = await spent_then_expired(ledger, database_url, qualifying=True)
    reversed_ = await ledger.stub.Reverse(request)
    # It took back the 30 spent and the tier progress of those only (170 - 30 = 140) before.
    assert (reversed_.reversed_points, reversed_.balance.qualifying_amount) == (30, 100)
    assert await ledger.stub.Reverse(request) == reversed_  # a retry: one effect
    request.idempotency_key = key()
    again = await ledger.stub.Reverse(request)  # another reversal of it: nothing more
    assert (again.reversed_points, again.balance.qualifying_amount) == (0, 100)
    refunded = await ledger.refund("ann", "o1", refunded=1_000, original=1_000)
    assert (refunded.reversed_points, refunded.balance.qualifying_amount) == (0, 100)


async def test_a_reversal_after_a_refund_counted_the_expiry_takes_no_more_progress(
    ledger: Ledger,
) -> None:
    earned = await ledger.earn(
        "bob", 70, source_reference="o1", qualifying=True, expires_at=ts(now() - dt.timedelta(1))
    )
    await ledger.earn("bob", 100, source_reference="o2", qualifying=True)
    refunded = await ledger.refund("bob", "o1", refunded=1_000, original=1_000)
    assert refunded.balance.qualifying_amount == 100
    reversed_ = await ledger.stub.Reverse(
        ledger_pb2.ReverseRequest(
            program_id="acme",
            idempotency_key=key(),
            member_id="bob",
            posting_id=earned.posting.posting_id,
        )
    )
    assert (reversed_.reversed_points, reversed_.balance.qualifying_amount) == (0, 100)
