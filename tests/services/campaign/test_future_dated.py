"""Purchases, returns and activities dated after campaign's time: a till's clock a few minutes
fast earns as before; one an hour or a year ahead is refused (RecordPurchase, RecordReturn,
RecordActivity) or its transaction rejected (IngestTransactions), and nothing of it is posted."""

import datetime as dt

import grpc
import pytest

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2
from loyalty.common.v1 import common_pb2
from services.campaign.app import CampaignConfig
from services.shared.config import ConfigError, load_config
from services.shared.interceptors import ERROR_FIELD_HEADER
from tests.services.campaign.support import (
    PROGRAM,
    available,
    batch,
    earning,
    engagement,
    eur,
    history,
    ledger_and_campaign,
    rate,
    ts,
)

POSTED = campaign_pb2.INGEST_ITEM_STATUS_POSTED
REJECTED = campaign_pb2.INGEST_ITEM_STATUS_REJECTED
PURCHASE = campaign_pb2.TRANSACTION_KIND_PURCHASE
RETURN = campaign_pb2.TRANSACTION_KIND_RETURN
REVIEW = common_pb2.ACTIVITY_KIND_REVIEW
MINUTE = dt.timedelta(minutes=1)
YEAR = dt.timedelta(days=365)
TOO_LATE = "must not be more than 15 minutes after the server's time"


@pytest.fixture
async def services(start_service):
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(earning("base", rate=rate()))
        await campaign.live(engagement("review", activity_kind=REVIEW, points=50))
        yield ledger, campaign


def refused_field(error: grpc.aio.AioRpcError) -> str:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
    return str(dict(error.trailing_metadata())[ERROR_FIELD_HEADER])


async def test_a_purchase_dated_after_the_allowance_is_refused(services) -> None:
    ledger, campaign = services
    now = dt.datetime.now(dt.UTC)
    for transaction_id, ahead in (("next-year", YEAR), ("an-hour", 61 * MINUTE)):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await campaign.purchase("ann", transaction_id, 10_000, at=now + ahead)
        assert refused_field(refused.value) == "occurred_at"
        assert refused.value.details() == f"occurred_at: {TOO_LATE}"
    assert await available(ledger, "ann") == 0
    # A till's clock minutes fast earns; so does a purchase of last year.
    fast = await campaign.purchase("ann", "fast-till", 2_000, at=now + 10 * MINUTE)
    old = await campaign.purchase("ann", "last-year", 3_000, at=now - YEAR)
    assert (fast.accrual.points, old.accrual.points) == (20, 30)
    assert [p.source_reference for p in await history(ledger, "ann")] == [
        "last-year",
        "fast-till",
    ]


async def test_a_return_dated_after_the_allowance_is_refused(services) -> None:
    ledger, campaign = services
    now = dt.datetime.now(dt.UTC)
    await campaign.purchase("ann", "t1", 10_000, at=now - MINUTE)

    async def give_back(return_id: str, at: dt.datetime) -> campaign_pb2.RecordReturnResponse:
        return await campaign.stub.RecordReturn(  # type: ignore[no-any-return]
            campaign_pb2.RecordReturnRequest(
                program_id=PROGRAM,
                idempotency_key=return_id,
                member_id="ann",
                return_id=return_id,
                original_transaction_id="t1",
                refunded_amount=eur(5_000),
                channel=common_pb2.CHANNEL_POS,
                occurred_at=ts(at),
            )
        )

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await give_back("r1", now + YEAR)
    assert refused_field(refused.value) == "occurred_at"
    assert await available(ledger, "ann") == 100
    assert (await give_back("r2", now + 5 * MINUTE)).reversed_points == 50
    assert await available(ledger, "ann") == 50


async def test_an_ingest_batch_rejects_only_its_transactions_dated_after_the_allowance(
    services,
) -> None:
    ledger, campaign = services
    now = dt.datetime.now(dt.UTC)
    [answer] = await campaign.ingest(
        batch(
            "b1",
            [
                ("t1", "ann", 10_000, now - dt.timedelta(days=20)),
                ("t2", "ann", 5_000, now + YEAR),
                ("t3", "bob", 2_000, now + 10 * MINUTE),
                ("t4", "cat", 4_000, now + 2 * dt.timedelta(hours=1)),
                ("r1", "ann", 5_000, now + dt.timedelta(days=1)),
            ],
            kinds=[PURCHASE, PURCHASE, PURCHASE, PURCHASE, RETURN],
            original_transaction_ids=["", "", "", "", "t1"],
        )
    )
    assert list(answer.statuses) == [POSTED, REJECTED, POSTED, REJECTED, REJECTED]
    assert list(answer.reason_codes) == [
        "",
        "occurred_at_in_future",
        "",
        "occurred_at_in_future",
        "occurred_at_in_future",
    ]
    assert answer.messages[1] == f"occurred_at_unix_micros: {TOO_LATE}"
    assert list(answer.points) == [100, 0, 20, 0, 0]
    # bob's points vest when his purchase's time has come (the return window is 0 here).
    assert (await ledger.balance("bob")).pending_points == 20
    assert {m: await available(ledger, m) for m in ("ann", "cat")} == {"ann": 100, "cat": 0}
    await ledger.assert_clean()


async def test_an_activity_dated_after_the_allowance_is_refused(services) -> None:
    ledger, campaign = services
    now = dt.datetime.now(dt.UTC)

    async def review(activity_id: str, at: dt.datetime) -> engagement_pb2.Activity:
        response = await campaign.stub.RecordActivity(
            campaign_pb2.RecordActivityRequest(
                program_id=PROGRAM,
                idempotency_key=activity_id,
                activity=engagement_pb2.Activity(
                    activity_id=activity_id,
                    member_id="ann",
                    kind=REVIEW,
                    channel=common_pb2.CHANNEL_WEBSHOP,
                    occurred_at=ts(at),
                ),
            )
        )
        return response.activity

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await review("rv1", now + YEAR)
    assert refused_field(refused.value) == "activity.occurred_at"
    assert refused.value.details() == f"activity.occurred_at: {TOO_LATE}"
    assert await available(ledger, "ann") == 0
    assert (await review("rv2", now + 10 * MINUTE)).points == 50
    assert (await ledger.balance("ann")).pending_points == 50


async def test_the_allowance_is_a_setting(start_service) -> None:
    environ = {"CAMPAIGN_DATABASE_URL": "postgresql://x", "CAMPAIGN_NATS_URL": "nats://x"}
    for bad in ("-1", "86400001"):
        with pytest.raises(ConfigError) as error:
            load_config(
                CampaignConfig,
                prefix="CAMPAIGN",
                environ={**environ, "CAMPAIGN_OCCURRED_AT_AHEAD_MAX_MS": bad},
            )
        assert error.value.variable == "CAMPAIGN_OCCURRED_AT_AHEAD_MAX_MS"
    async with ledger_and_campaign(start_service, occurred_at_ahead_max_ms=60_000) as (
        _,
        campaign,
    ):
        await campaign.live(earning("base", rate=rate()))
        now = dt.datetime.now(dt.UTC)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await campaign.purchase("ann", "t1", 1_000, at=now + 5 * MINUTE)
        assert refused.value.details() == (
            "occurred_at: must not be more than 1 minute after the server's time"
        )
        accepted = await campaign.purchase("ann", "t2", 1_000, at=now + 0.5 * MINUTE)
        assert accepted.accrual.points == 10
