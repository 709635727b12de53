"""Earn, redeem, holds, refunds, transfers and expiry through real gRPC on real PostgreSQL."""

import asyncio
import datetime as dt
import zoneinfo

import asyncpg
import grpc
import pytest

from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.ledger import store
from services.ledger.app import SPEC, LedgerConfig
from tests.services.ledger.support import Ledger, batch, key, post, ts
from tests.support.page_tokens import forged


@pytest.fixture
async def ledger(start_service):
    async with start_service(SPEC, LedgerConfig) as (_, channel):
        client = Ledger(channel)
        await client.setup()
        yield client
        await client.assert_clean()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def test_earned_points_stay_pending_through_the_return_window(ledger: Ledger) -> None:
    response = await ledger.earn("ann", 120, vested=False, source_reference="order-1")
    assert response.balance.pending_points == 120 and response.balance.available_points == 0
    assert response.lot.vesting_state == ledger_pb2.VESTING_STATE_PENDING
    vests = response.lot.vests_at.ToDatetime(tzinfo=dt.UTC)
    # 14 days on Amsterdam's wall clock: 14 x 24 hours but across a change of the clocks.
    zone = zoneinfo.ZoneInfo("Europe/Amsterdam")
    earned = response.lot.earned_at.ToDatetime(tzinfo=dt.UTC).astimezone(zone)
    window_end = (earned.replace(tzinfo=None) + dt.timedelta(days=14)).replace(tzinfo=zone)
    assert vests == window_end.astimezone(dt.UTC)
    expires = response.lot.expires_at.ToDatetime(tzinfo=dt.UTC)
    assert 365 + 364 <= (expires - now()).days <= 366 + 365  # 24 months, rolling
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.redeem("ann", 1)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_points_vest_when_the_window_has_passed(ledger: Ledger) -> None:
    # Two seconds: the balance read right after the earn must come before the window ends, on a
    # loaded machine too.
    vests_at = now() + dt.timedelta(seconds=2)
    await ledger.earn("ann", 50, vested=False, vests_at=ts(vests_at))
    assert (await ledger.balance("ann")).pending_points == 50
    await asyncio.sleep((vests_at - now()).total_seconds() + 0.1)
    balance = await ledger.balance("ann")
    assert (balance.available_points, balance.pending_points) == (50, 0)


async def test_spending_takes_the_earliest_expiring_lot_first(ledger: Ledger) -> None:
    late = await ledger.earn(
        "ann", 100, expires_at=ts(now() + dt.timedelta(days=300)), source_reference="late"
    )
    soon = await ledger.earn(
        "ann", 100, expires_at=ts(now() + dt.timedelta(days=30)), source_reference="soon"
    )
    redeemed = await ledger.redeem("ann", 150)
    assert [(a.lot_id, a.points) for a in redeemed.allocations] == [
        (soon.lot.lot_id, 100),
        (late.lot.lot_id, 50),
    ]
    assert redeemed.balance.available_points == 50
    assert redeemed.posting.points == -150 and redeemed.posting.available_points_after == 50
    listed = await ledger.stub.ListSpendAllocations(
        ledger_pb2.ListSpendAllocationsRequest(
            program_id="acme", member_id="ann", posting_id=redeemed.posting.posting_id
        )
    )
    assert list(listed.allocations) == list(redeemed.allocations)


async def test_a_spend_beyond_the_balance_is_refused_and_changes_nothing(ledger: Ledger) -> None:
    await ledger.earn("ann", 100)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.redeem("ann", 101)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.value.details() == "points: 100 points available, 101 asked"
    assert ("loyalty-error-reason", "INSUFFICIENT_POINTS") in tuple(error.value.trailing_metadata())
    assert (await ledger.balance("ann")).available_points == 100


async def test_an_unknown_member_cannot_spend(ledger: Ledger) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.redeem("nobody", 1)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"points": 0}, "points"),
        ({"points": -5}, "points"),
        ({"member_id": ""}, "member_id"),
        ({"program_id": "BAD ID"}, "program_id"),
    ],
)
async def test_bad_earns_name_the_field(ledger: Ledger, fields, field) -> None:
    request = ledger_pb2.EarnRequest(
        program_id="acme", idempotency_key=key(), member_id="ann", points=10
    )
    for name, value in fields.items():
        setattr(request, name, value)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.stub.Earn(request)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith(f"{field}:")


