"""A lot's instants on the program's calendar at its edges, against the real ledger: months
lacking the day a lot was earned on, return windows across a change of the clocks, and dates
outside the calendar's years, through Earn and PostBatch alike."""

import datetime as dt
from zoneinfo import ZoneInfo

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.ledger.app import SPEC, LedgerConfig
from services.shared.interceptors import ERROR_FIELD_HEADER
from services.shared.timestamps import unix_micros
from tests.services.ledger.support import Ledger, batch, key, post, ts

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def amsterdam(*fields: int) -> dt.datetime:
    return dt.datetime(*fields, tzinfo=AMSTERDAM).astimezone(dt.UTC)


async def lot_of(ledger: Ledger, member: str, occurred: dt.datetime, *, bulk: bool):
    """The lot of one earn of `member` at `occurred`, through Earn or PostBatch."""
    if not bulk:
        return (await ledger.earn(member, 10, vested=False, occurred_at=ts(occurred))).lot
    request = batch(
        f"batch-{member}",
        [(member, 10, common_pb2.POSTING_KIND_EARN, key())],
        occurred_at_unix_micros=[unix_micros(occurred)],
    )
    [answer] = await post(ledger, request)
    assert answer.posted_count == 1, answer
    lots = await ledger.stub.ListLots(
        ledger_pb2.ListLotsRequest(program_id=ledger.program_id, member_id=member)
    )
    [lot] = lots.lots
    return lot


@pytest.mark.parametrize("bulk", [False, True], ids=["earn", "post_batch"])
async def test_rolling_months_onto_a_day_the_month_lacks_end_with_that_month(
    start_service, bulk: bool
) -> None:
    """A month after 29, 30 or 31 January of a year without 29 February is the end of February
    (local midnight on 1 March, as for expiry by inactivity), whatever the time of day: lots
    were clamped to 28 February at their own time of day, so one earned on 31 January at 10:00
    expired 13 hours before one earned on 30 January at 23:00."""
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (_, channel):
        ledger = Ledger(channel)
        await ledger.setup(
            expiry_policy=ledger_pb2.ExpiryPolicy(
                kind=ledger_pb2.EXPIRY_KIND_ROLLING_MONTHS, months=1
            )
        )
        expected = {
            amsterdam(2026, 1, 29, 8, 0): amsterdam(2026, 3, 1),
            amsterdam(2026, 1, 30, 23, 0): amsterdam(2026, 3, 1),
            amsterdam(2026, 1, 31, 10, 0): amsterdam(2026, 3, 1),
            # A day the later month has keeps the time of day.
            amsterdam(2026, 1, 28, 10, 0): amsterdam(2026, 2, 28, 10, 0),
            amsterdam(2026, 2, 28, 10, 0): amsterdam(2026, 3, 28, 10, 0),
            # Across the change of the clocks (29 March): the same wall-clock time.
            amsterdam(2026, 3, 10, 12, 30): amsterdam(2026, 4, 10, 12, 30),
            amsterdam(2026, 3, 31, 12, 30): amsterdam(2026, 5, 1),
            # A leap year's February has the 29th.
            amsterdam(2024, 1, 29, 9, 15): amsterdam(2024, 2, 29, 9, 15),
            amsterdam(2024, 1, 30, 9, 15): amsterdam(2024, 3, 1),
        }
        for index, (occurred, expires) in enumerate(expected.items()):
            lot = await lot_of(ledger, f"m{index}", occurred, bulk=bulk)
            got = lot.expires_at.ToDatetime(tzinfo=dt.UTC)
            assert got == expires, (occurred.astimezone(AMSTERDAM), got.astimezone(AMSTERDAM))
        await ledger.assert_clean()


async def test_twelve_months_after_29_february_end_with_february(start_service) -> None:
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (_, channel):
        ledger = Ledger(channel)
        await ledger.setup(
            expiry_policy=ledger_pb2.ExpiryPolicy(
                kind=ledger_pb2.EXPIRY_KIND_ROLLING_MONTHS, months=12
            )
        )
        lot = await lot_of(ledger, "leap", amsterdam(2024, 2, 29, 18, 0), bulk=False)
        assert lot.expires_at.ToDatetime(tzinfo=dt.UTC) == amsterdam(2025, 3, 1)
        lot = await lot_of(ledger, "leap-bulk", amsterdam(2024, 2, 29, 18, 0), bulk=True)
        assert lot.expires_at.ToDatetime(tzinfo=dt.UTC) == amsterdam(2025, 3, 1)


