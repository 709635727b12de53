"""PostBatch: columnar batches committed atomically with per-item results."""

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import asyncpg
import grpc
import pytest

from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.ledger.app import SPEC, LedgerConfig
from services.ledger.batches import Columns, _check_spends_total
from services.shared.errors import InvalidArgument
from tests.services.ledger.support import Ledger, batch, post

EARN, REDEEM, ADJUST, EXPIRE = 1, 2, 3, 4
POSTED, DUPLICATE, REJECTED = 1, 2, 3


@pytest.fixture
async def ledger(start_service):
    async with start_service(SPEC, LedgerConfig, batch_size_max=1_000) as (_, channel):
        client = Ledger(channel)
        await client.setup(return_window_days=0)
        yield client
        await client.assert_clean()


async def test_a_stream_of_batches_posts_each_with_per_item_results(ledger: Ledger) -> None:
    first, second = await post(
        ledger,
        batch("b1", [("ann", 100, EARN, "i1"), ("bob", 50, EARN, "i2"), ("ann", 20, EARN, "i3")]),
        batch(
            "b2",
            [
                ("ann", 30, REDEEM, "i4"),
                ("bob", 80, REDEEM, "i5"),
                ("cat", 5, REDEEM, "i6"),
                ("bob", 0, EARN, "i7"),
                ("bob", 5, EXPIRE, "i8"),
                ("", 5, EARN, "i9"),
            ],
        ),
    )
    assert list(first.statuses) == [POSTED] * 3 and first.earned_points_total == 170
    assert list(second.statuses) == [POSTED, REJECTED, REJECTED, REJECTED, REJECTED, REJECTED]
    assert list(second.reject_reasons) == [0, 2, 1, 3, 4, 7]
    assert second.messages[1] == "points: 50 points available, 80 asked"
    assert (second.posted_count, second.rejected_count, second.redeemed_points_total) == (1, 5, 30)
    assert (await ledger.balance("ann")).available_points == 90
    assert (await ledger.balance("bob")).available_points == 50


async def test_items_seen_before_are_duplicates_and_a_resent_batch_replays(ledger: Ledger) -> None:
    [first] = await post(ledger, batch("b1", [("ann", 100, EARN, "i1"), ("bob", 10, EARN, "i2")]))
    [again] = await post(ledger, batch("b1", [("ann", 100, EARN, "i1"), ("bob", 10, EARN, "i2")]))
    assert again == first
    [overlap] = await post(
        ledger,
        batch(
            "b2",
            [
                ("ann", 100, EARN, "i1"),
                ("ann", 7, EARN, "i3"),
                ("ann", 8, EARN, "i3"),
                ("bob", 11, EARN, "i2"),
            ],
        ),
    )
    assert list(overlap.statuses) == [DUPLICATE, POSTED, REJECTED, REJECTED]
    assert overlap.posting_ids[0] == first.posting_ids[0]
    assert list(overlap.reject_reasons)[2:] == [6, 6]
    assert (await ledger.balance("ann")).available_points == 107


async def test_a_key_is_per_member_in_a_fresh_batch(ledger: Ledger) -> None:
    # A key used by two members is two items; used twice by one member, the second is refused.
    [shared, repeated] = await post(
        ledger,
        batch("b1", [("ann", 10, EARN, "k"), ("bob", 20, EARN, "k")]),
        batch("b2", [("cat", 30, EARN, "k"), ("cat", 40, EARN, "k")]),
    )
    assert list(shared.statuses) == [POSTED, POSTED]
    assert list(repeated.statuses) == [POSTED, REJECTED]
    assert repeated.messages[1] == "idempotency_key: repeats item 0 of this batch"
    assert [(await ledger.balance(m)).available_points for m in ("ann", "bob", "cat")] == [
        10,
        20,
        30,
    ]


async def test_earns_open_accounts_move_tiers_and_pay_debt(ledger: Ledger) -> None:
    await ledger.earn("dan", 10, source_reference="o1")
    await ledger.redeem("dan", 10)
    await ledger.refund("dan", "o1", refunded=1, original=1)  # dan owes 10
    [response] = await post(
        ledger,
        batch(
            "b1",
            [("eve", 1_200, EARN, "e1"), ("dan", 25, EARN, "d1")],
            qualifying_flags=[True, False],
        ),
    )
    assert response.tier_changes_count == 1
    eve, dan = await ledger.balance("eve"), await ledger.balance("dan")
    assert (eve.tier_code, eve.available_points) == ("silver", 1_200)
    assert (dan.debt_points, dan.available_points) == (0, 15)


