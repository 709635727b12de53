"""Postings dated after the ledger's time: a till's clock a few minutes fast posts, a clock an
hour or a year ahead is refused (Earn) or its item rejected (PostBatch), as such a lot would stay
pending, qualify and expire by a time that has not come."""

import datetime as dt

import grpc
import pytest

from loyalty.ledger.v1 import ledger_pb2
from services.ledger.app import SPEC, LedgerConfig
from services.shared.config import ConfigError, load_config
from services.shared.interceptors import ERROR_FIELD_HEADER
from services.shared.timestamps import unix_micros as micros
from tests.services.ledger.support import Ledger, batch, post, ts

EARN, REDEEM = 1, 2
POSTED, REJECTED = 1, 3
FUTURE = ledger_pb2.REJECT_REASON_OCCURRED_AT_IN_FUTURE
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
async def ledger(start_service):
    async with start_service(SPEC, LedgerConfig) as (_, channel):
        client = Ledger(channel)
        await client.setup(return_window_days=30)
        yield client
        await client.assert_clean()


async def test_an_earn_dated_after_the_allowance_is_refused_naming_occurred_at(
    ledger: Ledger,
) -> None:
    now = dt.datetime.now(dt.UTC)
    for ahead in (dt.timedelta(days=365), 16 * MINUTE):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await ledger.earn("ann", 100, vested=False, occurred_at=ts(now + ahead))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert dict(refused.value.trailing_metadata())[ERROR_FIELD_HEADER] == "occurred_at"
        assert refused.value.details() == (
            "occurred_at: must not be more than 15 minutes after the server's time"
        )
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await ledger.balance("ann")
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND  # nothing was posted
    # A till's clock minutes fast, and a purchase of last year, post as before.
    fast = await ledger.earn("ann", 100, vested=False, occurred_at=ts(now + 10 * MINUTE))
    assert fast.lot.earned_at.ToMicroseconds() == micros(now + 10 * MINUTE)
    await ledger.earn("ann", 50, occurred_at=ts(now - dt.timedelta(days=300)))
    assert (await ledger.balance("ann")).lifetime_earned_points == 150


async def test_a_batch_rejects_only_its_items_dated_after_the_allowance(ledger: Ledger) -> None:
    now = dt.datetime.now(dt.UTC)
    [answer] = await post(
        ledger,
        batch(
            "b1",
            [
                ("ann", 100, EARN, "i1"),
                ("bob", 10, EARN, "i2"),
                ("ann", 20, EARN, "i3"),
                ("cat", 30, EARN, "i4"),
                ("ann", 5, REDEEM, "i5"),
            ],
            occurred_at_unix_micros=[
                micros(now - dt.timedelta(days=20)),
                micros(now + dt.timedelta(days=365)),
                micros(now + 10 * MINUTE),
                micros(now + 2 * dt.timedelta(hours=1)),
                micros(now + dt.timedelta(days=2)),
            ],
            vests_at_unix_micros=[micros(now - MINUTE)] * 5,
        ),
    )
    assert list(answer.statuses) == [POSTED, REJECTED, POSTED, REJECTED, REJECTED]
    assert list(answer.reject_reasons) == [0, FUTURE, 0, FUTURE, FUTURE]
    assert answer.messages[1] == (
        "occurred_at_unix_micros: must not be more than 15 minutes after the server's time"
    )
    assert (answer.posted_count, answer.rejected_count, answer.earned_points_total) == (2, 3, 120)
    assert (await ledger.balance("ann")).available_points == 120
    for member in ("bob", "cat"):
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await ledger.balance(member)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_the_allowance_is_a_setting(start_service) -> None:
    with pytest.raises(ConfigError) as bad:
        load_config(
            LedgerConfig,
            prefix="LEDGER",
            environ={
                "LEDGER_DATABASE_URL": "postgresql://x",
                "LEDGER_NATS_URL": "nats://x",
                "LEDGER_OCCURRED_AT_AHEAD_MAX_MS": "-1",
            },
        )
    assert bad.value.variable == "LEDGER_OCCURRED_AT_AHEAD_MAX_MS"
    async with start_service(SPEC, LedgerConfig, occurred_at_ahead_max_ms=60_000) as (_, channel):
        ledger = Ledger(channel)
        await ledger.setup(return_window_days=0)
        now = dt.datetime.now(dt.UTC)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await ledger.earn("ann", 100, occurred_at=ts(now + 2 * MINUTE))
        assert refused.value.details() == (
            "occurred_at: must not be more than 1 minute after the server's time"
        )
        await ledger.earn("ann", 100, occurred_at=ts(now + 30 * dt.timedelta(seconds=1)))
        await ledger.assert_clean()
