"""IngestTransactions: columnar batches accrued in bulk, posted in bulk, replays changing nothing."""

import asyncio
import datetime as dt
from pathlib import Path

import asyncpg
import grpc
import pytest

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2, rules_pb2
from loyalty.events.v1 import events_pb2
from tests.services.campaign import support
from tests.services.campaign.insight_support import eventually, publish
from tests.services.campaign.support import (
    PROGRAM,
    available,
    batch,
    earning,
    ledger_and_campaign,
    ledger_postings,
    rate,
)

POSTED = campaign_pb2.INGEST_ITEM_STATUS_POSTED
DUPLICATE = campaign_pb2.INGEST_ITEM_STATUS_DUPLICATE
REJECTED = campaign_pb2.INGEST_ITEM_STATUS_REJECTED
NO_POINTS = campaign_pb2.INGEST_ITEM_STATUS_NO_POINTS
RETURN = campaign_pb2.TRANSACTION_KIND_RETURN
PURCHASE = campaign_pb2.TRANSACTION_KIND_PURCHASE
MONDAY = dt.datetime(2025, 5, 5, 9, 0, tzinfo=dt.UTC)
MIGRATIONS = Path(__file__).parents[3] / "services" / "campaign" / "migrations"


@pytest.fixture
async def services(start_service):
    async with ledger_and_campaign(start_service, batch_size_max=50, ledger_batch_items_max=2) as (
        ledger,
        campaign,
    ):
        await campaign.live(
            earning(
                "base",
                rate=rate(),
                multipliers=[rules_pb2.Multiplier(category="shoes", multiplier_bps=20_000)],
                caps=rules_pb2.EarningCaps(per_member_day_points_max=100),
                qualifying=True,
            )
        )
        yield ledger, campaign


async def test_a_stream_of_batches_with_returns_posts_each_once(services, database_url) -> None:
    ledger, campaign = services
    first = batch(
        "b1",
        [
            ("t1", "ann", 2_000, MONDAY, "shoes"),  # 40
            ("t2", "bob", 1_050, MONDAY, "books"),  # 10
            ("t3", "ann", 5_000, MONDAY, "books"),  # 50, of which 60 of the day's 100 remain
            ("t4", "", 1_000, MONDAY, "books"),  # no member
            ("t5", "cat", 40, MONDAY, "books"),  # under one euro: no points
        ],
    )
    second = batch(
        "b2",
        [
            ("t6", "ann", 3_000, MONDAY, "books"),  # the day's cap is left with 10
            ("r1", "bob", 525, MONDAY, ""),  # returns half of t2: -5
            ("t1", "ann", 2_000, MONDAY, "shoes"),  # seen in b1
            ("r2", "bob", 100, MONDAY, ""),  # returns an unknown purchase
        ],
        kinds=[PURCHASE, RETURN, PURCHASE, RETURN],
        original_transaction_ids=["", "t2", "", "t404"],
    )
    one, two = await campaign.ingest(first, second)
    assert list(one.statuses) == [POSTED, POSTED, POSTED, REJECTED, NO_POINTS]
    assert list(one.points) == [40, 10, 50, 0, 0]
    assert one.reason_codes[3] == "invalid_member_id"
    assert list(two.statuses) == [POSTED, POSTED, DUPLICATE, REJECTED]
    assert list(two.points) == [10, -5, 40, 0] and two.reason_codes[3] == "unknown_original"
    assert (two.progress.batches_done, two.progress.items_done) == (2, 9)
    assert (
        two.progress.items_posted,
        two.progress.items_duplicate,
        two.progress.items_rejected,
    ) == (5, 1, 2)
    assert two.progress.points_total == 40 + 10 + 50 + 10 - 5
    balances = {m: await available(ledger, m) for m in ("ann", "bob", "cat")}
    assert balances == {"ann": 100, "bob": 5, "cat": 0}
    # A replayed stream answers with the first responses and changes nothing.
    again_one, again_two = await campaign.ingest(first, second)
    assert list(again_one.statuses) == list(one.statuses) and list(again_two.points) == list(
        two.points
    )
    assert {m: await available(ledger, m) for m in ("ann", "bob", "cat")} == balances
    # The attribution is recorded with the rule version, in the ledger and in campaign.
    assert await ledger_postings(database_url, "ann") == [
        (1, 40, "t1", "base@1"),
        (1, 50, "t3", "base@1"),
        (1, 10, "t6", "base@1"),
    ]
    assert await ledger_postings(database_url, "bob") == [
        (1, 10, "t2", "base@1"),
        (5, -5, "t2", "return"),
    ]
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "campaign"})
    try:
        rows = await connection.fetch(
            "SELECT transaction_id, points, applications FROM transactions WHERE member_id = 'ann' ORDER BY transaction_id"
        )
    finally:
        await connection.close()
    assert [tuple(r) for r in rows] == [
        ("t1", 40, "base@1:40"),
        ("t3", 50, "base@1:50"),
        ("t6", 10, "base@1:10"),
    ]
    await ledger.assert_clean()