async def test_a_hold_reserves_points_and_commits_once(ledger: Ledger) -> None:
    await ledger.earn("ann", 100)
    placed = await ledger.hold("ann", 60, reference="redemption-1")
    assert (placed.balance.available_points, placed.balance.held_points) == (40, 60)
    committed = await ledger.commit(placed.hold.hold_id, idempotency_key="commit-1")
    assert (
        committed.hold.status == ledger_pb2.HOLD_STATUS_COMMITTED
        and committed.posting.points == -60
    )
    assert await ledger.commit(placed.hold.hold_id, idempotency_key="commit-1") == committed
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.commit(placed.hold.hold_id)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.void(placed.hold.hold_id)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    balance = await ledger.balance("ann")
    assert (balance.available_points, balance.held_points) == (40, 0)


async def test_a_voided_hold_gives_the_same_lots_back(ledger: Ledger) -> None:
    await ledger.earn("ann", 100, expires_at=ts(now() + dt.timedelta(days=10)))
    placed = await ledger.hold("ann", 70)
    voided = await ledger.void(placed.hold.hold_id)
    assert voided.hold.status == ledger_pb2.HOLD_STATUS_VOIDED
    balance = await ledger.balance("ann")
    assert (balance.available_points, balance.held_points, balance.expiring_30_days_points) == (
        100,
        0,
        100,
    )
    assert (await ledger.void(placed.hold.hold_id)).hold.status == ledger_pb2.HOLD_STATUS_VOIDED


async def test_a_lapsed_hold_cannot_be_committed(ledger: Ledger) -> None:
    await ledger.earn("ann", 100)
    placed = await ledger.hold("ann", 10, ttl_seconds=1)
    await asyncio.sleep(1.1)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.commit(placed.hold.hold_id)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "expired" in error.value.details()
    await ledger.void(placed.hold.hold_id)


async def test_refunds_reverse_pro_rata_and_never_beyond_the_purchase(ledger: Ledger) -> None:
    await ledger.earn("ann", 100, source_reference="order-9")
    # Three refunds of a third each: cumulative targets 33, 67 (66.7 rounded), 100; no drift.
    reversed_points = [
        (await ledger.refund("ann", "order-9", refunded=1_000, original=3_000)).reversed_points
        for _ in range(3)
    ]
    assert reversed_points == [33, 34, 33]
    assert (await ledger.balance("ann")).available_points == 0
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.refund("ann", "order-9", refunded=1, original=3_000)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.value.details().startswith("refund.refunded_amount:")


async def test_a_retried_refund_reverses_once(ledger: Ledger) -> None:
    await ledger.earn("ann", 100, source_reference="order-9")
    first = await ledger.refund(
        "ann", "order-9", refunded=1_500, original=3_000, idempotency_key="refund-1"
    )
    again = await ledger.refund(
        "ann", "order-9", refunded=1_500, original=3_000, idempotency_key="refund-1"
    )
    assert first == again and first.reversed_points == 50
    assert (await ledger.balance("ann")).available_points == 50


async def test_a_refund_reads_only_its_purchase_through_the_reference_index(
    ledger: Ledger, database_url: str
) -> None:
    # Member and reference concatenate alike ("ann/b/order-1") for both: each refund is its own.
    await ledger.earn("ann", 100, source_reference="b/order-1")
    await ledger.earn("ann/b", 40, source_reference="order-1")
    references = [f"order-{n}" for n in range(2, 1_002)]
    [posted] = await post(
        ledger,
        batch("references", [("ann/b", 1, 1, r) for r in references], source_references=references),
    )
    assert posted.posted_count == len(references), posted.messages[:3]
    refunded = await ledger.refund("ann/b", "order-1", refunded=1_000, original=1_000)
    assert refunded.reversed_points == 40
    assert (await ledger.balance("ann")).available_points == 100
    # Planned as the services plan (a custom plan for the values at hand) once the table has been
    # analyzed, the lookup goes through the hash index rather than the member's thousand postings.
    connection = await asyncpg.connect(
        database_url,
        server_settings={"search_path": "ledger", "plan_cache_mode": "force_custom_plan"},
    )
    try:
        await connection.execute("ANALYZE postings")
        plan = await connection.fetchval(
            f"EXPLAIN (FORMAT JSON) {store.EARN_POSTINGS_OF_REFERENCE}",
            ledger.program_id,
            "ann/b",
            "order-7",
        )
    finally:
        await connection.close()
    assert '"Index Name": "postings_reference"' in plan, plan


