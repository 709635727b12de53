"""An ingest's request id reaches the ledger: the PostBatch stream campaign opens for it carries
the id, so the ledger's log lines and events of those postings name the POS batch they came from
(as a RecordPurchase's earn already did)."""

import datetime as dt
from collections.abc import AsyncIterator

import asyncpg

from loyalty.campaign.v1 import campaign_pb2
from loyalty.events.v1 import events_pb2
from services.shared.interceptors import REQUEST_ID_HEADER
from tests.services.campaign.support import batch, earning, ledger_and_campaign, rate

MONDAY = dt.datetime(2025, 5, 5, 9, 0, tzinfo=dt.UTC)


async def ledger_events(database_url: str) -> list[events_pb2.Event]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT payload FROM ledger.outbox ORDER BY seq")
    finally:
        await connection.close()
    return [events_pb2.Event.FromString(row["payload"]) for row in rows]


async def test_the_ledgers_events_of_an_ingest_carry_the_ingests_request_id(
    start_service, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    async with ledger_and_campaign(start_service) as (_, campaign):
        await campaign.live(earning("base", rate=rate()))
        before = {event.event_id for event in await ledger_events(database_url)}

        async def stream() -> AsyncIterator[campaign_pb2.IngestTransactionsRequest]:
            yield batch(
                "b1",
                [("t1", "ann", 2_000, MONDAY, "books"), ("t2", "bob", 3_000, MONDAY, "books")],
            )

        answers = [
            answer
            async for answer in campaign.stub.IngestTransactions(
                stream(), metadata=((REQUEST_ID_HEADER, "pos-batch-7"),)
            )
        ]
        assert [answer.batch_id for answer in answers] == ["b1"]
        posted = [
            event for event in await ledger_events(database_url) if event.event_id not in before
        ]
        assert posted, "the ingest posted nothing"
        assert {event.request_id for event in posted} == {"pos-batch-7"}
