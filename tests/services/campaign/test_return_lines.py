"""Returns by line take back exactly the points the returned lines earned (hand-computed), through
RecordPurchase and IngestTransactions, and refuse lines the purchase did not hold."""

import datetime as dt

import asyncpg
import grpc
import pytest

from loyalty.campaign.v1 import campaign_pb2, rules_pb2
from tests.services.campaign.support import (
    PROGRAM,
    available,
    batch,
    earning,
    eur,
    ledger_and_campaign,
    rate,
)

POSTED = campaign_pb2.INGEST_ITEM_STATUS_POSTED
NO_POINTS = campaign_pb2.INGEST_ITEM_STATUS_NO_POINTS
REJECTED = campaign_pb2.INGEST_ITEM_STATUS_REJECTED
RETURN = campaign_pb2.TRANSACTION_KIND_RETURN
MONDAY = dt.datetime(2025, 5, 5, 9, 0, tzinfo=dt.UTC)
RETURNED = MONDAY + dt.timedelta(days=1)
DOUBLE_SHOES = rules_pb2.Multiplier(category="shoes", multiplier_bps=20_000)
NO_GIFT_CARDS = rules_pb2.Exclusions(skus=["GIFT"])

# SKU, category, amount, quantity.
BASKET = [
    ("GIFT", "gift", 5_000, 1),  # excluded: 0
    ("SHOE", "shoes", 3_000, 3),  # 30 base, 2x: 60
    ("SOCK", "apparel", 1_000, 1),  # 10
]


def base_rule(**fields) -> rules_pb2.Rule:  # type: ignore[no-untyped-def]
    return earning(
        "base",
        rate=rate(),
        multipliers=[DOUBLE_SHOES],
        exclusions=NO_GIFT_CARDS,
        qualifying=True,
        **fields,
    )


def line_items(basket: list[tuple[str, str, int, int]]) -> list[campaign_pb2.LineItem]:
    return [
        campaign_pb2.LineItem(sku=sku, category=category, amount=eur(amount), quantity=quantity)
        for sku, category, amount, quantity in basket
    ]


async def purchase(campaign, member: str, transaction_id: str, basket) -> int:  # type: ignore[no-untyped-def]
    response = await campaign.purchase(
        member,
        transaction_id,
        sum(line[2] for line in basket),
        at=MONDAY,
        line_items=line_items(basket),
    )
    return int(response.accrual.points)


async def return_lines(  # type: ignore[no-untyped-def]
    campaign, member: str, return_id: str, original: str, lines, *, key: str = ""
) -> campaign_pb2.RecordReturnResponse:
    """lines: (sku, amount, quantity)."""
    return await campaign.record_return(  # type: ignore[no-any-return]
        member,
        return_id,
        original,
        at=RETURNED,
        idempotency_key=key,
        lines=campaign_pb2.ReturnLines(
            lines=[
                campaign_pb2.ReturnLine(sku=sku, amount=eur(amount), quantity=quantity)
                for sku, amount, quantity in lines
            ]
        ),
    )


@pytest.fixture
async def connection(database_url):
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


async def written(connection: asyncpg.Connection, member: str) -> tuple[list, list]:  # type: ignore[type-arg]
    """The member's return rows, and what returns took of its purchases' lines."""
    returns = await connection.fetch(
        "SELECT transaction_id, amount_minor, points FROM campaign.transactions "
        "WHERE program_id = $1 AND member_id = $2 AND kind = 2 ORDER BY transaction_id",
        PROGRAM,
        member,
    )
    lines = await connection.fetch(
        "SELECT transaction_id, returned_quantities, returned_points FROM campaign.purchase_lines "
        "WHERE program_id = $1 AND member_id = $2 ORDER BY transaction_id",
        PROGRAM,
        member,
    )
    return [tuple(r) for r in returns], [tuple(r) for r in lines]