async def test_late_purchases_are_capped_by_their_own_day(services) -> None:
    # The day's cap is 100. Tuesday's sales arrive first, then Monday's, then Tuesday's again.
    ledger, campaign = services
    tuesday = MONDAY + dt.timedelta(days=1)
    first = batch(
        "tue", [("t1", "ann", 6_000, tuesday, "books"), ("t2", "ann", 6_000, tuesday, "")]
    )
    late = batch(
        "mon",
        [
            ("m1", "ann", 8_000, MONDAY, "books"),
            ("m2", "ann", 5_000, MONDAY, "books"),  # Monday's last 20
            ("t3", "ann", 1_000, tuesday, "books"),  # Tuesday is still full
        ],
    )
    again = batch("later", [("t4", "ann", 1_000, tuesday, ""), ("m3", "ann", 1_000, MONDAY, "")])
    one, two, three = await campaign.ingest(first, late, again)
    assert list(one.points) == [60, 40]
    assert list(two.points) == [80, 20, 0]
    assert list(three.points) == [0, 0]
    assert await available(ledger, "ann") == 200
    await ledger.assert_clean()


async def test_a_late_purchase_a_capped_rule_cannot_reward_leaves_its_caps_alone(
    services, database_url
) -> None:
    # A weekend bonus capped per day: Friday's purchase, arriving after Sunday's, is late for
    # the day caps of both rules, but the weekend rule can give it nothing, so that rule's counter
    # row is neither read against history nor written (its version stays).
    ledger, campaign = services
    await campaign.live(
        earning(
            "weekend",
            priority=20,
            fixed_bonus_points=30,
            time_windows=[
                rules_pb2.TimeWindow(
                    weekdays=[rules_pb2.WEEKDAY_SATURDAY, rules_pb2.WEEKDAY_SUNDAY]
                )
            ],
            caps=rules_pb2.EarningCaps(per_member_day_points_max=50),
        )
    )
    friday, saturday, sunday = (MONDAY + dt.timedelta(days=d) for d in (4, 5, 6))
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "campaign"})

    async def versions() -> dict[str, int]:
        rows = await connection.fetch(
            "SELECT rule_id, version FROM cap_counters WHERE member_id = 'bo'"
        )
        return {row["rule_id"]: row["version"] for row in rows}

    try:
        (on_sunday,) = await campaign.ingest(batch("sun", [("u1", "bo", 1_000, sunday, "")]))
        assert list(on_sunday.points) == [40]
        before = await versions()
        (on_friday,) = await campaign.ingest(batch("fri", [("f1", "bo", 1_000, friday, "")]))
        assert list(on_friday.points) == [10]
        after = await versions()
        assert after["weekend"] == before["weekend"]
        assert after["base"] > before["base"]
        # A late Saturday purchase does use the weekend's caps: its own day, not Sunday's.
        (on_saturday,) = await campaign.ingest(
            batch("sat", [("s1", "bo", 1_000, saturday, ""), ("s2", "bo", 1_000, saturday, "")])
        )
        assert list(on_saturday.points) == [40, 30]
        assert (await versions())["weekend"] > after["weekend"]
    finally:
        await connection.close()
    assert await available(ledger, "bo") == 40 + 10 + 40 + 30
    await ledger.assert_clean()