async def test_a_batch_over_the_limit_is_resource_exhausted_and_nothing_is_written(
    ledger: Ledger,
) -> None:
    items = [(f"m{i}", 1, EARN, f"k{i}") for i in range(1_001)]
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await post(ledger, batch("big", items))
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    result = await ledger.verify()
    assert result.accounts_checked_count == 0


async def test_columns_of_unequal_length_are_refused(ledger: Ledger) -> None:
    request = batch("b1", [("ann", 1, EARN, "i1"), ("bob", 1, EARN, "i2")])
    request.source_references.append("only-one")
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await post(ledger, request)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("source_references:")


async def test_adjustments_in_a_batch(ledger: Ledger) -> None:
    await post(ledger, batch("b1", [("ann", 50, EARN, "i1")]))
    [response] = await post(
        ledger, batch("b2", [("ann", -20, ADJUST, "i2"), ("ann", -100, ADJUST, "i3")])
    )
    assert list(response.statuses) == [POSTED, REJECTED]
    assert (await ledger.balance("ann")).available_points == 30
    assert common_pb2.POSTING_KIND_ADJUST == ADJUST


async def test_batches_locking_members_in_opposite_orders_both_commit(ledger: Ledger) -> None:
    await post(ledger, batch("fund", [("ann", 1_000, EARN, "f1"), ("bob", 1_000, EARN, "f2")]))
    for round_ in range(10):
        forward, backward = await asyncio.gather(
            post(
                ledger,
                batch(
                    f"ab{round_}",
                    [("ann", 1, REDEEM, f"ab{round_}a"), ("bob", 1, REDEEM, f"ab{round_}b")],
                ),
            ),
            post(
                ledger,
                batch(
                    f"ba{round_}",
                    [("bob", 1, REDEEM, f"ba{round_}b"), ("ann", 1, REDEEM, f"ba{round_}a")],
                ),
            ),
        )
        assert forward[0].posted_count == backward[0].posted_count == 2
    assert (await ledger.balance("ann")).available_points == 980


async def test_the_rules_behind_batch_items_are_in_the_history(ledger: Ledger) -> None:
    await post(
        ledger,
        batch(
            "b1",
            [("ann", 10, EARN, "i1"), ("ann", 5, EARN, "i2")],
            reason_codes=["base@3,weekend@1", ""],
        ),
    )
    history = await ledger.stub.ListHistory(
        ledger_pb2.ListHistoryRequest(program_id="acme", member_id="ann")
    )
    assert [list(p.reason.rule_ids) for p in history.postings] == [[], ["base@3", "weekend@1"]]


async def test_a_stream_answers_in_order_and_a_batch_waits_for_earlier_ones_of_its_members(
    ledger: Ledger,
) -> None:
    # Batches of other members may post at the same time; a batch that spends what an earlier
    # batch of the same stream earned must see it, and the answers keep the stream's order.
    requests = []
    for number in range(6):
        group = [f"g{number % 2}-{i}" for i in range(20)]
        kind = EARN if number < 2 else REDEEM
        requests.append(batch(f"s{number}", [(m, 10, kind, f"s{number}-{m}") for m in group]))
    responses = await post(ledger, *requests)
    assert [r.batch_id for r in responses] == [f"s{n}" for n in range(6)]
    # Each member earned 10 and then spends 10 twice: the first spend posts, the second finds
    # nothing left, whichever connection its batch ran on.
    assert [r.posted_count for r in responses] == [20, 20, 20, 20, 0, 0]
    assert [r.rejected_count for r in responses] == [0, 0, 0, 0, 20, 20]
    assert (await ledger.balance("g1-3")).available_points == 0


async def test_a_resent_stream_with_a_few_new_items_posts_only_those(ledger: Ledger) -> None:
    [first] = await post(ledger, batch("b1", [("ann", 10, EARN, "i1"), ("bob", 10, EARN, "i2")]))
    # Another batch id, one item posted before: that item is a duplicate, the new one posts.
    [second] = await post(ledger, batch("b2", [("bob", 10, EARN, "i2"), ("cat", 5, EARN, "i3")]))
    assert list(second.statuses) == [DUPLICATE, POSTED]
    assert second.posting_ids[0] == first.posting_ids[1]
    assert (await ledger.balance("bob")).available_points == 10
    assert (await ledger.balance("cat")).available_points == 5