async def test_a_refund_of_an_unknown_purchase_is_not_found(ledger: Ledger) -> None:
    await ledger.earn("ann", 100, source_reference="order-1")
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.refund("ann", "order-2", refunded=1, original=10)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_refund_of_spent_points_is_recorded_as_debt_and_repaid_by_the_next_earn(
    ledger: Ledger,
) -> None:
    await ledger.earn("ann", 100, source_reference="order-1")
    await ledger.redeem("ann", 80)
    reversed_ = await ledger.refund("ann", "order-1", refunded=5_000, original=5_000)
    assert (reversed_.reversed_points, reversed_.debt_points) == (100, 80)
    assert reversed_.balance.debt_points == 80 and reversed_.balance.available_points == 0
    after = await ledger.earn("ann", 50)
    assert (after.balance.debt_points, after.balance.available_points) == (30, 0)
    after = await ledger.earn("ann", 50)
    assert (after.balance.debt_points, after.balance.available_points) == (0, 20)


async def test_reversing_a_posting_twice_has_no_second_effect(ledger: Ledger) -> None:
    earned = await ledger.earn("ann", 100)
    request = dict(program_id="acme", member_id="ann", posting_id=earned.posting.posting_id)
    first = await ledger.stub.Reverse(ledger_pb2.ReverseRequest(idempotency_key=key(), **request))
    second = await ledger.stub.Reverse(ledger_pb2.ReverseRequest(idempotency_key=key(), **request))
    assert (first.reversed_points, second.reversed_points) == (100, 0)
    assert (await ledger.balance("ann")).available_points == 0


async def reverse(ledger: Ledger, member: str, posting_id: int) -> int:
    response = await ledger.stub.Reverse(
        ledger_pb2.ReverseRequest(
            program_id=ledger.program_id,
            idempotency_key=key(),
            member_id=member,
            posting_id=posting_id,
        )
    )
    return response.reversed_points


async def test_a_refund_and_a_reversal_of_one_purchase_take_its_points_back_once(
    ledger: Ledger,
) -> None:
    await ledger.earn("ann", 70, source_reference="other")
    first = await ledger.earn("ann", 100, source_reference="order-1")
    half = await ledger.refund("ann", "order-1", refunded=500, original=1_000)
    rest = await reverse(ledger, "ann", first.posting.posting_id)
    again = await ledger.refund("ann", "order-1", refunded=500, original=1_000)
    assert (half.reversed_points, rest, again.reversed_points) == (50, 50, 0)
    # The other way round: the reversal first, then a refund of the whole purchase.
    second = await ledger.earn("ann", 100, source_reference="order-2")
    assert await reverse(ledger, "ann", second.posting.posting_id) == 100
    refunded = await ledger.refund("ann", "order-2", refunded=1_000, original=1_000)
    assert refunded.reversed_points == 0
    balance = await ledger.balance("ann")
    assert (balance.available_points, balance.debt_points) == (70, 0)


async def test_reversing_the_postings_of_a_refunded_purchase_takes_back_only_what_is_left(
    ledger: Ledger,
) -> None:
    # Two postings of one purchase; the refund's reversal is booked against the first.
    await ledger.earn("ann", 70, source_reference="other")
    first = await ledger.earn("ann", 60, source_reference="order-1")
    second = await ledger.earn("ann", 40, source_reference="order-1")
    refunded = await ledger.refund("ann", "order-1", refunded=900, original=1_000)
    assert refunded.reversed_points == 90
    assert await reverse(ledger, "ann", first.posting.posting_id) == 0
    assert await reverse(ledger, "ann", second.posting.posting_id) == 10
    assert await reverse(ledger, "ann", second.posting.posting_id) == 0
    balance = await ledger.balance("ann")
    assert (balance.available_points, balance.debt_points) == (70, 0)


async def test_a_refund_giving_another_purchase_amount_names_it(ledger: Ledger) -> None:
    await ledger.earn("ann", 100, source_reference="order-1")
    await ledger.refund("ann", "order-1", refunded=1_000, original=3_000)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.refund("ann", "order-1", refunded=500, original=3_500)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("refund.original_amount.amount_minor: 3500 differs")
    assert (await ledger.balance("ann")).available_points == 67


