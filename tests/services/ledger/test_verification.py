"""The liability report's expiry months on real PostgreSQL: points are reported in the month of
the program's time zone in which they can last be spent."""

import datetime as dt
import zoneinfo

import pytest

from loyalty.ledger.v1 import ledger_pb2
from services.ledger.app import SPEC, LedgerConfig
from tests.services.ledger.support import Ledger, ts

ZONE = zoneinfo.ZoneInfo("Europe/Amsterdam")


@pytest.fixture
async def ledger(start_service):
    async with start_service(SPEC, LedgerConfig) as (_, channel):
        client = Ledger(channel)
        # Points expire at the end of the year after the one they were earned in.
        await client.setup(
            expiry_policy=ledger_pb2.ExpiryPolicy(
                kind=ledger_pb2.EXPIRY_KIND_END_OF_CALENDAR_PERIOD,
                months=12,
                period=ledger_pb2.CALENDAR_PERIOD_YEAR,
            )
        )
        yield client
        await client.assert_clean()


async def test_points_expiring_at_the_end_of_a_month_are_that_months_liability(
    ledger: Ledger,
) -> None:
    this_year = dt.datetime.now(ZONE).year
    earned = await ledger.earn("ann", 100)
    # At midnight on 1 January local time: the end of next year.
    assert earned.lot.expires_at.ToDatetime(tzinfo=ZONE) == dt.datetime(
        this_year + 2, 1, 1, tzinfo=ZONE
    )
    # At the end of June (midnight on 1 July, summer time), and a second into 1 July.
    end_of_june = dt.datetime(this_year + 2, 7, 1, tzinfo=ZONE)
    await ledger.earn("bob", 20, expires_at=ts(end_of_june))
    await ledger.earn("bob", 3, expires_at=ts(end_of_june + dt.timedelta(seconds=1)))
    report = await ledger.stub.GetLiabilityReport(
        ledger_pb2.GetLiabilityReportRequest(program_id="acme")
    )
    assert [(r.expiry_year, r.expiry_month, r.vested_points) for r in report.rows] == [
        (this_year + 1, 12, 100),
        (this_year + 2, 6, 20),
        (this_year + 2, 7, 3),
    ]