async def test_a_failing_batch_ends_the_stream_after_the_answers_before_it(ledger: Ledger) -> None:
    good = batch("b1", [("ann", 10, EARN, "i1")])
    bad = batch("b2", [("bob", 10, EARN, "i2")])
    bad.program_id = "nope"
    answers = []
    with pytest.raises(grpc.aio.AioRpcError) as error:

        async def stream():
            yield good
            yield bad

        async for response in ledger.stub.PostBatch(stream()):
            answers.append(response.batch_id)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert answers == ["b1"]


async def test_qualifying_days_of_batches_count_and_leave_the_window(
    ledger: Ledger, database_url: str
) -> None:
    today = dt.datetime.now(dt.UTC)
    micros = int(today.timestamp() * 1e6)
    day = dt.timedelta(days=1)
    # Today's amount goes to the account's day bucket, yesterday's to a row of its own.
    await post(
        ledger,
        batch(
            "b1",
            [("ann", 300, EARN, "i1"), ("ann", 200, EARN, "i2")],
            qualifying_flags=[True, True],
            occurred_at_unix_micros=[micros, micros - int(day.total_seconds() * 1e6)],
        ),
    )
    assert (await ledger.balance("ann")).qualifying_amount == 500
    connection = await asyncpg.connect(database_url)
    try:
        # The bucket as a batch of an earlier day left it: the next batch moves it to a row.
        await connection.execute(
            "UPDATE ledger.member_accounts SET qualifying_day = qualifying_day - 2 "
            "WHERE member_id = 'ann'"
        )
        [second] = await post(
            ledger, batch("b2", [("ann", 700, EARN, "i3")], qualifying_flags=[True])
        )
        assert second.tier_changes_count == 1  # 1,200 reaches silver
        rows = await connection.fetch(
            "SELECT day, sum(amount) AS amount FROM ledger.qualifying_days WHERE member_id = 'ann' "
            "GROUP BY day ORDER BY day"
        )
        account = await connection.fetchrow(
            "SELECT qualifying, qualifying_day, qualifying_day_amount FROM ledger.member_accounts "
            "WHERE member_id = 'ann'"
        )
        local_today = today.astimezone(ZoneInfo("Europe/Amsterdam")).date()
        assert [(r["day"], r["amount"]) for r in rows] == [
            (local_today - 2 * day, 300),
            (local_today - day, 200),
        ]
        assert tuple(account) == (1_200, local_today, 700)
        # A year later: the bucket left the window and is taken off at re-qualification, like
        # the rows. (Buckets are looked for once each time the window start moves, which the
        # job notes in program_jobs: as if it had not seen this start yet.)
        async with connection.transaction():
            await connection.execute(
                "UPDATE ledger.member_accounts SET qualifying_day = qualifying_day - 400 "
                "WHERE member_id = 'ann'"
            )
            await connection.execute("UPDATE ledger.qualifying_days SET day = day - 400")
            await connection.execute(
                "DELETE FROM ledger.program_jobs WHERE job = 'qualifying_day_buckets'"
            )
    finally:
        await connection.close()
    await ledger.stub.RunMaintenance(
        ledger_pb2.RunMaintenanceRequest(
            program_id="acme",
            idempotency_key="requalify",
            job=ledger_pb2.MAINTENANCE_JOB_TIER_REQUALIFICATION,
        )
    )
    balance = await ledger.balance("ann")
    assert (balance.qualifying_amount, balance.tier_code) == (0, "member")


async def test_items_holding_a_nul_character_are_rejected_alone(ledger: Ledger) -> None:
    # PostgreSQL's text cannot hold NUL: such an item failed the whole batch's COPY (INTERNAL).
    [answer] = await post(
        ledger,
        batch(
            "b1",
            [
                ("ann", 10, EARN, "i1"),
                ("b\x00b", 10, EARN, "i2"),
                ("cat", 10, EARN, "i\x003"),
            ],
        ),
    )
    assert list(answer.statuses) == [POSTED, REJECTED, REJECTED]
    assert answer.messages[1].startswith("member_id:")
    assert answer.messages[2].startswith("idempotency_key:")
    assert (await ledger.balance("ann")).available_points == 10
    request = batch("b2", [("ann", 5, EARN, "i4"), ("ann", 5, EARN, "i5")])
    request.source_references.extend(["t4", "t\x005"])
    [answer] = await post(ledger, request)
    assert list(answer.statuses) == [POSTED, REJECTED]
    assert answer.messages[1] == "source_reference: holds a NUL character"


