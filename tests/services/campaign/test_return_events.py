"""A return's PurchaseRecorded as read from JetStream: it names the member whose balance the
return takes points from (the survivor of a merge, as the ledger's own PointsPosted of the
reversal does) and the categories of the lines returned (those of the purchase's lines for a
return of an amount), which a purchase recorded with line detail keeps (campaign migration 028)."""

import datetime as dt

import asyncpg
import pytest

from loyalty.campaign.v1 import campaign_pb2
from tests.services.campaign.streams import campaign_events, eventually
from tests.services.campaign.support import earning, eur, ledger_and_campaign, rate
from tests.services.campaign.test_returns import MONDAY, merge

BASKET = [("boot-1", "shoes", 6_000), ("sock-1", "socks", 1_000), ("lace-1", "", 500)]


@pytest.fixture
async def services(start_service, database_url):  # type: ignore[no-untyped-def]
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(earning("base", rate=rate(), qualifying=True))
        connection = await asyncpg.connect(database_url)
        try:
            yield ledger, campaign, connection
        finally:
            await connection.close()


async def buy_basket(campaign, member: str, transaction_id: str) -> None:  # type: ignore[no-untyped-def]
    await campaign.purchase(
        member,
        transaction_id,
        sum(amount for _, _, amount in BASKET),
        at=MONDAY,
        line_items=[
            campaign_pb2.LineItem(sku=sku, category=category, amount=eur(amount), quantity=1)
            for sku, category, amount in BASKET
        ],
    )


async def give_back(  # type: ignore[no-untyped-def]
    campaign, member: str, return_id: str, original: str, refunded: int, *, skus=()
) -> None:
    lines = [(sku, amount) for sku, _, amount in BASKET if sku in skus]
    await campaign.record_return(
        member,
        return_id,
        original,
        at=MONDAY + dt.timedelta(days=1),
        refunded_amount=eur(refunded),
        lines=campaign_pb2.ReturnLines(
            lines=[
                campaign_pb2.ReturnLine(sku=sku, amount=eur(amount), quantity=1)
                for sku, amount in lines
            ]
        )
        if lines
        else None,
    )


async def returns_recorded(servers, nats_namespace: str, count: int):  # type: ignore[no-untyped-def]
    async def found():  # type: ignore[no-untyped-def]
        events = await campaign_events(servers, nats_namespace, "campaign.purchase_recorded")
        recorded = {
            e.purchase_recorded.transaction_id: (
                e.purchase_recorded.member_id,
                list(e.purchase_recorded.categories),
                e.purchase_recorded.points,
            )
            for e in events
            if e.purchase_recorded.original_transaction_id
        }
        return recorded if len(recorded) >= count else None

    return await eventually(found)


async def test_a_return_names_the_categories_of_what_it_returned(
    services, servers, nats_namespace
) -> None:
    _, campaign, _ = services
    await buy_basket(campaign, "ann", "a1")
    await buy_basket(campaign, "bob", "b1")
    await campaign.purchase("cy", "cy-purchase", 2_000, at=MONDAY)
    await give_back(campaign, "ann", "r-lines", "a1", 6_000, skus=("boot-1",))
    await give_back(campaign, "bob", "r-amount", "b1", 2_000)
    await give_back(campaign, "cy", "r-plain", "cy-purchase", 2_000)
    assert await returns_recorded(servers, nats_namespace, 3) == {
        "r-lines": ("ann", ["shoes"], -60),
        "r-amount": ("bob", ["shoes", "socks"], -20),
        "r-plain": ("cy", [], -20),
    }


async def test_a_return_after_a_merge_names_the_survivor(services, servers, nats_namespace) -> None:
    ledger, campaign, connection = services
    await buy_basket(campaign, "zed", "z1")
    await buy_basket(campaign, "zed", "z2")
    await merge(ledger, connection, servers, nats_namespace, "zed", "ann")
    # The till names the survivor (the cards moved to it), or the merged member.
    await give_back(campaign, "ann", "r-survivor", "z1", 1_000, skus=("sock-1",))
    await give_back(campaign, "zed", "r-merged", "z2", 7_500)
    assert await returns_recorded(servers, nats_namespace, 2) == {
        "r-survivor": ("ann", ["socks"], -10),
        "r-merged": ("ann", ["shoes", "socks"], -75),
    }
