"""RecordPurchase calls arriving together are written in groups (grouped_purchases.py): each is
still answered as if it had run alone, retries, duplicates, reused keys and reused transaction ids
included, and the points reach the ledger once."""

import asyncio
import datetime as dt

import asyncpg
import grpc
import pytest

from loyalty.campaign.v1 import campaign_pb2
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from services.shared.interceptors import ERROR_REASON_HEADER, REQUEST_ID_HEADER
from tests.services.campaign.support import (
    PROGRAM,
    available,
    earning,
    eur,
    ledger_and_campaign,
    ledger_postings,
    rate,
    ts,
)

FIRST = 40
SECOND = 20
EARN = common_pb2.POSTING_KIND_EARN
AT = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


def purchase(
    member: str, transaction_id: str, amount_minor: int, *, key: str = "", timed: bool = True
) -> campaign_pb2.RecordPurchaseRequest:
    request = campaign_pb2.RecordPurchaseRequest(
        program_id=PROGRAM,
        idempotency_key=key or f"k-{transaction_id}",
        member_id=member,
        transaction_id=transaction_id,
        amount=eur(amount_minor),
        channel=common_pb2.CHANNEL_POS,
    )
    if timed:
        request.occurred_at.CopyFrom(ts(AT))
    return request


async def outbox_events(database_url: str, schema: str) -> list[events_pb2.Event]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(f"SELECT payload FROM {schema}.outbox ORDER BY seq")
    finally:
        await connection.close()
    return [events_pb2.Event.FromString(row["payload"]) for row in rows]


async def outcome(call):  # type: ignore[no-untyped-def]
    """The answer, or (status, reason) of the refusal."""
    try:
        return await call
    except grpc.aio.AioRpcError as error:
        return error.code(), dict(error.trailing_metadata() or ()).get(ERROR_REASON_HEADER, "")


async def test_purchases_recorded_together_are_each_answered_as_if_alone(
    start_service, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(earning("base", rate=rate(points=1, per_amount_minor=100)))
        record = campaign.stub.RecordPurchase
        # Every other purchase without occurred_at: the ledger then stamps the earn itself.
        first = [purchase(f"m{i}", f"t{i}", (i + 1) * 100, timed=i % 2 == 0) for i in range(FIRST)]
        answers = await asyncio.gather(
            *(
                record(request, metadata=((REQUEST_ID_HEADER, f"r-{i}"),))
                for i, request in enumerate(first)
            )
        )
        for i, answer in enumerate(answers):
            assert answer.accrual.points == i + 1 and not answer.duplicate
            assert answer.accrual.posting_id and answer.accrual.applications[0].rule_id
        assert len({answer.accrual.posting_id for answer in answers}) == FIRST
        # Each call's events carry its own request id: campaign's PurchaseRecorded, and the
        # ledger's PointsPosted of its earn (each member has one so far).
        recorded = {
            event.purchase_recorded.transaction_id: event.request_id
            for event in await outbox_events(database_url, "campaign")
            if event.HasField("purchase_recorded")
        }
        posted = {
            event.points_posted.member_ids[0]: event.request_id
            for event in await outbox_events(database_url, "ledger")
            if event.HasField("points_posted")
        }
        for i in range(FIRST):
            assert recorded[f"t{i}"] == f"r-{i}"
            assert posted[f"m{i}"] == f"r-{i}"

        retried = [first[i] for i in range(0, 10)]
        duplicates = [
            purchase(f"m{i}", f"t{i}", (i + 1) * 100, key=f"again-{i}") for i in range(10, 15)
        ]
        reused_ids = [purchase(f"m{i}", f"t{i}", 7_700, key=f"other-{i}") for i in range(15, 20)]
        reused_keys = [purchase(f"n{i}", f"u{i}", 100, key=f"k-t{i}") for i in range(20, 25)]
        fresh = [purchase(f"n{i}", f"v{i}", 300, timed=i % 2 == 0) for i in range(SECOND)]
        second = retried + duplicates + reused_ids + reused_keys + fresh
        results = await asyncio.gather(*(outcome(record(request)) for request in second))
        by_kind = iter(results)
        for i, result in zip(range(0, 10), by_kind, strict=False):
            assert result == answers[i]  # the first answer, replayed
        for i, result in zip(range(10, 15), by_kind, strict=False):
            assert result.duplicate and result.accrual.points == i + 1
        for _, result in zip(range(15, 20), by_kind, strict=False):
            assert result == (grpc.StatusCode.FAILED_PRECONDITION, "FAILED_PRECONDITION")
        for _, result in zip(range(20, 25), by_kind, strict=False):
            assert result == (grpc.StatusCode.FAILED_PRECONDITION, "IDEMPOTENCY_KEY_REUSED")
        for result in by_kind:
            assert result.accrual.points == 3 and not result.duplicate

        # A refused purchase left nothing behind, its key included: its retry is refused again,
        # and the same key with the purchase corrected is a new request.
        again = await outcome(record(reused_ids[0]))
        assert again == (grpc.StatusCode.FAILED_PRECONDITION, "FAILED_PRECONDITION")
        corrected = purchase("m15", "t15b", 500, key="other-15")
        assert (await record(corrected)).accrual.points == 5

        for i in range(FIRST):
            extra = 5 if i == 15 else 0
            assert await available(ledger, f"m{i}") == i + 1 + extra
            earns = [p for p in await ledger_postings(database_url, f"m{i}") if p[0] == EARN]
            assert len(earns) == (2 if i == 15 else 1)
        for i in range(SECOND):
            assert await available(ledger, f"n{i}") == 3


async def test_a_purchase_the_ledger_refuses_fails_alone_and_the_others_are_recorded(
    start_service, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    """The ledger refuses the earn of a member merged into another (their account is closed);
    the group is rolled back and each call written alone, so only that purchase fails, and
    campaign keeps nothing of it."""
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(earning("base", rate=rate(points=1, per_amount_minor=100)))
        await ledger.earn("p3", 5)
        # What the ledger does on identity's merge event (services/ledger/consumers.py).
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute(
                "UPDATE ledger.member_accounts SET closed_into = 'q3' "
                "WHERE program_id = $1 AND member_id = 'p3'",
                PROGRAM,
            )
        finally:
            await connection.close()
        record = campaign.stub.RecordPurchase
        requests = [purchase(f"p{i}", f"x{i}", 1_000) for i in range(8)]
        results = await asyncio.gather(*(outcome(record(request)) for request in requests))
        for i, result in enumerate(results):
            if i == 3:
                assert result[0] == grpc.StatusCode.FAILED_PRECONDITION
            else:
                assert result.accrual.points == 10
                assert await available(ledger, f"p{i}") == 10
        connection = await asyncpg.connect(database_url)
        try:
            recorded = await connection.fetch(
                "SELECT member_id FROM campaign.transactions WHERE program_id = $1 ORDER BY 1",
                PROGRAM,
            )
        finally:
            await connection.close()
        assert [row["member_id"] for row in recorded] == [f"p{i}" for i in range(8) if i != 3]


async def test_a_purchase_without_a_valid_idempotency_key_is_refused_naming_it(
    start_service,
) -> None:  # type: ignore[no-untyped-def]
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(earning("base", rate=rate(points=1, per_amount_minor=100)))
        for bad in ("", "k" * 1_000):
            request = purchase("m1", "t1", 1_000)
            request.idempotency_key = bad
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await campaign.stub.RecordPurchase(request)
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "idempotency_key" in (error.value.details() or "")
        assert await available(ledger, "m1") == 0