@pytest.mark.parametrize("posting_id", ["99999999999999999999", "²", "١٢"])
async def test_a_posting_id_that_is_not_one_is_invalid_naming_it(
    ledger: Ledger, posting_id: str
) -> None:
    await ledger.earn("ann", 12)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.stub.Reverse(
            ledger_pb2.ReverseRequest(
                program_id=ledger.program_id,
                idempotency_key=key(),
                member_id="ann",
                posting_id=posting_id,
            )
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("posting_id:")
    assert (await ledger.balance("ann")).available_points == 12


async def test_a_transfer_moves_points_with_their_expiry(ledger: Ledger) -> None:
    expiry = now() + dt.timedelta(days=40)
    await ledger.earn("ann", 100, expires_at=ts(expiry))
    moved = await ledger.transfer("ann", "bob", 30)
    assert moved.transferred_points == 30
    assert (moved.source_balance.available_points, moved.target_balance.available_points) == (
        70,
        30,
    )
    lots = await ledger.stub.ListLots(
        ledger_pb2.ListLotsRequest(program_id="acme", member_id="bob")
    )
    assert [lot.expires_at.ToDatetime(tzinfo=dt.UTC) for lot in lots.lots] == [
        expiry.replace(microsecond=expiry.microsecond)
    ]


async def test_transfer_all_moves_pending_points_and_debt_too(ledger: Ledger) -> None:
    await ledger.earn("ann", 100, source_reference="o1")
    await ledger.redeem("ann", 100)
    await ledger.refund("ann", "o1", refunded=10, original=10)  # debt 100
    await ledger.earn("ann", 150, vested=False)  # repays the debt; 50 pending
    await ledger.earn("ann", 40)
    moved = await ledger.transfer("ann", "bob", transfer_all=True)
    assert moved.transferred_points == 90
    bob = await ledger.balance("bob")
    assert (bob.available_points, bob.pending_points, bob.debt_points) == (40, 50, 0)
    ann = await ledger.balance("ann")
    assert (ann.available_points, ann.pending_points, ann.debt_points) == (0, 0, 0)


async def test_transfer_all_moves_the_progress_towards_a_tier_with_its_days(
    ledger: Ledger, database_url: str
) -> None:
    # Qualifying amounts of ann: a unary earn today, a batch item of today (the account's day
    # bucket) and one of 40 days ago (a qualifying_days row); bob has 400 of his own.
    today_micros = int(now().timestamp() * 1_000_000)
    days_ago_micros = today_micros - 40 * 86_400 * 1_000_000
    await ledger.earn("ann", 300, qualifying=True)
    [posted] = await post(
        ledger,
        batch(
            "ann-days",
            [("ann", 200, 1, "k-today"), ("ann", 100, 1, "k-days-ago")],
            occurred_at_unix_micros=[today_micros, days_ago_micros],
            qualifying_flags=[True, True],
        ),
    )
    assert posted.posted_count == 2, posted.messages
    await ledger.earn("bob", 400, qualifying=True)
    assert (await ledger.balance("ann")).qualifying_amount == 600
    moved = await ledger.transfer("ann", "bob", transfer_all=True)
    assert moved.transferred_points == 600
    bob, ann = await ledger.balance("bob"), await ledger.balance("ann")
    assert (bob.qualifying_amount, bob.tier_code) == (1_000, "silver")
    assert ann.qualifying_amount == 0
    # The moved amounts keep their days, so each leaves bob's window when it would have left ann's.
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "ledger"})
    try:
        since = dt.date(2000, 1, 1)
        days = {
            member: await store.qualifying_by_day(connection, "acme", member, since=since)
            for member in ("ann", "bob")
        }
    finally:
        await connection.close()
    zone = zoneinfo.ZoneInfo("Europe/Amsterdam")  # the program's (support.program_config)
    today = now().astimezone(zone).date()
    days_ago = dt.datetime.fromtimestamp(days_ago_micros / 1_000_000, zone).date()
    assert days == {"ann": [], "bob": [(days_ago, 100), (today, 900)]}
    assert (await ledger.verify()).differences_count == 0