async def test_returned_lines_take_back_what_they_earned(start_service, connection) -> None:
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(base_rule())
        assert await purchase(campaign, "ann", "p1", BASKET) == 70
        # The gift card earned nothing: its return takes nothing back (pro rata took 38).
        gift = await return_lines(campaign, "ann", "r1", "p1", [("GIFT", 5_000, 1)])
        assert gift.reversed_points == 0
        assert await available(ledger, "ann") == 70
        # The doubled shoes, 1 of 3 and then the other 2: 60 // 3 = 20, then 60 - 20.
        one = await return_lines(campaign, "ann", "r2", "p1", [("SHOE", 1_000, 1)])
        two = await return_lines(campaign, "ann", "r3", "p1", [("SHOE", 2_000, 2)])
        assert (one.reversed_points, two.reversed_points) == (20, 40)
        assert await available(ledger, "ann") == 10
        # The rest by amount (the socks): the purchase is refunded in full, the rest goes.
        rest = await campaign.record_return(
            "ann", "r4", "p1", at=RETURNED, refunded_amount=eur(1_000)
        )
        assert rest.reversed_points == 10
        assert await available(ledger, "ann") == 0
        # A purchase without line detail stores no lines: returned by line, the refunded
        # amount's share goes back, as before (90 * 5000 / 9000).
        await campaign.purchase("ann", "p2", 9_000, at=MONDAY)
        unknown = await return_lines(campaign, "ann", "r5", "p2", [("GIFT", 5_000, 1)])
        assert unknown.reversed_points == 50
        await ledger.assert_clean()


async def test_unknown_skus_and_over_returns_are_refused_with_nothing_written(
    start_service, connection
) -> None:
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(base_rule())
        await purchase(campaign, "bob", "p1", BASKET)
        await return_lines(campaign, "bob", "r1", "p1", [("SHOE", 1_000, 1)])
        before = await written(connection, "bob")
        assert before == (
            [("r1", -1_000, -20)],
            [("p1", [0, 1, 0], [0, 20, 0])],
        )
        refused = {
            # A SKU the purchase did not hold, after a line it did.
            "lines.lines[1].sku": [("SOCK", 1_000, 1), ("HAT", 500, 1)],
            # 3 shoes bought, 1 returned already.
            "lines.lines[0].quantity": [("SHOE", 3_000, 3)],
            # Twice in one return: the second finds 1 left.
            "lines.lines[1].quantity": [("SHOE", 1_000, 1), ("SHOE", 2_000, 2)],
            # More than the 2,000 left of the shoes.
            "lines.lines[0].amount": [("SHOE", 2_500, 2)],
        }
        for field, lines in refused.items():
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await return_lines(campaign, "bob", "r2", "p1", lines)
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
            assert error.value.details().startswith(f"{field}:"), error.value.details()
        assert await written(connection, "bob") == before
        assert await available(ledger, "bob") == 70 - 20
        await ledger.assert_clean()


async def test_a_retried_return_by_line_has_one_effect(start_service, connection) -> None:
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(base_rule())
        await purchase(campaign, "cat", "p1", BASKET)
        first = await return_lines(campaign, "cat", "r1", "p1", [("SHOE", 2_000, 2)], key="k1")
        assert first.reversed_points == 40
        for key in ("k1", "k2"):
            again = await return_lines(campaign, "cat", "r1", "p1", [("SHOE", 2_000, 2)], key=key)
            assert again.reversed_points == 40
        assert await available(ledger, "cat") == 70 - 40
        assert (await written(connection, "cat"))[1] == [("p1", [0, 2, 0], [0, 40, 0])]
        # The last shoe takes exactly what is left of the line.
        last = await return_lines(campaign, "cat", "r2", "p1", [("SHOE", 1_000, 1)])
        assert last.reversed_points == 20