async def test_a_purchase_the_ledger_refuses_leaves_no_count_and_no_cap_used(
    services, database_url
) -> None:
    ledger, campaign = services
    # With a milestone configured, campaign keeps each member's purchase count and spend.
    await campaign.configure_recognition(
        engagement_pb2.RecognitionConfig(
            milestones=[engagement_pb2.Milestone(code="tenth", kind=1, threshold=10, points=5)]
        )
    )
    await ledger.earn("zed", 5)
    connection = await asyncpg.connect(database_url)

    async def close_zed(into: str | None) -> None:
        # What the ledger does on identity's merge event (services/ledger/consumers.py).
        await connection.execute(
            "UPDATE ledger.member_accounts SET closed_into = $2 "
            "WHERE program_id = $1 AND member_id = 'zed'",
            PROGRAM,
            into,
        )

    try:
        await close_zed("ann")
        (refused,) = await campaign.ingest(
            batch("b1", [("z1", "zed", 6_000, MONDAY, "books"), ("a1", "ann", 1_000, MONDAY, "")])
        )
        assert list(refused.statuses) == [REJECTED, POSTED]
        assert refused.reason_codes[0] == "member_closed"
        left = await connection.fetchrow(
            "SELECT m.purchase_count, m.spend_minor, c.day_points, "
            "(SELECT count(*) FROM campaign.transactions t WHERE t.member_id = 'zed') AS purchases "
            "FROM campaign.members m JOIN campaign.cap_counters c USING (program_id, member_id) "
            "WHERE m.member_id = 'zed'"
        )
        assert tuple(left) == (0, 0, 0, 0)
        # Reopened, the member has the whole day's cap.
        await close_zed(None)
        (posted,) = await campaign.ingest(batch("b2", [("z2", "zed", 12_000, MONDAY, "books")]))
        assert list(posted.points) == [100]
        # A refused late purchase (Sunday's, after Monday's) gives back its day's history too.
        sunday = MONDAY - dt.timedelta(days=1)
        await close_zed("ann")
        (refused,) = await campaign.ingest(batch("b3", [("z3", "zed", 6_000, sunday, "books")]))
        assert list(refused.statuses) == [REJECTED]
        await close_zed(None)
        (posted,) = await campaign.ingest(batch("b4", [("z4", "zed", 12_000, sunday, "books")]))
        assert list(posted.points) == [100]
    finally:
        await connection.close()
    await ledger.assert_clean()


async def test_concurrent_batches_never_both_spend_a_members_last_room(services) -> None:
    # Two streams at once, each with an 80-point purchase of the same 20 members, whose day's
    # cap is 100: whichever commits second is accrued again from the first one's counters.
    ledger, campaign = services
    members = [f"c{i}" for i in range(20)]

    def stream(name: str) -> campaign_pb2.IngestTransactionsRequest:
        return batch(name, [(f"{name}-{m}", m, 8_000, MONDAY, "books") for m in members])

    answers = await asyncio.gather(campaign.ingest(stream("a")), campaign.ingest(stream("b")))
    points = [sorted(p) for p in zip(*(list(a.points) for (a,) in answers), strict=True)]
    assert points == [[20, 80]] * len(members)
    assert {await available(ledger, m) for m in members} == {100}
    await ledger.assert_clean()


async def test_concurrent_late_purchases_never_both_spend_a_past_days_room(services) -> None:
    # Monday used 90 of its 100 and the members' counters moved on to Tuesday; two streams at
    # once each bring a late Monday purchase: only one of them gets Monday's last 10.
    ledger, campaign = services
    members = [f"d{i}" for i in range(50)]
    tuesday = MONDAY + dt.timedelta(days=1)
    await campaign.ingest(
        batch("monday", [(f"mon-{m}", m, 9_000, MONDAY, "books") for m in members]),
        batch("tuesday", [(f"tue-{m}", m, 100, tuesday, "books") for m in members]),
    )

    def stream(name: str) -> campaign_pb2.IngestTransactionsRequest:
        return batch(name, [(f"{name}-{m}", m, 5_000, MONDAY, "books") for m in members])

    answers = await asyncio.gather(campaign.ingest(stream("a")), campaign.ingest(stream("b")))
    points = [sorted(p) for p in zip(*(list(a.points) for (a,) in answers), strict=True)]
    assert points == [[0, 10]] * len(members)
    assert {await available(ledger, m) for m in members} == {90 + 1 + 10}
    await ledger.assert_clean()