async def test_a_purchase_made_before_a_merge_is_refunded_from_the_survivor(
    ledger: Ledger, database_url: str
) -> None:
    await ledger.earn("old-card", 100, qualifying=True, source_reference="order-1")
    await ledger.earn("app-user", 40)
    await ledger.transfer("old-card", "app-user", transfer_all=True)  # identity's merge
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "ledger"})
    try:  # what the ledger's member_merged consumer does after the transfer
        await connection.execute(
            "UPDATE member_accounts SET closed_into = 'app-user' WHERE member_id = 'old-card'"
        )
    finally:
        await connection.close()
    half = await ledger.refund("old-card", "order-1", refunded=500, original=1_000)
    assert (half.reversed_points, half.balance.member_id) == (50, "app-user")
    rest = await ledger.refund("old-card", "order-1", refunded=500, original=1_000)
    assert rest.reversed_points == 50
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.refund("old-card", "order-1", refunded=1, original=1_000)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    survivor = await ledger.balance("app-user")
    assert (survivor.available_points, survivor.qualifying_amount) == (40, 0)
    assert (await ledger.balance("old-card")).available_points == 0
    with pytest.raises(grpc.aio.AioRpcError) as error:  # new points still go to the survivor
        await ledger.earn("old-card", 5)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_points_past_their_expiry_expire_exactly(ledger: Ledger) -> None:
    await ledger.earn("ann", 70, expires_at=ts(now() - dt.timedelta(seconds=1)))
    await ledger.earn("ann", 30)
    balance = await ledger.balance("ann")
    assert balance.available_points == 30
    history = await ledger.stub.ListHistory(
        ledger_pb2.ListHistoryRequest(program_id="acme", member_id="ann")
    )
    # Newest first: the second earn found the first lot due and expired it before posting.
    assert [(p.kind, p.points) for p in history.postings] == [(1, 30), (4, -70), (1, 70)]
    report = await ledger.stub.GetLiabilityReport(
        ledger_pb2.GetLiabilityReportRequest(program_id="acme")
    )
    assert (
        report.outstanding_points,
        report.expired_account_points,
        report.issued_account_points,
    ) == (30, 70, -100)


async def test_qualifying_points_upgrade_the_tier_at_once(ledger: Ledger) -> None:
    earned = await ledger.earn("ann", 999, qualifying=True)
    assert earned.balance.tier_code == "member" and earned.balance.to_next_tier_amount == 1
    earned = await ledger.earn("ann", 1, qualifying=True)
    assert (earned.balance.tier_code, earned.balance.next_tier_code) == ("silver", "gold")
    earned = await ledger.earn("ann", 10_000)
    assert earned.balance.tier_code == "silver"  # not qualifying


async def test_retries_of_one_earn_have_one_effect(ledger: Ledger) -> None:
    vests_at = ts(now() - dt.timedelta(seconds=1))  # one request, sent 20 times at once
    results = await asyncio.gather(
        *(ledger.earn("ann", 10, idempotency_key="same", vests_at=vests_at) for _ in range(20))
    )
    assert len({r.posting.posting_id for r in results}) == 1
    assert (await ledger.balance("ann")).available_points == 10
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.earn("ann", 11, idempotency_key="same", vests_at=vests_at)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_concurrent_spends_never_take_more_than_there_is(ledger: Ledger) -> None:
    await ledger.earn("ann", 100)
    outcomes = await asyncio.gather(
        *(ledger.redeem("ann", 10) for _ in range(64)), return_exceptions=True
    )
    succeeded = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert len(succeeded) == 10 and len(refused) == 54
    assert {r.code() for r in refused} == {grpc.StatusCode.FAILED_PRECONDITION}
    assert (await ledger.balance("ann")).available_points == 0


async def test_lots_are_listed_in_the_order_they_are_spent_across_pages(ledger: Ledger) -> None:
    late = await ledger.earn("ann", 10, expires_at=ts(now() + dt.timedelta(days=300)))
    soon = await ledger.earn("ann", 20, expires_at=ts(now() + dt.timedelta(days=3)))
    middle = await ledger.earn("ann", 30, expires_at=ts(now() + dt.timedelta(days=30)))
    seen, token = [], ""
    while True:
        page = await ledger.stub.ListLots(
            ledger_pb2.ListLotsRequest(
                program_id="acme", member_id="ann", page_size=1, page_token=token
            )
        )
        seen += [lot.lot_id for lot in page.lots]
        token = page.next_page_token
        if not token:
            break
    assert seen == [soon.lot.lot_id, middle.lot.lot_id, late.lot.lot_id]