async def test_a_capped_purchase_gives_back_its_capped_points_by_line(start_service) -> None:
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(base_rule(caps=rules_pb2.EarningCaps(per_transaction_points_max=50)))
        # Shoes 60, socks 30 before the cap; 50 after it: 50 * 60 / 90 = 33.3 and
        # 50 * 30 / 90 = 16.7, the point left to the larger remainder (the socks): 33 and 17.
        basket = [("SHOE", "shoes", 3_000, 1), ("SOCK", "apparel", 3_000, 1)]
        assert await purchase(campaign, "dan", "p1", basket) == 50
        socks = await return_lines(campaign, "dan", "r1", "p1", [("SOCK", 3_000, 1)])
        shoes = await return_lines(campaign, "dan", "r2", "p1", [("SHOE", 3_000, 1)])
        assert (socks.reversed_points, shoes.reversed_points) == (17, 33)
        assert await available(ledger, "dan") == 0
        await ledger.assert_clean()


async def test_a_fixed_bonus_goes_to_the_lines_that_earn(start_service) -> None:
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(earning("base", rate=rate(), exclusions=NO_GIFT_CARDS))
        await campaign.live(earning("welcome", priority=20, fixed_bonus_points=25))
        # Base: shoes 30, socks 10, gift card 0. The bonus of 25 goes by those points:
        # 25 * 30 / 40 = 18.75 and 25 * 10 / 40 = 6.25, the point left to the shoes: 19 and 6.
        basket = [
            ("GIFT", "gift", 5_000, 1),
            ("SHOE", "shoes", 3_000, 1),
            ("SOCK", "apparel", 1_000, 1),
        ]
        assert await purchase(campaign, "eve", "p1", basket) == 65
        taken = [
            (
                await return_lines(campaign, "eve", f"r{sku}", "p1", [(sku, amount, 1)])
            ).reversed_points
            for sku, _, amount, _ in basket
        ]
        assert taken == [0, 30 + 19, 10 + 6]
        assert await available(ledger, "eve") == 0
        await ledger.assert_clean()


async def test_a_bulk_purchase_is_returned_by_line_unary_and_in_bulk(start_service) -> None:
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(base_rule())
        lines = [*BASKET, ("SHOE", "shoes", 1_000, 1)]  # a second shoe line: 20
        (bought,) = await campaign.ingest(
            batch(
                "b1",
                [("p1", "fay", sum(line[2] for line in lines), MONDAY, "")],
                line_counts=[len(lines)],
                line_skus=[line[0] for line in lines],
                line_categories=[line[1] for line in lines],
                line_amounts_minor=[line[2] for line in lines],
                line_quantities=[line[3] for line in lines],
            )
        )
        assert list(bought.points) == [90]
        # The gift card takes nothing; 4 shoes take the first line's 3 (60) and the next's 1.
        gift = await return_lines(campaign, "fay", "r1", "p1", [("GIFT", 5_000, 1)])
        assert gift.reversed_points == 0
        returns = [("GIFT", 0, 0), ("SHOE", 4_000, 4), ("SOCK", 1_000, 1), ("SHOE", 1, 1)]
        (returned,) = await campaign.ingest(
            batch(
                "b2",
                [
                    ("r2", "fay", -4_000, MONDAY + dt.timedelta(days=1), ""),
                    ("r3", "fay", -1_000, MONDAY + dt.timedelta(days=1), ""),
                    ("r4", "fay", -1, MONDAY + dt.timedelta(days=1), ""),
                ],
                kinds=[RETURN] * 3,
                original_transaction_ids=["p1"] * 3,
                line_counts=[1, 1, 1],
                line_skus=[line[0] for line in returns[1:]],
                line_categories=[""] * 3,
                line_amounts_minor=[line[1] for line in returns[1:]],
                line_quantities=[line[2] for line in returns[1:]],
            )
        )
        assert list(returned.statuses) == [POSTED, POSTED, REJECTED]
        assert list(returned.points) == [-80, -10, 0]
        assert returned.messages[2].startswith("line_quantities[2]:")
        assert await available(ledger, "fay") == 0
        await ledger.assert_clean()
