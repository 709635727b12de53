"""A client's retry after campaign lost its transaction once the ledger had posted the points (the
database restarted under it): the same request with the same key ends with the points once.

The loss is made deterministic: a test transaction holds what campaign writes after posting to the
ledger (the activity's row, or the outbox for a purchase's event), so campaign posts and then
waits; its connection is then terminated, as a restart of PostgreSQL would.
"""

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable

import asyncpg
import grpc
import pytest
from google.protobuf.message import Message

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2
from loyalty.common.v1 import common_pb2
from tests.services.campaign.support import (
    PROGRAM,
    available,
    earning,
    engagement,
    eur,
    ledger_and_campaign,
    ledger_postings,
    rate,
    ts,
)

CHECK_IN = common_pb2.ACTIVITY_KIND_STORE_CHECK_IN
REWARDED = engagement_pb2.ACTIVITY_OUTCOME_REWARDED
EARN = common_pb2.POSTING_KIND_EARN
MEMBER = "m-retry"
REFERENCE = "ref-1"


class RetryRefusedByTheLedger(Exception):
    """The retry was refused because the ledger saw another request under the earn's key."""


@pytest.fixture
async def services(start_service):  # type: ignore[no-untyped-def]
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(engagement("check-in", activity_kind=CHECK_IN, points=40))
        await campaign.live(earning("base", rate=rate(points=1, per_amount_minor=100)))
        yield ledger, campaign


async def hold_activity_row(blocker: asyncpg.Connection) -> str:
    await blocker.execute(
        "INSERT INTO campaign.activities (program_id, member_id, activity_id, kind, "
        "occurred_at, verification_state, outcome, definition) "
        "VALUES ($1, $2, $3, $4, now(), 0, 0, '')",
        PROGRAM,
        MEMBER,
        REFERENCE,
        CHECK_IN,
    )
    return "INSERT INTO activities"


async def hold_outbox(blocker: asyncpg.Connection) -> str:
    await blocker.execute("LOCK TABLE campaign.outbox IN ACCESS EXCLUSIVE MODE")
    return "INSERT INTO outbox"


async def lose_transaction_after_ledger_post(
    database_url: str,
    hold: Callable[[asyncpg.Connection], Awaitable[str]],
    call: Callable[[], Awaitable[Message]],
) -> None:
    blocker = await asyncpg.connect(database_url)
    # Another connection watches: statistics read in a transaction are a snapshot.
    watcher = await asyncpg.connect(database_url)
    try:
        held = blocker.transaction()
        await held.start()
        statement = await hold(blocker)
        pending = asyncio.ensure_future(call())
        for _ in range(200):
            terminated = await watcher.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = 'loyalty-campaign' "
                "AND wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%'",
                statement,
            )
            if terminated:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"campaign never waited at {statement}")
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await pending
        assert error.value.code() == grpc.StatusCode.UNAVAILABLE
        await held.rollback()
    finally:
        await watcher.close()
        await blocker.close()


def activity_request(with_time: bool) -> campaign_pb2.RecordActivityRequest:
    activity = engagement_pb2.Activity(
        activity_id=REFERENCE, member_id=MEMBER, kind=CHECK_IN, channel=common_pb2.CHANNEL_APP
    )
    if with_time:
        activity.occurred_at.CopyFrom(ts(dt.datetime.now(dt.UTC)))
    return campaign_pb2.RecordActivityRequest(
        program_id=PROGRAM, idempotency_key=f"key-{REFERENCE}", activity=activity
    )


def purchase_request(with_time: bool) -> campaign_pb2.RecordPurchaseRequest:
    request = campaign_pb2.RecordPurchaseRequest(
        program_id=PROGRAM,
        idempotency_key=f"key-{REFERENCE}",
        member_id=MEMBER,
        transaction_id=REFERENCE,
        amount=eur(4_000),
        channel=common_pb2.CHANNEL_POS,
    )
    if with_time:
        request.occurred_at.CopyFrom(ts(dt.datetime.now(dt.UTC)))
    return request


@pytest.mark.parametrize(
    ("kind", "with_time"),
    [
        pytest.param("activity", True, id="activity-with-occurred_at"),
        pytest.param("purchase", True, id="purchase-with-occurred_at"),
        pytest.param("activity", False, id="activity-without-occurred_at"),
        pytest.param("purchase", False, id="purchase-without-occurred_at"),
    ],
)
async def test_a_retry_after_a_lost_transaction_posts_the_points_once(
    services, database_url: str, kind: str, with_time: bool
) -> None:  # type: ignore[no-untyped-def]
    ledger, campaign = services
    if kind == "activity":
        request: Message = activity_request(with_time)
        send, hold, points = campaign.stub.RecordActivity, hold_activity_row, 40
    else:
        request = purchase_request(with_time)
        send, hold, points = campaign.stub.RecordPurchase, hold_outbox, 40

    async def record() -> Message:
        return await send(request, timeout=10)  # type: ignore[no-any-return]

    await lose_transaction_after_ledger_post(database_url, hold, record)
    assert await available(ledger, MEMBER) == points  # posted by the lost attempt

    try:
        retried = await record()
    except grpc.aio.AioRpcError as error:
        if "already used for a different request" in (error.details() or ""):
            raise RetryRefusedByTheLedger(error.details()) from error
        raise
    if kind == "activity":
        assert retried.activity.outcome == REWARDED and retried.activity.points == points
    else:
        assert retried.accrual.points == points and not retried.duplicate
    earns = [p for p in await ledger_postings(database_url, MEMBER) if p[0] == EARN]
    assert [(amount, reference) for _, amount, reference, _ in earns] == [(points, REFERENCE)]
    assert await available(ledger, MEMBER) == points