async def test_reversing_a_spend_gives_the_points_back_to_their_lots_with_their_expiry(
    ledger: Ledger,
) -> None:
    soon = now() + dt.timedelta(days=5)
    earned = await ledger.earn("ann", 100, expires_at=ts(soon))
    redeemed = await ledger.redeem("ann", 60)
    placed = await ledger.hold("ann", 30)
    committed = await ledger.commit(placed.hold.hold_id)
    for spend, points in ((redeemed.posting, 60), (committed.posting, 30)):
        request = dict(program_id="acme", member_id="ann", posting_id=spend.posting_id)
        first = await ledger.stub.Reverse(
            ledger_pb2.ReverseRequest(idempotency_key=key(), **request)
        )
        again = await ledger.stub.Reverse(
            ledger_pb2.ReverseRequest(idempotency_key=key(), **request)
        )
        assert (first.reversed_points, again.reversed_points) == (points, 0)
    balance = await ledger.balance("ann")
    # Back in the same lot, so still expiring in five days: a cancellation does not renew points.
    assert (balance.available_points, balance.expiring_30_days_points) == (100, 100)
    lots = await ledger.stub.ListLots(
        ledger_pb2.ListLotsRequest(program_id="acme", member_id="ann")
    )
    assert [(lot.lot_id, lot.remaining_points) for lot in lots.lots] == [(earned.lot.lot_id, 100)]
    report = await ledger.stub.GetLiabilityReport(
        ledger_pb2.GetLiabilityReportRequest(program_id="acme")
    )
    assert report.redeemed_account_points == 0


async def test_history_keeps_to_the_kinds_and_the_times_asked_for(ledger: Ledger) -> None:
    await ledger.earn("ann", 50, vests_at=ts(now() - dt.timedelta(seconds=1)))
    first = await ledger.stub.ListHistory(
        ledger_pb2.ListHistoryRequest(program_id="acme", member_id="ann")
    )
    await asyncio.sleep(0.01)
    await ledger.earn("ann", 20, vests_at=ts(now() - dt.timedelta(seconds=1)))
    await ledger.redeem("ann", 30)

    async def history(**fields) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
        answer = await ledger.stub.ListHistory(
            ledger_pb2.ListHistoryRequest(program_id="acme", member_id="ann", **fields)
        )
        return [(p.kind, p.points) for p in answer.postings]

    assert await history() == [(2, -30), (1, 20), (1, 50)]
    assert await history(kinds=[1]) == [(1, 20), (1, 50)]
    assert await history(kinds=[2, 1], page_size=1) == [(2, -30)]
    after_first = first.postings[0].posted_at.ToDatetime(tzinfo=dt.UTC) + dt.timedelta(
        microseconds=1
    )
    assert await history(start_time=ts(after_first)) == [(2, -30), (1, 20)]
    assert await history(end_time=ts(after_first)) == [(1, 50)]
    assert await history(kinds=[1], start_time=ts(after_first)) == [(1, 20)]
    for fields, field in (
        ({"kinds": [0]}, "kinds"),
        ({"kinds": [99]}, "kinds"),
        ({"start_time": ts(after_first), "end_time": ts(after_first)}, "end_time"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await history(**fields)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert ("loyalty-error-field", field) in tuple(error.value.trailing_metadata())


async def test_spend_allocations_come_in_pages_of_the_size_asked_for(ledger: Ledger) -> None:
    for days in (30, 60, 90):
        await ledger.earn("ann", 10, expires_at=ts(now() + dt.timedelta(days=days)))
    await ledger.earn("ann", 10)  # never expires: consumed last
    redeemed = await ledger.redeem("ann", 35)
    assert [a.points for a in redeemed.allocations] == [10, 10, 10, 5]

    async def page(**fields) -> ledger_pb2.ListSpendAllocationsResponse:  # type: ignore[no-untyped-def]
        return await ledger.stub.ListSpendAllocations(
            ledger_pb2.ListSpendAllocationsRequest(
                program_id="acme",
                member_id="ann",
                posting_id=redeemed.posting.posting_id,
                **fields,
            )
        )

    first = await page(page_size=3)
    assert list(first.allocations) == list(redeemed.allocations[:3]) and first.next_page_token
    rest = await page(page_size=3, page_token=first.next_page_token)
    assert list(rest.allocations) == list(redeemed.allocations[3:]) and not rest.next_page_token
    assert not (await page()).next_page_token
    for fields, field in (({"page_size": -1}, "page_size"), ({"page_token": "x"}, "page_token")):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await page(**fields)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert ("loyalty-error-field", field) in tuple(error.value.trailing_metadata())


async def test_balances_of_several_members_leave_the_unknown_ones_out(ledger: Ledger) -> None:
    await ledger.earn("ann", 10)
    await ledger.earn("bob", 20)
    answer = await ledger.stub.BatchGetBalances(
        ledger_pb2.BatchGetBalancesRequest(program_id="acme", member_ids=["bob", "nobody", "ann"])
    )
    assert [(b.member_id, b.available_points) for b in answer.balances] == [
        ("bob", 20),
        ("ann", 10),
    ]


async def test_verify_counts_every_difference_and_returns_at_most_the_number_asked_for(
    ledger: Ledger, database_url: str
) -> None:
    for member in ("ann", "bob", "cat"):
        await ledger.earn(member, 10)
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "ledger"})
    try:  # a stored vested balance one point off the lots and postings behind it, for each
        await connection.execute("UPDATE member_accounts SET vested = vested + 1")
        try:
            found = await ledger.stub.Verify(
                ledger_pb2.VerifyRequest(program_id="acme", differences_max=2)
            )
        finally:
            await connection.execute("UPDATE member_accounts SET vested = vested - 1")
    finally:
        await connection.close()
    # Per member: balance and vested; then the program's sum.
    assert found.differences_count == 7 and len(found.differences) == 2
    assert [(d.account_id, d.field) for d in found.differences] == [
        ("member:ann", "balance"),
        ("member:ann", "vested"),
    ]