@pytest.mark.parametrize("bulk", [False, True], ids=["earn", "post_batch"])
async def test_the_return_window_ends_at_the_same_local_time_across_a_change_of_the_clocks(
    start_service, bulk: bool
) -> None:
    """14 days after 14:00 is 14:00, in summer or winter time: points vested after 14 x 24 hours,
    so a purchase of 20 October vested at 13:00 on 3 November (its points spendable while the
    shop still took the return) and one of 20 March at 15:00 on 3 April."""
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (_, channel):
        ledger = Ledger(channel)
        await ledger.setup(return_window_days=14)
        expected = {
            amsterdam(2026, 10, 20, 14, 0): amsterdam(2026, 11, 3, 14, 0),
            amsterdam(2026, 3, 20, 14, 0): amsterdam(2026, 4, 3, 14, 0),
            # Within one offset: 14 x 24 hours, as before.
            amsterdam(2026, 6, 1, 9, 45): amsterdam(2026, 6, 15, 9, 45),
            # 02:30 on 29 March does not exist: read with winter time's offset, as expiries are.
            amsterdam(2026, 3, 15, 2, 30): dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC),
        }
        for index, (occurred, vests) in enumerate(expected.items()):
            lot = await lot_of(ledger, f"v{index}", occurred, bulk=bulk)
            got = lot.vests_at.ToDatetime(tzinfo=dt.UTC)
            assert got == vests, (occurred.astimezone(AMSTERDAM), got.astimezone(AMSTERDAM))
        await ledger.assert_clean()


async def test_dates_before_1970_are_refused_and_a_batch_posts_its_other_items(
    start_service,
) -> None:
    """An earn dated before 1970 (the start of ledger_core's calendar) is INVALID_ARGUMENT on
    occurred_at. A date in year 1 had no local date in New York (its local time falls in year 0),
    so Earn answered INTERNAL and PostBatch failed the whole stream."""
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (_, channel):
        ledger = Ledger(channel)
        await ledger.setup(time_zone="America/New_York")
        year_one = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
        for moment in (year_one, dt.datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=dt.UTC)):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await ledger.earn("ann", 10, occurred_at=ts(moment))
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, moment
            assert dict(refused.value.trailing_metadata())[ERROR_FIELD_HEADER] == "occurred_at"
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        posted = await ledger.earn("ann", 10, occurred_at=ts(epoch))
        assert posted.posting.occurred_at.ToDatetime(tzinfo=dt.UTC) == epoch

        request = batch(
            "old",
            [
                ("bob", 10, common_pb2.POSTING_KIND_EARN, key()),
                ("bob", 20, common_pb2.POSTING_KIND_EARN, key()),
            ],
            occurred_at_unix_micros=[unix_micros(year_one), unix_micros(amsterdam(2026, 1, 5))],
        )
        [answer] = await post(ledger, request)
        assert list(answer.statuses) == [
            ledger_pb2.ITEM_STATUS_REJECTED,
            ledger_pb2.ITEM_STATUS_POSTED,
        ]
        assert answer.reject_reasons[0] == ledger_pb2.REJECT_REASON_INVALID_ITEM
        assert answer.messages[0].startswith("occurred_at_unix_micros:")
        assert (await ledger.balance("bob")).available_points + (
            await ledger.balance("bob")
        ).pending_points == 20
        await ledger.assert_clean()


# The last instant a Timestamp holds, which clients send to mean "never".
LAST_TIMESTAMP = Timestamp(seconds=253_402_300_799, nanos=999_999_999)


async def test_vesting_and_expiry_given_outside_the_calendars_years_are_refused(
    start_service,
) -> None:
    """An expires_at (or vests_at) of the last instant of year 9999, or of year 1, was stored as
    PostgreSQL's infinity (asyncpg's reading of datetime.max and min), read back without a time
    zone, and every GetBalance of the member was INTERNAL from then on. Earn refuses such a
    vesting or expiry on its field, PostBatch rejects the item; 2099's last second still posts."""
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (_, channel):
        ledger = Ledger(channel)
        await ledger.setup()
        year_one = ts(dt.datetime(1, 1, 1, tzinfo=dt.UTC))
        for field, value in (
            ("expires_at", LAST_TIMESTAMP),
            ("vests_at", LAST_TIMESTAMP),
            ("expires_at", year_one),
            ("vests_at", year_one),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await ledger.stub.Earn(
                    ledger_pb2.EarnRequest(
                        program_id=ledger.program_id,
                        idempotency_key=key(),
                        member_id="ann",
                        points=10,
                        **{field: value},
                    )
                )
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
            assert dict(refused.value.trailing_metadata())[ERROR_FIELD_HEADER] == field
        last_second = ts(dt.datetime(2099, 12, 31, 23, 59, 59, tzinfo=dt.UTC))
        await ledger.earn("ann", 10, expires_at=last_second)
        assert (await ledger.balance("ann")).available_points == 10

        last_micros = LAST_TIMESTAMP.seconds * 1_000_000 + 999_999
        request = batch(
            "far",
            [("bob", 10, common_pb2.POSTING_KIND_EARN, key()) for _ in range(3)],
            expires_at_unix_micros=[last_micros, 0, 0],
            vests_at_unix_micros=[0, last_micros, 0],
        )
        [answer] = await post(ledger, request)
        assert list(answer.statuses) == [
            ledger_pb2.ITEM_STATUS_REJECTED,
            ledger_pb2.ITEM_STATUS_REJECTED,
            ledger_pb2.ITEM_STATUS_POSTED,
        ]
        assert [message.split(":")[0] for message in answer.messages[:2]] == [
            "expires_at_unix_micros",
            "vests_at_unix_micros",
        ]
        balance = await ledger.balance("bob")
        assert balance.available_points + balance.pending_points == 10
        await ledger.assert_clean()