async def test_qualifying_spends_out_of_range_are_rejected_alone(ledger: Ledger) -> None:
    # Under the spend basis a negative spend took the member's tier progress below zero, and
    # two spends of 2**63 - 1 added up to -2 (numpy wraps); Earn refuses both on the field.
    await ledger.setup(return_window_days=0, qualifying_basis=ledger_pb2.QUALIFYING_BASIS_SPEND)
    [answer] = await post(
        ledger,
        batch(
            "b1",
            [
                ("ann", 10, EARN, "i1"),
                ("ann", 10, EARN, "i2"),
                ("bob", 10, EARN, "i3"),
                ("bob", 10, EARN, "i4"),
                ("cat", 10, EARN, "i5"),
            ],
            qualifying_flags=[True] * 5,
            qualifying_spends_minor=[-5_000, 2_000, 2**63 - 1, 2**63 - 1, 10**15],
        ),
    )
    assert list(answer.statuses) == [REJECTED, POSTED, REJECTED, REJECTED, POSTED]
    assert list(answer.reject_reasons)[:4] == [
        ledger_pb2.REJECT_REASON_INVALID_ITEM,
        0,
        ledger_pb2.REJECT_REASON_INVALID_ITEM,
        ledger_pb2.REJECT_REASON_INVALID_ITEM,
    ]
    assert answer.messages[0] == "qualifying_spends_minor: must be 0 to 1000000000000000"
    assert (await ledger.balance("ann")).qualifying_amount == 2_000
    with pytest.raises(grpc.aio.AioRpcError) as error:  # nothing of bob's was posted
        await ledger.balance("bob")
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert (await ledger.balance("cat")).qualifying_amount == 10**15


def test_a_batch_whose_spends_could_add_up_past_int64_is_refused() -> None:
    size = 5_000  # 5,000 spends of 10**15 are 5 * 10**18, past 2**62
    columns = Columns.of(
        batch(
            "b",
            [("ann", 1, EARN, f"i{index}") for index in range(size)],
            qualifying_spends_minor=[10**15] * size,
        )
    )
    with pytest.raises(InvalidArgument) as error:
        _check_spends_total(columns)
    assert error.value.field == "qualifying_spends_minor"
    columns.spends[0] = 1  # below the bound: no member's sum can wrap
    columns.spends[1:] = [-1] * (size - 1)  # rejected one by one, not counted
    _check_spends_total(columns)


async def test_a_key_seen_before_with_another_reference_is_a_conflict(ledger: Ledger) -> None:
    # The same points under the same key for another purchase were answered as a duplicate of
    # the first: the second purchase never earned, and its refund found nothing to reverse.
    request = batch("b1", [("ann", 10, EARN, "k1"), ("ann", 5, REDEEM, "k2")])
    request.source_references.extend(["order-1", "spend-1"])
    request.qualifying_flags.extend([True, False])
    await post(ledger, request)
    request = batch(
        "b2",
        [
            ("ann", 10, EARN, "k1"),
            ("ann", 10, EARN, "k1"),
            ("ann", 5, REDEEM, "k2"),
            ("ann", 5, REDEEM, "k2"),
        ],
    )
    request.source_references.extend(["order-1", "order-2", "spend-1", "spend-2"])
    request.qualifying_flags.extend([True, True, True, False])  # a redeem's flag is not kept
    [answer] = await post(ledger, request)
    assert list(answer.statuses) == [DUPLICATE, REJECTED, DUPLICATE, REJECTED]
    assert answer.messages[1] == "idempotency_key: was used for a different posting"
    assert answer.reject_reasons[3] == ledger_pb2.REJECT_REASON_IDEMPOTENCY_CONFLICT
    request = batch("b3", [("ann", 10, EARN, "k1")])
    request.source_references.append("order-1")  # not qualifying this time
    [answer] = await post(ledger, request)
    assert list(answer.statuses) == [REJECTED]
    assert (await ledger.balance("ann")).available_points == 5


async def test_a_batch_id_sent_again_with_other_items_is_refused_naming_it(
    ledger: Ledger,
) -> None:
    await post(ledger, batch("b1", [("ann", 10, EARN, "i1")]))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await post(ledger, batch("b1", [("ann", 11, EARN, "i1")]))
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # It named idempotency_key, which PostBatchRequest has not, and a key 'batch:b1'.
    assert error.value.details() == (
        "batch_id: batch id 'b1' was already used for a different batch"
    )
    metadata = dict(error.value.trailing_metadata())
    assert metadata["loyalty-error-reason"] == "IDEMPOTENCY_KEY_REUSED"
    assert metadata["loyalty-error-field"] == "batch_id"
    assert (await ledger.balance("ann")).available_points == 10