async def test_whole_batch_problems_refuse_the_batch_naming_the_column(services) -> None:
    _, campaign = services
    too_large = batch("big", [(f"t{i}", "ann", 100, MONDAY, "") for i in range(51)])
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await campaign.ingest(too_large)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    short = batch("short", [("t1", "ann", 100, MONDAY, ""), ("t2", "bob", 100, MONDAY, "")])
    del short.member_ids[1]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await campaign.ingest(short)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details().startswith("member_ids:")
    wrong = batch("usd", [("t1", "ann", 100, MONDAY, "")])
    wrong.currency = "USD"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await campaign.ingest(wrong)
    assert refused.value.details().startswith("currency:")
    reused = batch("b1", [("t1", "ann", 100, MONDAY, "")])
    await campaign.ingest(reused)
    reused.amounts_minor[0] = 200
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await campaign.ingest(reused)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_batch_accrued_but_never_posted_is_finished_by_a_replay(services) -> None:
    ledger, campaign = services
    request = batch(
        "crashed", [("t1", "ann", 2_000, MONDAY, "shoes"), ("t2", "bob", 1_000, MONDAY, "")]
    )
    # Stage 1 alone, as if the process died before the ledger answered.
    pending = await campaign.ingest_stage_one(request)
    assert pending.ledger_request is not None and not pending.done
    assert await available(ledger, "ann") == 0
    [finished] = await campaign.ingest(request)
    assert (list(finished.statuses), list(finished.points)) == ([POSTED, POSTED], [40, 10])
    assert (await available(ledger, "ann"), await available(ledger, "bob")) == (40, 10)
    [again] = await campaign.ingest(request)
    assert list(again.points) == [40, 10] and await available(ledger, "ann") == 40


async def test_line_detail_earns_per_line(services) -> None:
    ledger, campaign = services
    request = batch(
        "lines",
        [("t1", "eve", 1_500, MONDAY, ""), ("t2", "eve", 700, MONDAY, "books")],
        line_counts=[2, 0],
        line_categories=["shoes", "books"],
        line_skus=["s-1", "b-1"],
        line_amounts_minor=[1_000, 500],
    )
    [response] = await campaign.ingest(request)
    # t1: 10 EUR of shoes at 2x and 5 EUR of books; t2 has no lines: one line of its 7 EUR.
    assert list(response.points) == [25, 7]
    assert await available(ledger, "eve") == 32


async def test_a_purchase_seen_before_in_a_large_batch_is_a_duplicate(start_service) -> None:
    """Large batches are written by COPY, taking their purchases as new: one recorded before
    makes the batch run again with the look-up, and the later batches of the stream too."""
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(earning("base", rate=rate(), qualifying=True))
        first = batch("b1", [(f"t{i}", f"m{i}", 1_000 + i, MONDAY, "") for i in range(60)])
        second = batch(
            "b2",
            [(f"t{i}", f"m{i}", 2_000, MONDAY, "") for i in range(60, 119)]
            + [("t7", "m7", 1_007, MONDAY, "")],
        )
        third = batch("b3", [(f"t{i}", f"m{i}", 3_000, MONDAY, "") for i in range(119, 180)])
        one, two, three = await campaign.ingest(first, second, third)
        assert set(one.statuses) == {POSTED}
        assert list(two.statuses) == [POSTED] * 59 + [DUPLICATE]
        assert two.points[-1] == 10 and two.points[0] == 20
        assert set(three.statuses) == {POSTED} and three.points_total == 61 * 30
        assert three.progress.items_duplicate == 1
        assert await available(ledger, "m7") == 10
        assert await available(ledger, "m60") == 20
        await ledger.assert_clean()


