"""Returns of purchases made before a merge, found whichever member the till names; and returns
taking back what their purchases counted: net spend, and the bonuses of a fully returned one."""

import datetime as dt

import asyncpg
import pytest

from loyalty.campaign.v1 import campaign_pb2
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from tests.services.campaign import support
from tests.services.campaign.insight_support import publish
from tests.services.campaign.streams import eventually
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
DUPLICATE = campaign_pb2.INGEST_ITEM_STATUS_DUPLICATE
RETURN = campaign_pb2.TRANSACTION_KIND_RETURN
MONDAY = dt.datetime(2025, 5, 5, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
async def services(start_service, database_url):
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(earning("base", rate=rate(), qualifying=True))
        connection = await asyncpg.connect(database_url)
        try:
            yield ledger, campaign, connection
        finally:
            await connection.close()


async def merge(  # type: ignore[no-untyped-def]
    ledger, connection: asyncpg.Connection, servers, namespace: str, merged: str, survivor: str
) -> None:
    """Identity's merge as the ledger and campaign see it: the points transferred, the merged
    member's account closed into the survivor's, campaign's consumer told."""
    await ledger.transfer(merged, survivor, transfer_all=True)
    await connection.execute(
        "UPDATE ledger.member_accounts SET closed_into = $3 WHERE program_id = $1 "
        "AND member_id = $2",
        PROGRAM,
        merged,
        survivor,
    )
    event = events_pb2.Event(
        member_merged=events_pb2.MemberMerged(survivor_member_id=survivor, merged_member_id=merged)
    )
    await publish(servers.nats_url, namespace, "identity.member_merged", event)

    async def recorded() -> bool:
        return bool(
            await connection.fetchval(
                "SELECT merged_into = $2 FROM campaign.members WHERE program_id = $3 "
                "AND member_id = $1",
                merged,
                survivor,
                PROGRAM,
            )
        )

    await eventually(recorded)


async def record_return(  # type: ignore[no-untyped-def]
    campaign, member: str, return_id: str, original: str, refunded: int, *, key: str = ""
) -> campaign_pb2.RecordReturnResponse:
    return await campaign.stub.RecordReturn(  # type: ignore[no-any-return]
        campaign_pb2.RecordReturnRequest(
            program_id=PROGRAM,
            idempotency_key=key or support.key(),
            member_id=member,
            return_id=return_id,
            original_transaction_id=original,
            refunded_amount=eur(refunded),
            channel=common_pb2.CHANNEL_POS,
            occurred_at=support.ts(MONDAY + dt.timedelta(days=1)),
        )
    )


def returns(batch_id: str, rows: list[tuple[str, str, int, str]]):  # type: ignore[no-untyped-def]
    """rows: (return id, member, refunded, original transaction id)."""
    return batch(
        batch_id,
        [(r[0], r[1], r[2], MONDAY + dt.timedelta(days=1), "") for r in rows],
        kinds=[RETURN] * len(rows),
        original_transaction_ids=[r[3] for r in rows],
    )


async def test_a_purchase_made_before_a_merge_is_returned_through_the_survivor(
    services, servers, nats_namespace
) -> None:
    ledger, campaign, connection = services
    await campaign.purchase("zed", "z1", 4_000, at=MONDAY)
    await campaign.ingest(batch("b1", [("z2", "zed", 3_000, MONDAY, "")]))
    await campaign.purchase("ann", "a1", 1_000, at=MONDAY)
    await merge(ledger, connection, servers, nats_namespace, "zed", "ann")
    assert await available(ledger, "ann") == 10 + 40 + 30
    # The till names the survivor, which holds zed's card now: the points come back from it.
    half = await record_return(campaign, "ann", "r1", "z1", 2_000, key="r1")
    assert half.reversed_points == 20
    assert await available(ledger, "ann") == 10 + 20 + 30
    # A retry, with its key or another, and the same return through ingest take nothing more.
    for key in ("r1", "r1-again"):
        again = await record_return(campaign, "ann", "r1", "z1", 2_000, key=key)
        assert again.reversed_points == 20
    (replayed,) = await campaign.ingest(returns("b2", [("r1", "ann", 2_000, "z1")]))
    assert (list(replayed.statuses), list(replayed.points)) == ([DUPLICATE], [-20])
    # Through ingest as well, and through the merged member's own id, once each.
    (ingested,) = await campaign.ingest(
        returns("b3", [("r2", "ann", 3_000, "z2"), ("r3", "zed", 2_000, "z1")])
    )
    assert (list(ingested.statuses), list(ingested.points)) == ([POSTED, POSTED], [-30, -20])
    (replayed,) = await campaign.ingest(
        returns("b4", [("r2", "ann", 3_000, "z2"), ("r3", "ann", 2_000, "z1")])
    )
    assert (list(replayed.statuses), list(replayed.points)) == ([DUPLICATE] * 2, [-30, -20])
    assert await available(ledger, "ann") == 10
    assert await available(ledger, "zed") == 0
    # Recorded under the purchases' member, as their returns made before the merge would be.
    rows = await connection.fetch(
        "SELECT member_id, transaction_id, amount_minor, points FROM campaign.transactions "
        "WHERE program_id = $1 AND kind = 2 ORDER BY transaction_id",
        PROGRAM,
    )
    assert [tuple(row) for row in rows] == [
        ("zed", "r1", -2_000, -20),
        ("zed", "r2", -3_000, -30),
        ("zed", "r3", -2_000, -20),
    ]
    await ledger.assert_clean()