async def test_an_adjustment_names_its_operator_and_its_reason_code(ledger: Ledger) -> None:
    async def adjust(**reason) -> ledger_pb2.AdjustResponse:  # type: ignore[no-untyped-def]
        return await ledger.stub.Adjust(
            ledger_pb2.AdjustRequest(
                program_id="acme",
                idempotency_key=key(),
                member_id="ann",
                points=25,
                reason=ledger_pb2.PostingReason(**reason),
            )
        )

    made = await adjust(operator_id="op-1", code="goodwill", note="late delivery")
    assert (made.posting.points, made.posting.reason.code) == (25, "goodwill")
    for reason, field in (
        ({"code": "goodwill"}, "reason.operator_id"),
        ({"operator_id": "op-1"}, "reason.code"),
        ({"operator_id": "op-1", "code": "Good will"}, "reason.code"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await adjust(**reason)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert ("loyalty-error-field", field) in tuple(error.value.trailing_metadata())
    assert (await ledger.balance("ann")).available_points == 25


async def test_only_a_credit_counts_towards_tiers(ledger: Ledger) -> None:
    # A qualifying debit counted on today took the member's tier progress to -100 (and 1,100
    # points to the next tier of 1,000); the proto had it count for positive points only.
    def adjust(points: int) -> ledger_pb2.AdjustRequest:
        return ledger_pb2.AdjustRequest(
            program_id="acme",
            idempotency_key=key(),
            member_id="ann",
            points=points,
            qualifying=True,
            reason=ledger_pb2.PostingReason(operator_id="op-1", code="correction"),
        )

    await ledger.earn("ann", 100)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.stub.Adjust(adjust(-100))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("loyalty-error-field", "qualifying") in tuple(error.value.trailing_metadata())
    credited = await ledger.stub.Adjust(adjust(50))
    assert (credited.balance.available_points, credited.balance.qualifying_amount) == (150, 50)
    [answer] = await post(
        ledger,
        batch("b1", [("ann", -30, 3, "i1"), ("ann", 30, 3, "i2")], qualifying_flags=[True, True]),
    )
    assert list(answer.statuses) == [3, 1]  # the debit is rejected alone
    assert answer.messages[0].startswith("qualifying_flags: only positive points count")
    balance = await ledger.balance("ann")
    assert (balance.available_points, balance.qualifying_amount) == (180, 80)


async def test_qualifying_spend_is_taken_in_the_programs_currency_only(ledger: Ledger) -> None:
    def spend(currency: str) -> common_pb2.Money:
        return common_pb2.Money(amount_minor=2_500, currency=currency)

    await ledger.earn("ann", 25, qualifying=True, qualifying_spend=spend("EUR"))
    for currency in ("USD", ""):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await ledger.earn("ann", 25, qualifying=True, qualifying_spend=spend(currency))
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert ("loyalty-error-field", "qualifying_spend.currency") in tuple(
            error.value.trailing_metadata()
        )
    assert (await ledger.balance("ann")).lifetime_earned_points == 25


async def test_a_hold_is_voided_for_a_known_reason_only(ledger: Ledger) -> None:
    await ledger.earn("ann", 100)
    placed = await ledger.hold("ann", 30)

    async def void(reason: int) -> ledger_pb2.VoidHoldResponse:
        return await ledger.void(placed.hold.hold_id, reason=reason)

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await void(99)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("loyalty-error-field", "reason") in tuple(error.value.trailing_metadata())
    voided = await void(common_pb2.HOLD_VOID_REASON_CANCELLED)
    assert voided.hold.void_reason == common_pb2.HOLD_VOID_REASON_CANCELLED


async def test_a_forged_page_token_is_refused_as_the_callers_error(ledger: Ledger) -> None:
    await ledger.earn("ann", 5)

    member = {"program_id": "acme", "member_id": "ann"}
    for call, request in (
        (
            ledger.stub.ListHistory,
            ledger_pb2.ListHistoryRequest(**member, page_token=forged(before="x")),
        ),
        (
            ledger.stub.GetTierHistory,
            ledger_pb2.GetTierHistoryRequest(**member, page_token=forged(before=[1])),
        ),
        (
            ledger.stub.ListPostings,
            ledger_pb2.ListPostingsRequest(
                program_id="acme", page_token=forged(member="ann", posting="x")
            ),
        ),
        (
            ledger.stub.ListAccounts,
            ledger_pb2.ListAccountsRequest(program_id="acme", page_token=forged(after=7)),
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await call(request)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, error.value.details()
        assert ("loyalty-error-field", "page_token") in tuple(error.value.trailing_metadata())


@pytest.mark.parametrize("number", [2**64, 2**63, -(2**63) - 1, 10**30])
async def test_a_page_token_holding_a_number_past_its_column_is_the_callers_error(
    ledger: Ledger, number: int
) -> None:
    earned = await ledger.earn("ann", 5)
    redeemed = await ledger.redeem("ann", 2)

    expires = earned.lot.expires_at.ToDatetime(tzinfo=dt.UTC).isoformat()
    member = {"program_id": "acme", "member_id": "ann"}
    for call, request in (
        (
            ledger.stub.ListHistory,
            ledger_pb2.ListHistoryRequest(**member, page_token=forged(before=number)),
        ),
        (
            ledger.stub.GetTierHistory,
            ledger_pb2.GetTierHistoryRequest(**member, page_token=forged(before=number)),
        ),
        (
            ledger.stub.ListPostings,
            ledger_pb2.ListPostingsRequest(
                program_id="acme", page_token=forged(member="ann", posting=number)
            ),
        ),
        (
            ledger.stub.ListLots,
            ledger_pb2.ListLotsRequest(**member, page_token=forged(expires=expires, lot=number)),
        ),
        (
            ledger.stub.ListSpendAllocations,
            ledger_pb2.ListSpendAllocationsRequest(
                **member,
                posting_id=redeemed.posting.posting_id,
                page_token=forged(expires=expires, lot=number),
            ),
        ),
        (
            ledger.stub.ListTierDefinitions,
            ledger_pb2.ListTierDefinitionsRequest(
                program_id="acme", page_token=forged(rank=number)
            ),
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await call(request)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (call, error.value.details())
        assert ("loyalty-error-field", "page_token") in tuple(error.value.trailing_metadata())


async def test_a_voided_hold_keeps_the_note_it_was_voided_with(ledger: Ledger) -> None:
    await ledger.earn("ann", 100)
    placed = await ledger.hold("ann", 30)

    async def void(note: str) -> ledger_pb2.VoidHoldResponse:
        return await ledger.void(
            placed.hold.hold_id, reason=common_pb2.HOLD_VOID_REASON_CANCELLED, note=note
        )

    assert placed.hold.void_note == ""
    voided = await void("till crashed before printing the voucher")
    assert voided.hold.void_note == "till crashed before printing the voucher"
    again = await void("a second void changes nothing")
    assert again.hold.void_note == "till crashed before printing the voucher"
    read = await ledger.stub.GetHold(
        ledger_pb2.GetHoldRequest(program_id="acme", hold_id=placed.hold.hold_id)
    )
    assert read.hold.void_note == "till crashed before printing the voucher"
    assert read.hold.void_reason == common_pb2.HOLD_VOID_REASON_CANCELLED