async def test_a_merged_members_purchases_are_refused_before_anything_counts_them(
    services, servers, nats_namespace, database_url
) -> None:
    ledger, campaign = services
    await campaign.configure_recognition(
        engagement_pb2.RecognitionConfig(
            milestones=[engagement_pb2.Milestone(code="first", kind=1, threshold=1, points=5)]
        )
    )
    await publish(
        servers.nats_url,
        nats_namespace,
        "identity.member_merged",
        events_pb2.Event(
            member_merged=events_pb2.MemberMerged(survivor_member_id="ann", merged_member_id="zed")
        ),
    )
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "campaign"})
    try:

        async def merged_into() -> str | None:
            return await connection.fetchval(
                "SELECT merged_into FROM members WHERE member_id = 'zed'"
            )

        assert await eventually(merged_into, "ann") == "ann"
        (refused,) = await campaign.ingest(
            batch("b1", [("z1", "zed", 6_000, MONDAY, "books"), ("a1", "ann", 1_000, MONDAY, "")])
        )
        assert list(refused.statuses) == [REJECTED, POSTED]
        assert refused.reason_codes[0] == "member_closed"
        assert refused.messages[0] == "member_ids: merged into 'ann'"
        # Nothing counted it: no purchase row or count, no milestone, nothing for backtests.
        counted = await connection.fetchrow(
            "SELECT (SELECT purchase_count FROM members WHERE member_id = 'zed') AS purchases, "
            "(SELECT count(*) FROM transactions WHERE member_id = 'zed') AS rows, "
            "(SELECT count(*) FROM bonus_awards WHERE member_id = 'zed') AS milestones"
        )
        assert tuple(counted) == (0, 0, 0)
    finally:
        await connection.close()
    replayed = await campaign.stub.Backtest(
        campaign_pb2.BacktestRequest(
            program_id=PROGRAM,
            rule_ref="base@1",
            start_time=support.ts(MONDAY - dt.timedelta(days=1)),
            end_time=support.ts(MONDAY + dt.timedelta(days=1)),
        )
    )
    assert replayed.transactions_count == 1
    # One purchase alone is refused the same way, naming the member.
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await campaign.purchase("zed", "z2", 1_000, at=MONDAY)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.value.details() == "member_id: member 'zed' was merged into 'ann'"
    assert dict(error.value.trailing_metadata())["loyalty-error-field"] == "member_id"
    assert await available(ledger, "ann") == 10 + 5


def merged(merged_member: str, survivor: str) -> events_pb2.Event:
    return events_pb2.Event(
        member_merged=events_pb2.MemberMerged(
            survivor_member_id=survivor, merged_member_id=merged_member
        )
    )


async def merged_into(database_url: str) -> dict[str, str]:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "campaign"})
    try:
        rows = await connection.fetch(
            "SELECT member_id, merged_into FROM members WHERE merged_into IS NOT NULL"
        )
    finally:
        await connection.close()
    return {row["member_id"]: row["merged_into"] for row in rows}


@pytest.mark.parametrize("order", ["as made", "survivor's merge first"])
async def test_after_a_into_b_then_b_into_c_a_purchases_are_refused_naming_c(
    services, servers, nats_namespace, database_url, order
) -> None:
    _, campaign = services
    # zed merged into bob, then bob into ann; JetStream may deliver them either way, and again.
    events = [merged("zed", "bob"), merged("bob", "ann")]
    if order != "as made":
        events.reverse()
    events.append(merged(*(("zed", "bob") if order == "as made" else ("bob", "ann"))))
    for event in events:
        await publish(servers.nats_url, nats_namespace, "identity.member_merged", event)

    async def recorded() -> dict[str, str]:
        return await merged_into(database_url)

    assert await eventually(recorded, {"zed": "ann", "bob": "ann"}) == {"zed": "ann", "bob": "ann"}
    (refused,) = await campaign.ingest(
        batch("b1", [("z1", "zed", 6_000, MONDAY, ""), ("b1", "bob", 1_000, MONDAY, "")])
    )
    assert list(refused.statuses) == [REJECTED, REJECTED]
    assert list(refused.messages) == ["member_ids: merged into 'ann'"] * 2
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await campaign.purchase("zed", "z2", 1_000, at=MONDAY)
    assert error.value.details() == "member_id: member 'zed' was merged into 'ann'"


async def test_migration_016_repoints_members_merged_before_it_to_the_last_survivor(
    services, database_url
) -> None:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "campaign"})
    try:  # chains as the consumer left them before: a into b, b into c, c into d; x into y
        for member, survivor in (("a", "b"), ("b", "c"), ("c", "d"), ("x", "y")):
            await connection.execute(
                "INSERT INTO members (program_id, member_id, merged_into) VALUES ($1, $2, $3)",
                PROGRAM,
                member,
                survivor,
            )
        sql = MIGRATIONS.joinpath("016_members_merged_into.sql").read_text()
        await connection.execute(sql[sql.index("DO $$") :])
    finally:
        await connection.close()
    assert await merged_into(database_url) == {"a": "d", "b": "d", "c": "d", "x": "y"}
